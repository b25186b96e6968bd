"""3D Morton codes of grid cell indices, and the order of units by the code of their start cell.

A Morton code interleaves the bits of a cell's three indices, so cells near in space are near in
the code: sorting by it is what makes the grid's passes stream through memory instead of hopping.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from keepclear.detect._jit import jit
from keepclear.detect.radix import radix_sort, radix_sort_field

IntArray = npt.NDArray[np.int64]


@jit
def spread3(v: int) -> int:
    """Spread the low 21 bits of ``v`` to every third bit (for a 3D Morton code)."""
    v &= 0x1FFFFF
    v = (v | (v << 32)) & 0x1F00000000FFFF
    v = (v | (v << 16)) & 0x1F0000FF0000FF
    v = (v | (v << 8)) & 0x100F00F00F00F00F
    v = (v | (v << 4)) & 0x10C30C30C30C30C3
    v = (v | (v << 2)) & 0x1249249249249249
    return v


@jit
def compact3(v: int) -> int:
    """Inverse of ``spread3``: every third bit of ``v`` gathered into the low 21 bits."""
    v &= 0x1249249249249249
    v = (v | (v >> 2)) & 0x10C30C30C30C30C3
    v = (v | (v >> 4)) & 0x100F00F00F00F00F
    v = (v | (v >> 8)) & 0x1F0000FF0000FF
    v = (v | (v >> 16)) & 0x1F00000000FFFF
    v = (v | (v >> 32)) & 0x1FFFFF
    return v


@jit
def morton3(x: int, y: int, z: int) -> int:
    """The 3D Morton code of a non-negative cell index triple."""
    return spread3(x) | (spread3(y) << 1) | (spread3(z) << 2)


@jit
def morton_order(start: IntArray, words: IntArray, tmp: IntArray) -> IntArray:
    """The order of units by the Morton code of their start cells (``start`` is ``(3, n)``),
    ties by index; ``words`` and ``tmp`` are buffers of ``n``. Code and index go into one word
    when they fit, so the sort moves half the bytes."""
    n = start.shape[1]
    bits = 1
    span = 0
    for ax in range(3):
        lo = start[ax].min() if n else 0
        for k in range(n):
            start[ax, k] -= lo
        span = max(span, start[ax].max() if n else 0)
    while (1 << bits) <= span:
        bits += 1
    unit_bits = 1
    while (1 << unit_bits) < n:
        unit_bits += 1
    if 3 * bits + unit_bits <= 63:
        for k in range(n):
            words[k] = (morton3(start[0, k], start[1, k], start[2, k]) << unit_bits) | k
        words = radix_sort_field(words, tmp, unit_bits, 3 * bits)
        for k in range(n):
            words[k] &= (1 << unit_bits) - 1
        return words
    index = np.arange(n)
    for k in range(n):
        words[k] = morton3(start[0, k], start[1, k], start[2, k])
    return radix_sort(words, index, tmp, np.empty(n, dtype=np.int64), 3 * bits)[1]
