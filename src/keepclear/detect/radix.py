"""Stable LSD radix sorts of non-negative int64 keys, compiled: how the grid orders its entries
and its units.

At most 12 bits a pass and one counting sweep for all passes; a pass whose digit is the same for
every key is skipped. ``radix_sort`` carries a payload array along; ``radix_sort_field`` sorts
words by a field of their bits alone, the rest riding along (half the memory traffic).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from keepclear.detect._jit import jit

IntArray = npt.NDArray[np.int64]


@jit
def _digit_counts(words: IntArray, lo_bit: int, key_bits: int) -> tuple[IntArray, int, int]:
    """The digit histograms of an LSD radix sort by bits ``[lo_bit, lo_bit + key_bits)``: at most 12
    bits a pass, all passes counted in one sweep; row ``p`` counts digit ``d`` at ``d + 1``.
    Returns the counts, the digit width and its mask."""
    passes = max(1, (key_bits + 11) // 12)
    width = (key_bits + passes - 1) // passes
    mask = (1 << width) - 1
    counts = np.zeros((passes, mask + 2), dtype=np.int64)
    for i in range(words.shape[0]):
        k = words[i] >> lo_bit
        for ps in range(passes):
            counts[ps, ((k >> (ps * width)) & mask) + 1] += 1
    return counts, width, mask


@jit
def radix_sort(
    keys: IntArray, payload: IntArray, tmp_k: IntArray, tmp_p: IntArray, key_bits: int
) -> tuple[IntArray, IntArray]:
    """Sort non-negative ``keys`` below ``2**key_bits`` and carry ``payload`` along (stable LSD
    radix, at most 12 bits a pass, one counting sweep for all passes). All four arrays are used as
    buffers; returns the two that hold the result.
    """
    n = keys.shape[0]
    counts, width, mask = _digit_counts(keys, 0, key_bits)
    passes = counts.shape[0]
    cur_k, cur_p = keys, payload
    for ps in range(passes):
        shift = ps * width
        c = counts[ps]
        if n == 0 or c[1 + ((cur_k[0] >> shift) & mask)] == n:
            continue  # every key has the same digit here: the order stays
        for b in range(mask + 1):
            c[b + 1] += c[b]
        for i in range(n):
            k = cur_k[i]
            digit = (k >> shift) & mask
            d = c[digit]
            c[digit] = d + 1
            tmp_k[d] = k
            tmp_p[d] = cur_p[i]
        cur_k, tmp_k = tmp_k, cur_k
        cur_p, tmp_p = tmp_p, cur_p
    return cur_k, cur_p


@jit
def radix_sort_field(words: IntArray, tmp: IntArray, lo_bit: int, key_bits: int) -> IntArray:
    """Sort non-negative ``words`` by bits ``[lo_bit, lo_bit + key_bits)`` alone, stable (so the
    low bits ride along as a payload); like ``radix_sort`` with half the memory traffic. Both
    arrays are used as buffers; returns the one that holds the result."""
    n = words.shape[0]
    counts, width, mask = _digit_counts(words, lo_bit, key_bits)
    passes = counts.shape[0]
    cur, other = words, tmp
    for ps in range(passes):
        shift = lo_bit + ps * width
        c = counts[ps]
        if n == 0 or c[1 + ((cur[0] >> shift) & mask)] == n:
            continue  # every key has the same digit here: the order stays
        for b in range(mask + 1):
            c[b + 1] += c[b]
        for i in range(n):
            w = cur[i]
            digit = (w >> shift) & mask
            d = c[digit]
            c[digit] = d + 1
            other[d] = w
        cur, other = other, cur
    return cur
