"""The system C compiler: finding it, and running it with messages kept for the user."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass

INSTALL_HINT = "install a C compiler and the C library headers, e.g. `apt-get install gcc libc6-dev`"

# Fast to compile, and exact stap arithmetic: signed overflow wraps as in the kernel.
CFLAGS = ("-O1", "-fwrapv", "-fno-strict-aliasing", "-fno-delete-null-pointer-checks", "-g0")
RUNTIME_CFLAGS = ("-O2", "-fwrapv", "-fno-strict-aliasing", "-Wall")


class CompilerMissing(Exception):
    pass


@dataclass(frozen=True)
class Compiler:
    path: str
    identity: str  # `cc --version` first line, part of every cache key

    def run(self, args: list[str], cwd: str | None = None) -> subprocess.CompletedProcess:
        env = dict(os.environ, LC_ALL="C")  # plain quotes in messages
        return subprocess.run([self.path, *args], capture_output=True, text=True, errors="replace", cwd=cwd, env=env)


@functools.lru_cache(maxsize=1)
def find_compiler() -> Compiler:
    for name in ("gcc", "cc"):
        path = shutil.which(name)
        if path:
            version = subprocess.run([path, "--version"], capture_output=True, text=True, errors="replace")
            return Compiler(path, (version.stdout.splitlines() or [name])[0])
    raise CompilerMissing(f"no C compiler found (gcc or cc): {INSTALL_HINT}")


@functools.lru_cache(maxsize=1)
def static_supported(compiler: Compiler) -> bool:
    """Whether `-static` links here (libc.a installed): the artifact then runs anywhere."""
    probe = subprocess.run(
        [compiler.path, "-static", "-x", "c", "-", "-o", "/dev/null"],
        input="int main(void){return 0;}\n",
        capture_output=True,
        text=True,
    )
    return probe.returncode == 0
