"""Keep numba's on-disk kernel cache true to the source it was compiled from.

numba keys a cached kernel on its own source file's modification time and size only. A kernel reads
module-level constants of other modules as compile-time constants (a grid layout's bit widths, a
domain's code, the WGS 84 axes), so when only such a module changes (a ``git pull`` into an editable
install, or an edit) numba loads the kernel compiled with the old values and the probe computes with
them, silently. So before the first kernel is declared, ``clear_stale`` hashes every module the
kernels may read (this package and ``geo``) and, when the hash differs from the one stamped beside
the cache, removes the package's cached kernels: they compile again, once.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from numba.core.caching import CacheImpl

__all__ = ["STAMP_NAME", "clear_stale", "kernel_sources", "numba_cache_dir", "source_stamp"]

#: The file, in the cache folder, holding the hash of the sources the cached kernels were compiled from.
STAMP_NAME = "keepclear-kernels.stamp"
_KERNEL_SUFFIXES = (".nbi", ".nbc")


def kernel_sources() -> tuple[Path, Path]:
    """The folders of every module the kernels may read: this package and ``geo`` (what
    ``source_stamp`` hashes for the cache; a detector worker's build stamp hashes them too)."""
    here = Path(__file__).resolve().parent
    return here, here.parent / "geo"


def source_stamp(folders: Iterable[Path]) -> str:
    """A SHA-256 of the names and contents of every ``*.py`` file in ``folders`` (not below them)."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(folder.glob("*.py")):
            digest.update(f"{folder.name}/{path.name}\0".encode())
            digest.update(path.read_bytes())
            digest.update(b"\0")
    return digest.hexdigest()


def clear_stale(cache_dir: Path, sources: Iterable[Path]) -> bool:
    """Remove the cached kernels in ``cache_dir`` unless they were compiled from ``sources`` as they
    are now (the stamp beside them says so); then stamp the folder. True when something was removed.

    Safe with several processes starting at once: a kernel file removed under another process makes
    that one compile again, and the stamp is replaced whole. A folder that cannot be written is left
    as it is (numba then keeps its cache elsewhere, or none)."""
    stamp = source_stamp(sources)
    stamp_path = cache_dir / STAMP_NAME
    try:
        if stamp_path.read_text(encoding="ascii") == stamp:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    removed = False
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        for path in cache_dir.iterdir():
            if path.suffix in _KERNEL_SUFFIXES:
                path.unlink(missing_ok=True)
                removed = True
        with tempfile.NamedTemporaryFile("w", dir=cache_dir, delete=False, encoding="ascii") as file:
            file.write(stamp)
        os.replace(file.name, stamp_path)
    except OSError:  # not ours to write: numba keeps its cache elsewhere, or none
        return removed
    return removed


def numba_cache_dir(source_file: Path) -> Path | None:
    """Where numba keeps the cached kernels of functions defined in ``source_file``, as numba itself
    decides (``NUMBA_CACHE_DIR``, else the source's ``__pycache__`` when writable, else a user-wide
    folder); None when it would keep none. Asked of numba's own locators, so both agree."""

    def probe() -> None:
        """A function of ``source_file`` for the locators to place."""

    locator_classes: list[Any] = CacheImpl._locator_classes
    for locator_class in locator_classes:
        locator = locator_class.from_function(probe, str(source_file))
        if locator is not None:
            return Path(locator.get_cache_path())
    return None
