"""Scoped control of the BLAS thread count (OpenBLAS, as bundled with NumPy wheels).

The recurrent layers multiply small matrices (e.g. (32, 128) @ (128, 512)) 150 times per batch; for
those a second BLAS thread costs more in synchronisation than it gains (measured: 59 us with one
thread, 190 us with two on a busy 2-core machine). `blas_threads(1)` sets the count for a block of
code and restores it afterwards. Without a recognisable OpenBLAS it does nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np

_SYMBOLS = (  # (getter, setter) under the names the various OpenBLAS builds export
    ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
    ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
    ("openblas_get_num_threads", "openblas_set_num_threads"),
)


def _loaded_openblas() -> list[str]:
    """Paths of OpenBLAS libraries NumPy ships or this process has mapped."""
    paths = sorted(str(p) for p in (Path(np.__file__).parents[1] / "numpy.libs").glob("*openblas*"))
    maps = Path("/proc/self/maps")
    if maps.exists():
        for line in maps.read_text().splitlines():
            path = line.split()[-1]
            if "openblas" in path and path not in paths:
                paths.append(path)
    return paths


@lru_cache(maxsize=1)
def _functions() -> tuple | None:
    for path in _loaded_openblas():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for getter, setter in _SYMBOLS:
            if hasattr(lib, getter) and hasattr(lib, setter):
                get, set_ = getattr(lib, getter), getattr(lib, setter)
                get.restype, set_.argtypes = ctypes.c_int, [ctypes.c_int]
                return get, set_
    return None


@contextlib.contextmanager
def blas_threads(count: int) -> Iterator[None]:
    """Run the block with `count` BLAS threads, then restore the previous count."""
    functions = _functions()
    if functions is None:
        yield
        return
    get, set_ = functions
    previous = get()
    if previous == count:
        yield
        return
    set_(count)
    try:
        yield
    finally:
        set_(previous)
