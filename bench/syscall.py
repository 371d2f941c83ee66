"""Syscall tracepoint cost and throughput (issue 8). Run: python3 bench/syscall.py [--seconds S]

A loop of getpid or of reads of /dev/zero runs on every core for S seconds, bare, under
`perf stat` counting the same tracepoints (the floor), under bpftrace and under pystap.
Scripts: count by execname; histogram of read sizes; per-tid read latency (return minus
entry); and a getpid loop while only read is probed, which is what the probes cost the
rest of the machine. Reported per script: CPU-ns each event adds to the loop, events/s,
events lost (the workload's own call count minus what the script counted), and the
tracer's own CPU seconds per million events (its processes' user+system time from /proc
during the loop). pystap runs each script twice: as is (perf tracepoints) and with
-DSTP_SYSCALL_BTF (the BTF raw tracepoints sys_enter/sys_exit), a row of its own.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.workloads import SYS_COMM, build  # noqa: E402
from bench.workloads.report import (Row, cpu_per_million, events_per_s, failures, overhead_ns,  # noqa: E402
                                    render)
from bench.workloads.tracers import WAYS, Run, figures, run_ways  # noqa: E402

COMM = SYS_COMM
BTF = "-DSTP_SYSCALL_BTF"
BTF_WAY = "pystap-btf"  # pystap with BTF


@dataclass
class Script:
    """One measured script: the same question asked of bpftrace and pystap."""

    name: str
    call: str  # getpid | read
    events: list[str]  # the tracepoints it fires on (perf stat counts them)
    counted: str  # the figure in the output that counts the calls seen ("": the calls are not probed)
    bpftrace: str
    pystap: str


SCRIPTS = [
    Script("count by execname", "getpid", ["syscalls:sys_enter_getpid"], f"c[{COMM}]",
           "tracepoint:syscalls:sys_enter_getpid { @c[comm] = count(); }",
           'global c probe syscall.getpid { c[execname()]++ }'
           f' probe end {{ printf("c[{COMM}] %d\\n", c["{COMM}"]) }}'),
    Script("histogram of read sizes", "read", ["syscalls:sys_enter_read"], "n",
           f'tracepoint:syscalls:sys_enter_read /comm == "{COMM}"/ {{ @h = hist(args->count); @n = count(); }}',
           f'global h probe syscall.read {{ if (execname() == "{COMM}") h <<< count }}'
           ' probe end { printf("n %d\\n", @count(h)) print(@hist_log(h)) }'),
    Script("per-tid read latency", "read", ["syscalls:sys_enter_read", "syscalls:sys_exit_read"], "n",
           f'tracepoint:syscalls:sys_enter_read /comm == "{COMM}"/ {{ @s[tid] = nsecs; }}'
           " tracepoint:syscalls:sys_exit_read /@s[tid]/ { @lat = hist(nsecs - @s[tid]); @n = count();"
           " delete(@s[tid]); }",
           f'global start, lat probe syscall.read {{ if (execname() == "{COMM}") start[tid()] = gettimeofday_ns() }}'
           " probe syscall.read.return { if (tid() in start) {"
           " lat <<< gettimeofday_ns() - start[tid()]; delete start[tid()] } }"
           ' probe end { printf("n %d\\n", @count(lat)) print(@hist_log(lat)) }'),
    Script("getpid while read is probed", "getpid", ["syscalls:sys_enter_read"], "",
           "tracepoint:syscalls:sys_enter_read { @n = count(); }",
           'global n probe syscall.read { n++ } probe end { printf("n %d\\n", n) }'),
]


def measure(script: Script, limit: str, workers: int, rounds: int = 1) -> dict[str, Run]:
    command = [str(build("bench_sys", COMM)), script.call, limit, str(workers)]
    scripts = {"bpftrace": script.bpftrace, "pystap": script.pystap, BTF_WAY: script.pystap}
    return run_ways(command, scripts, script.events, ways=(*WAYS, BTF_WAY), rounds=rounds, extra={BTF_WAY: [BTF]})


def lost(run: Run, script: Script) -> int | None:
    """Calls the tracer did not count (the workload's count is the truth; other processes'
    calls may add a few, so never below zero)."""
    if not run.events or not script.counted:
        return None
    key = script.events[0] if run.way == "perf" else script.counted
    seen = figures(run.output).get(key)
    return None if seen is None else max(0, run.events - seen)


def rows(script: Script, runs: dict[str, Run]) -> list[Row]:
    bare = runs["bare"]
    tracers = {w: r for w, r in runs.items() if w != "bare"}
    notes = failures(runs)
    return [
        Row("syscall", script.name, "CPU ns/event over bare", {w: overhead_ns(r, bare) for w, r in tracers.items()},
            notes=notes),
        Row("syscall", script.name, "events/s", {w: events_per_s(r) for w, r in runs.items()}),
        Row("syscall", script.name, "events lost", {w: lost(r, script) for w, r in tracers.items()}, ratios=False),
        Row("syscall", script.name, "tracer CPU s/M events",
            {w: cpu_per_million(r) for w, r in tracers.items()}),
    ]


def table(seconds: float, rounds: int = 1) -> list[Row]:
    workers = os.cpu_count() or 1
    table_rows = []
    for script in SCRIPTS:
        runs = measure(script, f"{seconds}s", workers, rounds)
        btf = runs.pop(BTF_WAY)
        table_rows += rows(script, runs) + rows(replace(script, name=f"{script.name} {BTF}"), {**runs, "pystap": btf})
    return table_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="loop duration per run (default 5)")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds, best kept (default 1)")
    args = parser.parse_args()
    print(render(table(args.seconds, args.rounds)))


if __name__ == "__main__":
    main()
