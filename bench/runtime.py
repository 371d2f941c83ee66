"""Benchmark of passes 4-5 and the runtime (not a test). Run: python3 bench/runtime.py

Reports:
  - pystap start to first output line: cold (script not in the build cache; runtime
    library cached) and cached (the same script again); goals 1 s and 150 ms;
  - channel throughput end to end: a script printing N lines into a reader that counts
    them (records/s, MB/s); goal 1 million small records/s (the C writer alone is
    measured by bench/channel.py);
  - cost per call inside a compiled handler of an array update, `<<<` and printf,
    from the runtime's own per-probe timing (-t), minus an empty loop.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.run import launch  # noqa: E402
from engine.run.records import Output, ProbeStat  # noqa: E402
from engine.session import Options, Session  # noqa: E402

ENTRY = "import sys; sys.path.insert(0, %r); from engine.cli import entry; entry()" % str(REPO)


def first_line_seconds(script: str) -> float:
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", ENTRY, "-e", script], stdout=subprocess.PIPE, cwd=REPO)
    proc.stdout.readline()
    elapsed = time.perf_counter() - start
    proc.wait()
    return elapsed


def start_times() -> tuple[float, float]:
    script = 'probe begin { println("first %d") exit() }' % random.randrange(1 << 60)
    cold = first_line_seconds(script)
    cached = min(first_line_seconds(script) for _ in range(5))
    return cold, cached


def cold_pass_times() -> list[str]:
    """The -v pass lines of a cold run: where a cold start spends its time."""
    script = 'probe begin { println("first %d") exit() }' % random.randrange(1 << 60)
    proc = subprocess.run([sys.executable, "-c", ENTRY, "-v", "-e", script], capture_output=True, text=True, cwd=REPO)
    return [line.split(" in ")[-1] for line in proc.stderr.splitlines() if line.startswith("Pass ") and " in " in line]


def built(script: str, **options):
    session = Session(Options(script_text=script, last_pass=4, **options))
    result = session.run_all()
    if not result.ok:
        raise SystemExit("\n".join(d.format() for d in session.diagnostics()))
    return session, result.artifact


def channel_throughput(lines: int) -> tuple[float, float, int]:
    script = 'probe begin { for (i = 0; i < %d; i++) printf("%%d\\n", i); exit() }' % lines
    session, artifact = built(script, defines={"MAXACTION": str(lines)})
    counted = {"bytes": 0, "newlines": 0}

    def count(record) -> None:
        if isinstance(record, Output):
            counted["bytes"] += len(record.data)
            counted["newlines"] += record.data.count(b"\n")

    start = time.perf_counter()
    handle = launch(session, artifact, count)
    handle.wait()
    elapsed = time.perf_counter() - start
    handle.close()
    return counted["newlines"] / elapsed, counted["bytes"] / elapsed / 1e6, counted["newlines"]


def handler_ns(body: str, n: int) -> float:
    """Average handler time (ns) of a begin probe running `body` n times, from -t."""
    script = "global a, s probe begin { for (i = 0; i < %d; i++) { %s } exit() }" % (n, body)
    script += " probe never { a[0] = 1; s <<< 1; println(a[0], @count(s)) }"
    session, artifact = built(script, defines={"MAXACTION": str(n * 4)}, timing=True)
    stats: list[ProbeStat] = []
    handle = launch(session, artifact, lambda r: stats.append(r) if isinstance(r, ProbeStat) else None)
    handle.wait()
    handle.close()
    return next(s.avg_ns for s in stats if s.point == "begin")


def per_call_costs(n: int = 200000) -> dict[str, float]:
    empty = handler_ns("", n)
    costs = {}
    for name, body in (
        ("array update a[i % 1000] = i", "a[i % 1000] = i"),
        ("statistics s <<< i", "s <<< i"),
        ('printf("%d\\n", i)', 'printf("%d\\n", i)'),
    ):
        costs[name] = (handler_ns(body, n) - empty) / n
    return costs


def main() -> None:
    from engine.build.compiler import find_compiler
    from engine.build.runtime_lib import runtime_library

    runtime_library(find_compiler())  # "cold" means a new script, not a new runtime
    cold, cached = start_times()
    print(f"start to first line: cold {cold * 1000:.0f} ms (goal < 1000), cached {cached * 1000:.0f} ms (goal < 150)")
    print("cold run, passes 1-5: " + " | ".join(cold_pass_times()))
    rate, mbps, lines = channel_throughput(1_000_000)
    print(f"channel end to end: {lines} printf lines, {rate / 1e6:.2f} M lines/s, {mbps:.1f} MB/s (goal >= 1 M records/s)")
    for name, ns in per_call_costs().items():
        print(f"per call in a compiled handler: {name}: {ns:.1f} ns")
    print(f"(machine: {os.cpu_count()} CPUs; the C writer alone: python3 bench/channel.py)")


if __name__ == "__main__":
    main()
