"""The build cache: content-addressed directories under $XDG_CACHE_HOME/stapui/build.

Keys hash everything that changes the output (sources, compiler identity, flags), so
a hit is always safe to reuse. Entries are written to a temporary name and renamed
into place, so concurrent builds (parallel tests) never see a half-written file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from engine.cachedir import cache_dir


def cache_root() -> Path:
    """$XDG_CACHE_HOME/stapui/build (engine/cachedir.py: the fast path finds it there
    without importing this package)."""
    return Path(cache_dir("build"))


def prune(directory: Path, keep: int) -> None:
    """Keep the `keep` most recently used entries of `directory` (files or directories):
    a cache that only grows would fill the disk with every script ever built."""
    try:
        entries = sorted(directory.iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return
    for entry in entries[keep:]:
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def touch(path: Path) -> None:
    """Mark a cache entry as used (prune keeps the most recently used)."""
    try:
        os.utime(path)
    except OSError:
        pass


def digest(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8", "surrogateescape") if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)
    return h.hexdigest()[:32]


def install(source: Path, destination: Path) -> None:
    """Atomically place `source` (a file) at `destination`."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=destination.parent, prefix=".tmp-")
    os.close(fd)
    try:
        with open(source, "rb") as src, open(temp, "wb") as dst:
            dst.write(src.read())
        os.chmod(temp, os.stat(source).st_mode & 0o777)
        os.replace(temp, destination)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
