"""numba's cached kernels follow the sources they read, not only their own file (``detect.kernel_cache``).

numba keys a cached kernel on its own file's time and size, while a kernel takes other modules'
constants as compile-time constants: a change to such a module alone (a ``git pull`` into an
editable install) left the probe computing with the old values. Real numba, real files, a fresh
process each run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from keepclear.detect import kernel_cache
from keepclear.detect._jit import jit

KERNEL = """\
import os
from pathlib import Path

import numba

from keepclear.detect.kernel_cache import clear_stale, numba_cache_dir

here = Path(__file__).resolve().parent
if os.environ.get("CHECK_SOURCES") == "1":
    clear_stale(numba_cache_dir(here / "kernel.py"), [here])

from pkg import constants


@numba.njit(cache=True)
def limit():
    return constants.LIMIT_M
"""


def _package(root: Path) -> Path:
    package = root / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "constants.py").write_text("LIMIT_M = 1\n")
    (package / "kernel.py").write_text(KERNEL)
    return package


def _limit(root: Path, check_sources: bool) -> int:
    """The kernel's answer in a fresh process (its cache on disk, as a second start finds it)."""
    env = {
        "CHECK_SOURCES": "1" if check_sources else "0",
        "PYTHONPATH": f"{root}:{':'.join(sys.path)}",
        "PYTHONDONTWRITEBYTECODE": "1",  # Python's own cache of constants.py is not what is tried here
    }
    done = subprocess.run(
        [sys.executable, "-c", "from pkg.kernel import limit; print(limit())"],
        cwd=root, env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return int(done.stdout)


def test_a_kernel_compiled_before_a_constant_of_another_module_changed_is_compiled_again(tmp_path: Path) -> None:
    package = _package(tmp_path)
    assert _limit(tmp_path, check_sources=True) == 1
    (package / "constants.py").write_text("LIMIT_M = 2\n")  # the kernel's own file untouched
    assert _limit(tmp_path, check_sources=True) == 2
    assert _limit(tmp_path, check_sources=True) == 2  # compiled once more, then cached again


def test_without_the_check_numba_keeps_the_old_constant(tmp_path: Path) -> None:
    """The hazard itself (numba's behaviour), so that the test above can fail."""
    package = _package(tmp_path)
    assert _limit(tmp_path, check_sources=False) == 1
    (package / "constants.py").write_text("LIMIT_M = 2\n")
    assert _limit(tmp_path, check_sources=False) == 1


def test_unchanged_sources_keep_the_cached_kernels(tmp_path: Path) -> None:
    package = _package(tmp_path)
    assert _limit(tmp_path, check_sources=True) == 1
    cache_dir = kernel_cache.numba_cache_dir(package / "kernel.py")
    assert cache_dir is not None
    kept = sorted(p.name for p in cache_dir.iterdir() if p.suffix in (".nbi", ".nbc"))
    assert kept
    assert not kernel_cache.clear_stale(cache_dir, [package])
    assert sorted(p.name for p in cache_dir.iterdir() if p.suffix in (".nbi", ".nbc")) == kept


def test_keepclears_kernels_are_stamped_with_the_detect_and_geo_sources() -> None:
    @jit
    def one() -> int:
        return 1

    here = Path(kernel_cache.__file__).resolve().parent
    cache_dir = kernel_cache.numba_cache_dir(here / "_jit.py")
    assert cache_dir is not None
    stamp = (cache_dir / kernel_cache.STAMP_NAME).read_text(encoding="ascii")
    assert stamp == kernel_cache.source_stamp([here, here.parent / "geo"])
    assert one() == 1
