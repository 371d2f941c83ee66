"""The runtime object library: every runtime_c/*.c compiled once into libstaprt.a.

Keyed by the hash of all runtime sources and headers, the compiler and the flags, so
a script build compiles only its own C file. Files are compiled in parallel. A file
that does not compile is left out (and reported by `-v`) rather than failing every
script: the linker then names any symbol a script really needed from it.

Compiling the runtime costs seconds of CPU, far more than any script, so installing
the package builds it once (setup.py calls install_library()) next to the sources,
with a stamp of its key: a user's first run then only compiles its script. When the
sources, compiler or flags differ from the stamp, the build cache is used as before.
"""

from __future__ import annotations

import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from engine.build.cache import cache_root, digest, install, prune
from engine.build.compiler import RUNTIME_CFLAGS, Compiler, CompilerMissing, find_compiler

_lock = threading.Lock()
KEEP_RUNTIMES = 8  # runtime library versions kept (each source change makes a new one)
INSTALLED_ARCHIVE = "libstaprt.a"  # built at install time, beside the runtime sources
INSTALLED_STAMP = "libstaprt.stamp"  # its version, then the files left out, one a line


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


def runtime_version(compiler: Compiler, directory: Path | None = None) -> str:
    directory = directory or runtime_dir()
    files = sorted(list(directory.glob("*.c")) + list(directory.glob("*.h")))
    parts = [compiler.identity, " ".join(RUNTIME_CFLAGS)]
    for f in files:
        parts += [f.name, f.read_bytes()]
    return digest(*parts)


def runtime_library(compiler: Compiler) -> RuntimeLibrary:
    """The installed or cached library for the current sources, building it on a miss."""
    directory = runtime_dir()
    version = runtime_version(compiler, directory)
    installed = _installed(directory, version)
    if installed is not None:
        return installed
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


def _installed(directory: Path, version: str) -> RuntimeLibrary | None:
    """The library install_library() built beside `directory`'s sources, if its stamp
    says it was built from these sources with this compiler and these flags."""
    try:
        stamp = (directory / INSTALLED_STAMP).read_text().splitlines()
    except OSError:
        return None
    archive = directory / INSTALLED_ARCHIVE
    if not stamp or stamp[0] != version or not archive.exists():
        return None
    return RuntimeLibrary(archive, directory, version, stamp[1:])


def install_library(directory: Path) -> str:
    """Build the library for the runtime sources in `directory` into that directory
    (setup.py, at install time). Returns what was done, in one line for the installer's
    log: without a compiler nothing is built, and the first run will say what to install."""
    try:
        compiler = find_compiler()
    except CompilerMissing as error:
        return f"C runtime not prebuilt: {error}"
    version = runtime_version(compiler, directory)
    skipped = _build(compiler, directory, directory / INSTALLED_ARCHIVE)
    (directory / INSTALLED_STAMP).write_text("".join(line + "\n" for line in [version, *skipped]))
    left_out = f" ({len(skipped)} files left out: {'; '.join(skipped)})" if skipped else ""
    return f"C runtime prebuilt into {directory / INSTALLED_ARCHIVE}{left_out}"


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
