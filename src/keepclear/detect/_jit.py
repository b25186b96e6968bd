"""A typed front for numba's ``njit`` so that mypy --strict keeps the signatures of jitted functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba

F = TypeVar("F", bound=Callable[..., Any])


def jit(fn: F) -> F:
    """Compile ``fn`` with numba in nopython mode, cached on disk so a second process starts fast."""
    return cast(F, numba.njit(cache=True, nogil=True)(fn))


def jit_simd(fn: F) -> F:
    """Like ``jit``, with numpy's error model: a float division by zero gives inf instead of raising.

    Only for kernels whose divisions are guarded by hand: without a hidden raise branch per division,
    LLVM can vectorize their inner loops.
    """
    return cast(F, numba.njit(cache=True, nogil=True, error_model="numpy")(fn))
