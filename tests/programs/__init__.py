"""Small C programs for the debug-information and uprobe tests, compiled on demand.

`build("probed", "-O2")` compiles tests/programs/probed.c with -g at that level once
per source content (the output is keyed by a hash, written atomically), so test
modules and parallel workers share the binaries.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from pathlib import Path

SOURCES = Path(__file__).resolve().parent
OUT_DIR = Path(tempfile.gettempdir()) / "stapui-test-programs"


def _key(source: Path, flags: list[str]) -> str:
    """Content, flags and the source's path: the path is in the DWARF the tests compare."""
    text = source.read_bytes() + " ".join(flags).encode() + str(source).encode()
    return hashlib.sha256(text).hexdigest()[:16]


def build(name: str, opt: str = "-O0", *extra: str) -> Path:
    """Path of `name`.c compiled with `-g opt extra...`; compiled only if not already there."""
    source = SOURCES / f"{name}.c"
    flags = ["-g", opt, *extra]
    target = OUT_DIR / f"{name}{opt}-{_key(source, flags)}"
    if not target.exists():
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        subprocess.run(["gcc", *flags, "-o", str(partial), str(source)], check=True)
        os.replace(partial, target)
    return target


def stripped_copy(binary: Path) -> Path:
    """A copy of `binary` without any symbols or debug information."""
    target = binary.with_name(binary.name + "-stripped")
    if not target.exists():
        partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        subprocess.run(["strip", "--strip-all", "-o", str(partial), str(binary)], check=True)
        os.replace(partial, target)
    return target


def build_with_library() -> Path:
    """uselib.c linked against libprobedlib.so (found through its $ORIGIN run path)."""
    library = build_shared("probedlib")
    program = OUT_DIR / f"uselib-{library.stem.split('-')[-1]}"
    if not program.exists():
        partial = program.with_name(f"{program.name}.{os.getpid()}.tmp")
        subprocess.run(["gcc", "-g", "-O0", "-o", str(partial), str(SOURCES / "uselib.c"), str(library),
                        "-Wl,-rpath,$ORIGIN"], check=True)
        os.replace(partial, program)
    return program


def build_shared(name: str) -> Path:
    """`name`.c as a -g -fPIC shared library, named lib<name>-<hash>.so by content."""
    source = SOURCES / f"{name}.c"
    target = OUT_DIR / f"lib{name}-{_key(source, [])}.so"
    if not target.exists():
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        subprocess.run(["gcc", "-g", "-O0", "-shared", "-fPIC", f"-Wl,-soname,{target.name}", "-o", str(partial),
                        str(source)], check=True)
        os.replace(partial, target)
    return target
