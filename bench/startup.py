"""Start-up to the first event handled (issue 8). Run: python3 bench/startup.py [--runs N]

A getpid loop runs in the background; each tracer is started with a script that prints
one line at the first getpid of that loop and exits. Measured: from the command's start
to that line on its stdout. pystap cold: an empty cache directory (XDG_CACHE_HOME in a
fresh temporary directory: no parse, translation or build cache), twice: as installed
(what `pip install` leaves, made here in a temporary directory: the packages copied,
their bytecode compiled, and the C runtime library built by setup.py's step) and from
this checkout, where nothing is prebuilt so the first run also compiles the C runtime;
warm: the checkout's pystap again with its cache (best of N, runs alternated with
bpftrace's). bpftrace has no cache: its first run and best of N.

pystap runs as a user's does: the code of the script `pip install` writes for it (pip's
console-script template, whose `import re` is part of every start-up), with the bytecode an
installation has (compiled here first, as PYTHONDONTWRITEBYTECODE would otherwise make
each run of the checkout compile its modules again).
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.workloads import SYS_COMM, build  # noqa: E402
from bench.workloads.report import Row, render  # noqa: E402

COMM = SYS_COMM
BPFTRACE = f'tracepoint:syscalls:sys_enter_getpid /comm == "{COMM}"/ {{ printf("first\\n"); exit(); }}'
PYSTAP_SCRIPT = f'probe syscall.getpid {{ if (execname() == "{COMM}") {{ println("first") exit() }} }}'
REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "tapsets", "runtime_c")


def pystap_command(packages: Path) -> list[str]:
    """pystap as pip's console script runs it, with `packages` first on the module path."""
    return [sys.executable, "-c", f"import re, sys; sys.path.insert(0, {str(packages)!r}); from engine.cli import entry; "
            "sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0]); sys.exit(entry())"]


FAILURES: list[str] = []  # why a start-up has no figure, for the table's notes


def first_event_seconds(argv: list[str], env: dict[str, str]) -> float | None:
    """Seconds from starting `argv` to the "first" line on its stdout; None if it never comes."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, env={**os.environ, **env})
        for line in proc.stdout:
            if line.strip() == b"first":
                elapsed = time.perf_counter() - start
                break
        else:
            elapsed = None
        proc.stdout.close()
        proc.wait(timeout=60)
        if elapsed is None:
            err.seek(0)
            lines = err.read().decode(errors="replace").strip().splitlines()
            FAILURES.append(lines[-1] if lines else f"{argv[0]}: exit status {proc.returncode}")
    return elapsed


def installed_copy(into: Path) -> list[str]:
    """What `pip install .` leaves, in `into`: the packages pystap runs from, their
    bytecode, and the C runtime library setup.py builds. Returns its pystap command."""
    from engine.build.runtime_lib import install_library

    for package in PACKAGES:
        shutil.copytree(REPO / package, into / package, ignore=shutil.ignore_patterns("__pycache__", "libstaprt.*"))
    compileall.compile_dir(into, quiet=1)
    install_library(into / "runtime_c")
    return pystap_command(into)


def measure(runs: int) -> dict[str, dict[str, float | None]]:
    """{"installed"|"cold"|"warm": {"bpftrace": s, "pystap": s}} with a getpid loop running."""
    loop = subprocess.Popen([str(build("bench_sys", COMM)), "getpid", "3600s", "1", "10000"], stdout=subprocess.DEVNULL)
    bpftrace = ["bpftrace", "-e", BPFTRACE]
    for package in PACKAGES:
        compileall.compile_dir(REPO / package, quiet=1)
    pystap = [*pystap_command(REPO), "-e", PYSTAP_SCRIPT]
    try:
        with tempfile.TemporaryDirectory(prefix="stapui-bench-") as temp:
            installed = [*installed_copy(Path(temp) / "site-packages"), "-e", PYSTAP_SCRIPT]
            first_bpftrace = first_event_seconds(bpftrace, {})
            found = {"installed": {"bpftrace": first_bpftrace,
                                   "pystap": first_event_seconds(installed, {"XDG_CACHE_HOME": f"{temp}/cache-installed"})}}
            env = {"XDG_CACHE_HOME": f"{temp}/cache"}
            found["cold"] = {"bpftrace": first_bpftrace, "pystap": first_event_seconds(pystap, env)}
            # Alternated, so that both see the same machine when other work comes and goes.
            pairs = [(first_event_seconds(bpftrace, {}), first_event_seconds(pystap, env)) for _ in range(runs)]
            found["warm"] = {"bpftrace": _best(b for b, _ in pairs), "pystap": _best(p for _, p in pairs)}
    finally:
        loop.kill()
        loop.wait()
    return found


def _best(times) -> float | None:
    found = [t for t in times if t is not None]
    return min(found) if found else None


def table(runs: int) -> list[Row]:
    found = measure(runs)
    ms = {kind: {w: None if s is None else s * 1000 for w, s in found[kind].items()} for kind in found}
    return [Row("start-up", "first getpid handled", "cold ms (empty cache, as installed)", ms["installed"],
                notes=list(FAILURES)),
            Row("start-up", "first getpid handled", "cold ms (empty cache, checkout: C runtime built too)", ms["cold"]),
            Row("start-up", "first getpid handled", f"warm ms (best of {runs})", ms["warm"])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="warm runs, the best is reported (default 5)")
    print(render(table(parser.parse_args().runs)))


if __name__ == "__main__":
    main()
