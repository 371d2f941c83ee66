"""Start-up to the first event handled (issue 8). Run: python3 bench/startup.py [--runs N]

A getpid loop runs in the background; each tracer is started with a script that prints
one line at the first getpid of that loop and exits. Measured: from the command's start
to that line on its stdout. pystap cold: an empty cache directory (XDG_CACHE_HOME in a
fresh temporary directory: no parse, translation or build cache); warm: the same script
again with that cache (best of N). bpftrace has no cache: its first run and best of N.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.workloads import SYS_COMM, build  # noqa: E402
from bench.workloads.report import Row, render  # noqa: E402
from bench.workloads.tracers import PYSTAP  # noqa: E402

COMM = SYS_COMM
BPFTRACE = f'tracepoint:syscalls:sys_enter_getpid /comm == "{COMM}"/ {{ printf("first\\n"); exit(); }}'
PYSTAP_SCRIPT = f'probe syscall.getpid {{ if (execname() == "{COMM}") {{ println("first") exit() }} }}'


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


def measure(runs: int) -> dict[str, dict[str, float | None]]:
    """{"cold"|"warm": {"bpftrace": s, "pystap": s}} with a getpid loop running."""
    loop = subprocess.Popen([str(build("bench_sys", COMM)), "getpid", "3600s", "1", "10000"], stdout=subprocess.DEVNULL)
    bpftrace = ["bpftrace", "-e", BPFTRACE]
    pystap = [*PYSTAP, "-e", PYSTAP_SCRIPT]
    try:
        with tempfile.TemporaryDirectory(prefix="stapui-bench-cache-") as cache:
            env = {"XDG_CACHE_HOME": cache}
            cold = {"bpftrace": first_event_seconds(bpftrace, {}), "pystap": first_event_seconds(pystap, env)}
            warm = {"bpftrace": _best(first_event_seconds(bpftrace, {}) for _ in range(runs)),
                    "pystap": _best(first_event_seconds(pystap, env) for _ in range(runs))}
    finally:
        loop.kill()
        loop.wait()
    return {"cold": cold, "warm": warm}


def _best(times) -> float | None:
    found = [t for t in times if t is not None]
    return min(found) if found else None


def table(runs: int) -> list[Row]:
    found = measure(runs)
    ms = {kind: {w: None if s is None else s * 1000 for w, s in found[kind].items()} for kind in found}
    return [Row("start-up", "first getpid handled", "cold ms (empty cache)", ms["cold"], notes=list(FAILURES)),
            Row("start-up", "first getpid handled", f"warm ms (best of {runs})", ms["warm"])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="warm runs, the best is reported (default 5)")
    print(render(table(parser.parse_args().runs)))


if __name__ == "__main__":
    main()
