"""A typed front for numba's ``njit`` so that mypy --strict keeps the signatures of jitted functions."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import numba
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from keepclear.detect.kernel_cache import clear_stale, kernel_sources, numba_cache_dir

F = TypeVar("F", bound=Callable[..., Any])


@functools.cache
def _cache_checked() -> None:
    """Once a process, before the first kernel is declared: drop the cached kernels when the sources
    they may read changed since they were compiled (``kernel_cache``)."""
    cache_dir = numba_cache_dir(Path(__file__).resolve())
    if cache_dir is not None:
        clear_stale(cache_dir, kernel_sources())


def jit(fn: F) -> F:
    """Compile ``fn`` with numba in nopython mode, cached on disk so a second process starts fast."""
    _cache_checked()
    return cast(F, numba.njit(cache=True, nogil=True)(fn))


def jit_simd(fn: F) -> F:
    """Like ``jit``, with numpy's error model: a float division by zero gives inf instead of raising.

    Only for kernels whose divisions are guarded by hand: without a hidden raise branch per division,
    LLVM can vectorize their inner loops.
    """
    _cache_checked()
    return cast(F, numba.njit(cache=True, nogil=True, error_model="numpy")(fn))


def _prefetch_typer(typingctx: Any, arr: Any, i: Any, j: Any) -> Any:
    """Numba typing and code for ``prefetch``: ``llvm.prefetch`` of ``&arr[i, j]`` (``&arr[i]`` for a
    1D array; read, keep in cache)."""
    if not isinstance(arr, types.Array) or arr.ndim not in (1, 2):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        cg: Any = cgutils  # untyped module
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        shape = cg.unpack_tuple(builder, ary.shape)
        strides = cg.unpack_tuple(builder, ary.strides)
        index = [args[1], args[2]][: aryty.ndim]
        ptr = cg.get_item_pointer2(context, builder, ary.data, shape, strides, aryty.layout, index, wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fn = cg.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]), "llvm.prefetch.p0i8"
        )
        builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.void(arr, types.intp, types.intp), codegen


#: ``prefetch(arr, i, j)`` in jitted code asks the CPU to load the cache line of ``arr[i, j]`` (or
#: ``arr[i]`` of a 1D array; in bounds) ahead of its use, so that a loop of random reads keeps
#: many misses in flight.
prefetch: Callable[[Any, int, int], None] = cast(Callable[[Any, int, int], None], intrinsic(_prefetch_typer))

#: How many units ahead a loop of random reads prefetches.
PREFETCH_AHEAD = 16
