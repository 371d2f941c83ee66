"""The benchmarks' C workloads, built with gcc on first use (cached by source hash)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from pathlib import Path

SOURCES = Path(__file__).resolve().parent
BUILD_DIR = Path(tempfile.gettempdir()) / f"stapui-bench-{os.getuid()}"
SYS_COMM = f"bsys{os.getpid()}"  # this process's syscall workload name (execname, at most 15 chars)


def build(name: str, comm: str = "") -> Path:
    """Compile bench/workloads/NAME.c with sync.c (-O2 -g: uprobes need the symbol).

    With `comm`, a hard link of that name: its processes' execname() is `comm`, so scripts
    filtering on it see this run's workload only, not a concurrent run's.
    """
    sources = [SOURCES / f"{name}.c", SOURCES / "sync.c"]
    digest = hashlib.sha256(b"".join(s.read_bytes() for s in [*sources, SOURCES / "sync.h"])).hexdigest()[:12]
    exe = BUILD_DIR / digest / name  # the file name is the process's execname()
    if not exe.exists():
        exe.parent.mkdir(parents=True, exist_ok=True)
        partial = exe.with_suffix(f".{os.getpid()}")
        subprocess.run(["gcc", "-O2", "-g", "-Wall", "-Wextra", "-Werror", *map(str, sources), "-o", str(partial)],
                       check=True)
        partial.rename(exe)
    if comm:
        alias = exe.with_name(comm)
        if not alias.exists():
            os.link(exe, alias)
        return alias
    return exe
