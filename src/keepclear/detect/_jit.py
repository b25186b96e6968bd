"""A typed front for numba's ``njit`` so that mypy --strict keeps the signatures of jitted functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba

F = TypeVar("F", bound=Callable[..., Any])


def jit(fn: F) -> F:
    """Compile ``fn`` with numba in nopython mode, cached on disk so a second process starts fast."""
    return cast(F, numba.njit(cache=True, nogil=True)(fn))
