"""The runtime object library: every runtime_c/*.c compiled once into libstaprt.a.

Keyed by the hash of all runtime sources and headers, the compiler and the flags, so
a script build compiles only its own C file. Files are compiled in parallel. A file
that does not compile is left out (and reported by `-v`) rather than failing every
script: the linker then names any symbol a script really needed from it.
"""

from __future__ import annotations

import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from engine.build.cache import cache_root, digest, install, prune
from engine.build.compiler import RUNTIME_CFLAGS, Compiler

_lock = threading.Lock()
KEEP_RUNTIMES = 8  # runtime library versions kept (each source change makes a new one)


@dataclass
class RuntimeLibrary:
    archive: Path
    include_dir: Path
    version: str  # the cache key: part of every script's key
    skipped: list[str] = field(default_factory=list)  # "file.c: first error line"
    built: bool = False


def runtime_dir() -> Path:
    import runtime_c

    return Path(runtime_c.__file__).parent


def _sources(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.c"))


def runtime_version(compiler: Compiler) -> str:
    directory = runtime_dir()
    files = sorted(list(directory.glob("*.c")) + list(directory.glob("*.h")))
    parts = [compiler.identity, " ".join(RUNTIME_CFLAGS)]
    for f in files:
        parts += [f.name, f.read_bytes()]
    return digest(*parts)


def runtime_library(compiler: Compiler) -> RuntimeLibrary:
    """The cached library for the current sources, building it on a miss."""
    directory = runtime_dir()
    version = runtime_version(compiler)
    archive = cache_root() / "runtime" / version / "libstaprt.a"
    skipped_file = archive.with_name("skipped.txt")
    with _lock:
        if archive.exists():
            skipped = skipped_file.read_text().splitlines() if skipped_file.exists() else []
            return RuntimeLibrary(archive, directory, version, skipped)
        skipped = _build(compiler, directory, archive)
        skipped_file.write_text("".join(s + "\n" for s in skipped))
        prune(archive.parent.parent, KEEP_RUNTIMES)
        return RuntimeLibrary(archive, directory, version, skipped, built=True)


def _compile(compiler: Compiler, source: Path, out: Path, include: Path) -> str | None:
    result = compiler.run([*RUNTIME_CFLAGS, "-I", str(include), "-c", str(source), "-o", str(out)])
    if result.returncode == 0:
        return None
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    return f"{source.name}: {(errors or result.stderr.splitlines() or ['failed'])[0]}"


def _build(compiler: Compiler, directory: Path, archive: Path) -> list[str]:
    import concurrent.futures  # only when building: the start-up fast path never does

    with tempfile.TemporaryDirectory(prefix="stapui-rt-") as temp:
        sources = _sources(directory)
        objects = [Path(temp) / (s.stem + ".o") for s in sources]
        with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            failures = list(pool.map(lambda so: _compile(compiler, so[0], so[1], directory), zip(sources, objects)))
        skipped = [f for f in failures if f]
        built = [str(o) for o, f in zip(objects, failures) if f is None]
        library = Path(temp) / "libstaprt.a"
        result = _archive(library, built)
        if result:
            raise RuntimeError(f"cannot create the runtime library: {result}")
        install(library, archive)
    return skipped


def _archive(library: Path, objects: list[str]) -> str | None:
    import subprocess

    result = subprocess.run(["ar", "rcs", str(library), *objects], capture_output=True, text=True)
    return result.stderr.strip() if result.returncode else None
