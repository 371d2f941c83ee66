"""Uprobe hit cost (issue 8). Run: python3 bench/uprobe.py [--calls N]

bench/workloads/bench_call.c calls a non-inlined function `work(x)` N times (default
1 000 000), bare, under `perf stat` counting a `perf probe -x` uprobe on it (the floor: the
trap alone), under bpftrace and under pystap. Scripts: count; count by argument;
@hist_log of the argument; `.return` with a histogram of $return. Reported: nanoseconds
each hit adds to the bare loop, with the ratios to bpftrace and to the floor, and the
hits the script counted against the calls made.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.workloads import build  # noqa: E402
from bench.workloads.report import Row, cpu_per_million, failures, overhead_ns, render  # noqa: E402
from bench.workloads.tracers import Run, figures, run_ways  # noqa: E402

PROBE_GROUP = "probe_bench_call"


@dataclass
class Script:
    name: str
    returns: bool  # on the function's return (the floor is a uretprobe)
    bpftrace: str  # with EXE for the workload's path
    pystap: str

    def texts(self, exe: str) -> dict[str, str]:
        return {"bpftrace": self.bpftrace.replace("EXE", exe), "pystap": self.pystap.replace("EXE", exe)}


ENTRY = 'process("EXE").function("work")'
SCRIPTS = [
    Script("count", False, "uprobe:EXE:work { @n = count(); }",
           f'global n probe {ENTRY} {{ n++ }} probe end {{ printf("n %d\\n", n) }}'),
    Script("count by arg", False, "uprobe:EXE:work { @c[arg0] = count(); }",
           f"global c probe {ENTRY} {{ c[$x]++ }}"
           ' probe end { foreach (k+ in c) printf("c[%d] %d\\n", k, c[k]) }'),
    Script("@hist_log of arg", False, "uprobe:EXE:work { @h = hist(arg0); @n = count(); }",
           f"global h probe {ENTRY} {{ h <<< $x }}"
           ' probe end { printf("n %d\\n", @count(h)) print(@hist_log(h)) }'),
    Script(".return $return", True, "uretprobe:EXE:work { @h = hist(retval); @n = count(); }",
           f"global h probe {ENTRY}.return {{ h <<< $return }}"
           ' probe end { printf("n %d\\n", @count(h)) print(@hist_log(h)) }'),
]


@contextlib.contextmanager
def floor_event(exe: str, returns: bool) -> Iterator[str]:
    """A uprobe event made with `perf probe -x` for perf stat to count; removed after.
    Raises OSError with perf's message when it cannot be made (tracefs busy, no debug info)."""
    name = "stapui_entry"
    spec = f"{name}=work%return" if returns else f"{name}=work"
    event = f"{PROBE_GROUP}:{name}__return" if returns else f"{PROBE_GROUP}:{name}"  # perf's naming
    for _ in range(3):  # uprobe_events is shared: a concurrent writer can make one attempt fail
        subprocess.run(["perf", "probe", "-q", "-d", event], capture_output=True)  # left by a killed run
        made = subprocess.run(["perf", "probe", "-q", "-x", exe, "-a", spec], capture_output=True, text=True)
        if made.returncode == 0:
            break
        time.sleep(1)
    else:
        raise OSError(f"perf probe -x {exe} -a {spec}: {made.stderr.strip() or made.returncode}")
    try:
        yield event
    finally:
        subprocess.run(["perf", "probe", "-q", "-d", event], capture_output=True)


def measure(script: Script, calls: int, rounds: int = 1) -> dict[str, Run]:
    exe = str(build("bench_call"))
    try:
        with floor_event(exe, script.returns) as event:
            return run_ways([exe, str(calls)], script.texts(exe), [event], rounds=rounds)
    except OSError as error:
        runs = run_ways([exe, str(calls)], script.texts(exe), [], ways=("bare", "bpftrace", "pystap"), rounds=rounds)
        return {**runs, "perf": Run("perf", failed=f"no floor event: {error}")}


def counted(run: Run) -> int | None:
    """The hits the tracer saw: a count, the sum of a per-argument count, or perf's count."""
    found = figures(run.output)
    if run.way == "perf":
        return next((v for k, v in found.items() if k.startswith(PROBE_GROUP)), None)
    if "n" in found:
        return found["n"]
    return sum(v for k, v in found.items() if k.startswith("c[")) or None


def rows(script: Script, runs: dict[str, Run]) -> list[Row]:
    bare = runs["bare"]
    tracers = {w: r for w, r in runs.items() if w != "bare"}
    notes = failures(runs)
    return [
        Row("uprobe", script.name, "CPU ns/hit over bare", {w: overhead_ns(r, bare) for w, r in tracers.items()},
            notes=notes),
        Row("uprobe", script.name, "hits missed",
            {w: None if counted(r) is None else r.events - counted(r) for w, r in tracers.items()}, ratios=False),
        Row("uprobe", script.name, "tracer CPU s/M hits", {w: cpu_per_million(r) for w, r in tracers.items()}),
    ]


def table(calls: int, rounds: int = 1) -> list[Row]:
    return [row for s in SCRIPTS for row in rows(s, measure(s, calls, rounds))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000, help="calls of work() per run (default 1000000)")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds, best kept (default 1)")
    args = parser.parse_args()
    print(render(table(args.calls, args.rounds)))


if __name__ == "__main__":
    main()
