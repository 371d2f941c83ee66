"""Output-heavy tracing (issue 8). Run: python3 bench/output.py [--seconds S] [--rate R]

A paced loop makes R getpid calls per second (default 200 000) for S seconds; the scripts
printf one line per call into a file (-o). Reported: lines lost (calls made minus lines
written), the rate achieved, and the tracer's own CPU seconds per million lines.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.workloads import SYS_COMM, build  # noqa: E402
from bench.workloads.report import Row, cpu_per_million, events_per_s, failures, render  # noqa: E402
from bench.workloads.tracers import Run, run  # noqa: E402

COMM = SYS_COMM
BPFTRACE = f'tracepoint:syscalls:sys_enter_getpid /comm == "{COMM}"/ {{ printf("getpid %d %s\\n", tid, comm); }}'
PYSTAP = f'probe syscall.getpid {{ if (execname() == "{COMM}") printf("getpid %d %s\\n", tid(), execname()) }}'


def measure(limit: str, rate: int) -> tuple[dict[str, Run], dict[str, int]]:
    """Runs per way and the lines each tracer wrote to its -o file (limit: "5s" or a count)."""
    command = [str(build("bench_sys", COMM)), "getpid", limit, "1", str(rate)]
    runs, lines = {}, {}
    with tempfile.TemporaryDirectory(prefix="stapui-bench-out-") as tmp:
        for way, script in (("bare", ""), ("perf", ""), ("bpftrace", BPFTRACE), ("pystap", PYSTAP)):
            out = Path(tmp) / way
            extra = ["-o", str(out)] if script else []
            runs[way] = run(way, command, script=script, events=["syscalls:sys_enter_getpid"], extra=extra)
            if script and out.exists():
                with open(out, "rb") as f:
                    lines[way] = sum(1 for line in f if line.startswith(b"getpid "))
    return runs, lines


def rows(runs: dict[str, Run], lines: dict[str, int]) -> list[Row]:
    tracers = {w: r for w, r in runs.items() if w in lines}
    notes = failures(runs)
    return [
        Row("output", "printf per event to -o", "events/s", {w: events_per_s(r) for w, r in runs.items()},
            notes=notes),
        Row("output", "printf per event to -o", "lines lost",
            {w: max(0, r.events - lines[w]) if r.events else None for w, r in tracers.items()}, ratios=False),
        Row("output", "printf per event to -o", "tracer CPU s/M lines",
            {w: cpu_per_million(r) for w, r in tracers.items()}),
    ]


def table(seconds: float, rate: int) -> list[Row]:
    return rows(*measure(f"{seconds}s", rate))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of the paced loop (default 5)")
    parser.add_argument("--rate", type=int, default=200_000, help="getpid calls per second (default 200000)")
    args = parser.parse_args()
    print(render(table(args.seconds, args.rate)))


if __name__ == "__main__":
    main()
