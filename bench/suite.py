"""The whole benchmark suite of issue 8 in one command, printing one table.

    python3 bench/suite.py [--seconds S] [--calls N] [--runs R] [--only NAMES]

Runs, in one process tree on this machine: uprobe hit cost (bench/uprobe.py), syscall
tracepoint cost and throughput (bench/syscall.py), start-up to the first event
(bench/startup.py) and output-heavy tracing (bench/output.py), each bare, under perf stat
(the kernel's floor), bpftrace and pystap; then the component benchmarks other parts of
the project keep (bench/parse.py, elaborate.py, runtime.py, channel.py, tui.py), run as
subprocesses, whose headline lines are folded in under the table. Defaults keep the
whole run near five minutes on two cores: 2 s syscall loops, 100 000 uprobe calls
(each benchmark's own command defaults to the issue's 5 s and 1 000 000).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from bench import output, startup, syscall, uprobe  # noqa: E402
from bench.workloads.report import Row, render  # noqa: E402

COMPONENTS = ("parse", "elaborate", "runtime", "channel", "tui")  # kept by the other parts' owners


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    versions = [_first_line(["bpftrace", "--version"]), _first_line(["perf", "--version"])]
    return (f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, kernel {platform.release()}, "
            f"{os.cpu_count()} CPUs ({cpu}), {', '.join(versions)}")


def _first_line(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout.strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return f"{argv[0]}: unavailable"


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def component_lines(name: str, timeout: float = 300) -> list[str]:
    """The output lines of bench/NAME.py, or why it gave none."""
    try:
        proc = subprocess.run([sys.executable, str(BENCH / f"{name}.py")], capture_output=True, text=True,
                              timeout=timeout, cwd=BENCH.parent)
    except subprocess.TimeoutExpired:
        return [f"{name}: no result within {timeout:.0f} s"]
    lines = [line.rstrip() for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0:
        lines.append(f"failed (status {proc.returncode}): {(proc.stderr.strip().splitlines() or [''])[-1]}")
    return [f"{name}: {line}" for line in lines]


def tracer_rows(args: argparse.Namespace, only: set[str]) -> list[Row]:
    plan = {
        "uprobe": lambda: uprobe.table(args.calls, args.rounds),
        "syscall": lambda: syscall.table(args.seconds, args.rounds),
        "startup": lambda: startup.table(args.runs),
        "output": lambda: output.table(args.seconds, 200_000),
    }
    return [row for name, make in plan.items() if name in only for row in _rows_or_why(name, make)]


def _rows_or_why(name: str, make) -> list[Row]:
    """One benchmark's rows; if it breaks, one row that says how, and the suite goes on."""
    try:
        return make()
    except (OSError, subprocess.SubprocessError, ValueError) as error:
        return [Row(name, "(did not run)", "", {}, ratios=False, notes=[f"{type(error).__name__}: {error}"])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="syscall and output loop duration (default 2)")
    parser.add_argument("--calls", type=int, default=100_000, help="uprobe workload calls (default 100000)")
    parser.add_argument("--runs", type=int, default=3, help="warm start-up runs (default 3)")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds of the uprobe and syscall "
                        "runs, the least disturbed kept (default 1)")
    parser.add_argument("--only", default="uprobe,syscall,startup,output," + ",".join(COMPONENTS),
                        help="comma-separated benchmarks to run (default: all)")
    args = parser.parse_args()
    only = set(args.only.split(","))
    print(f"stapui benchmark suite: {machine()}, load average at start {_load()}")
    print(f"(syscall loops {args.seconds} s on every CPU, {args.calls} uprobe calls; CPU ns are the "
          "workload's CPU time per event above its bare run, kernel time included; ratios are pystap's to "
          "bpftrace's and to perf stat's, the kernel's floor)\n")
    print(render(tracer_rows(args, only)))
    print(f"load average at the end of the tracer benchmarks: {_load()}")
    components = [line for name in COMPONENTS if name in only for line in component_lines(name)]
    if components:
        print("\ncomponent benchmarks (their own commands, run as subprocesses):")
        print("\n".join(f"  {line}" for line in components))


if __name__ == "__main__":
    main()
