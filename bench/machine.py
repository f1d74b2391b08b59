"""The machine: BLAS thread count and build, GEMM peak, and a description for the results file.

NumPy's OpenBLAS reads OPENBLAS_NUM_THREADS / OMP_NUM_THREADS once, when numpy is first imported;
changes in a running process go through threadpoolctl (numpy's and scipy's OpenBLAS alike). Here we only
read the current count and the runtime configuration.
"""

from __future__ import annotations

import ctypes
import datetime
import os
import platform
import re
import time
from pathlib import Path

import numpy as np

_PREFIXES = ("scipy_openblas", "openblas")
_SUFFIXES = ("64_", "")


def _openblas() -> tuple[ctypes.CDLL, str, str] | None:
    """(library, prefix, suffix) of the OpenBLAS numpy loaded, or None (another BLAS)."""
    libs_dir = Path(np.__file__).parent.parent / "numpy.libs"
    for path in sorted(libs_dir.glob("*openblas*")):
        lib = ctypes.CDLL(str(path))
        for prefix in _PREFIXES:
            for suffix in _SUFFIXES:
                if hasattr(lib, f"{prefix}_get_num_threads{suffix}"):
                    return lib, prefix, suffix
    return None


_BLAS = _openblas()


def blas_threads() -> int | None:
    """Threads NumPy's OpenBLAS uses now (None when it is not an OpenBLAS we can reach)."""
    if _BLAS is None:
        return None
    lib, prefix, suffix = _BLAS
    return int(getattr(lib, f"{prefix}_get_num_threads{suffix}")())


def gemm_gflops(dtype: type, n: int = 2048, repeats: int = 3) -> float:
    """Best GFLOP/s of C = A B with A, B (n, n) of `dtype`: 2 n^3 FLOPs / fastest of `repeats` runs."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n)).astype(dtype) for _ in range(2))
    out = np.empty((n, n), dtype)
    np.matmul(a, b, out=out)  # warm-up: threads started, pages touched
    best = min(_timed(lambda: np.matmul(a, b, out=out)) for _ in range(repeats))
    return 2.0 * n**3 / best / 1e9


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _numpy_blas() -> str:
    """Name and version from numpy.show_config(); with OpenBLAS, its runtime configuration (kernel core)."""
    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    text = f"{blas.get('name', '?')} {blas.get('version', '?')}"
    if _BLAS is not None:
        lib, prefix, suffix = _BLAS
        config = getattr(lib, f"{prefix}_get_config{suffix}")
        config.restype = ctypes.c_char_p
        text += f" (runtime: {config().decode()})"
    return text


def _torch_blas(torch) -> str:
    """BLAS / oneDNN / OpenMP / CPU-capability lines of torch.__config__.show()."""
    shown = torch.__config__.show()
    found = re.findall(r"(?:BLAS_INFO|USE_MKLDNN|USE_OPENMP)=[^,\s]+|CPU capability usage: \w+", shown)
    return ", ".join(found)


def describe(torch=None) -> dict:
    """CPU, cores, library versions and BLAS builds, thread settings, load average and date."""
    info = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numpy_blas": _numpy_blas(),
        "blas_threads": blas_threads(),
        "env": {k: os.environ.get(k, "") for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")},
        "loadavg_1_5_15": list(os.getloadavg()),
    }
    if torch is not None:
        info.update(torch=torch.__version__, torch_blas=_torch_blas(torch), torch_threads=torch.get_num_threads())
    return info
