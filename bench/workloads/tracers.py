"""Run a workload four ways in one process tree: bare, perf stat, bpftrace, pystap.

Each way starts the workload itself (`-c` for the tracers, after their probes are attached).
The workload pauses before and after its timed loop (the sync.h handshake over a FIFO), so
the bench reads the CPU time of the tracer's own processes from /proc at both ends of the
loop while they are all alive, and the loop's time excludes every tracer's start-up.
"""

from __future__ import annotations

import os
import re
import select
import shlex
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
PYSTAP = [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(REPO)!r}); from engine.cli import entry; entry()"]
WAYS = ("bare", "perf", "bpftrace", "pystap")
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    """One workload run under one way of tracing."""

    way: str
    events: int = 0  # calls the workload made
    cpu_ns: int = 0  # the workers' CPU time in their loops, kernel time included
    wall_ns: int = 0
    tracer_cpu_s: float = 0.0  # user+system time of the tracer's processes during the loop
    output: str = ""  # the tracer's output (stdout, -o file, or perf's counts)
    errors: str = ""  # the tracer's stderr
    failed: str = ""  # why there is no result, "" when there is
    others: tuple[str, ...] = ()  # other processes holding BPF programs when the loop started


def command_line(way: str, command: list[str], script: str, events: list[str], extra: list[str]) -> list[str]:
    """The argv that runs `command` under `way` (`events` are perf's, `script` the tracer's)."""
    if way == "bare":
        return command
    if way == "perf":
        return ["perf", "stat", "-x,", *[a for e in events for a in ("-e", e)], *extra, "--", *command]
    if way == "bpftrace":
        return ["bpftrace", *extra, "-e", script, "-c", shlex.join(command)]
    return [*PYSTAP, *extra, "-e", script, "-c", shlex.join(command)]


def run(way: str, command: list[str], *, script: str = "", events: list[str] = (), extra: list[str] = (),
        env: dict[str, str] | None = None, timeout: float = 120.0) -> Run:
    """Run `command` under `way`; a tracer that cannot run gives a Run with `failed` set."""
    with tempfile.TemporaryDirectory(prefix="stapui-bench-") as tmp:
        fifo = Path(tmp) / "sync"
        os.mkfifo(fifo)
        out, err = open(Path(tmp) / "out", "w+"), open(Path(tmp) / "err", "w+")
        proc = subprocess.Popen(command_line(way, command, script, list(events), list(extra)),
                                stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=tmp,
                                env={**os.environ, **(env or {}), "BENCH_SYNC": str(fifo)}, start_new_session=True)
        result = Run(way)
        try:
            _follow(proc, fifo, result, timeout)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        out.seek(0), err.seek(0)
        result.output, result.errors = out.read(), err.read()
        if way == "perf":
            result.output = result.errors
        if proc.returncode != 0 and not result.failed:
            result.failed = f"exit status {proc.returncode}"
        if result.failed:
            result.failed += ": " + _first_error(result.errors)
        return result


def _follow(proc: subprocess.Popen, fifo: Path, result: Run, timeout: float) -> None:
    started = _message(proc, fifo, timeout)
    if not started:
        result.failed = "the workload never started"
        return
    workload = int(started.split()[1])
    result.others = other_tracers(proc.pid)
    before = tracer_cpu(proc.pid, workload)
    os.kill(workload, signal.SIGUSR1)
    done = _message(proc, fifo, timeout)
    if not done:
        result.failed = f"the workload did not finish (tracer status {proc.poll()})"
        return
    result.tracer_cpu_s = tracer_cpu(proc.pid, workload) - before
    result.events, result.cpu_ns, result.wall_ns = map(int, done.split()[1:4])
    os.kill(workload, signal.SIGUSR1)
    proc.wait(timeout=timeout)


def _message(proc: subprocess.Popen, fifo: Path, timeout: float) -> str:
    """The next line the workload writes to the FIFO; "" if the tracer exits first."""
    data, waited = b"", 0.0
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        while not data.endswith(b"\n") and waited < timeout:
            ready, _, _ = select.select([fd], [], [], 0.2)
            chunk = os.read(fd, 256) if ready else b""
            data += chunk
            if ready and not chunk:  # a writer came and went: wait for the next one
                os.close(fd)
                fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
            if not ready:
                waited += 0.2
                if proc.poll() is not None:
                    return ""
    finally:
        os.close(fd)
    return data.decode()


def tracer_cpu(root: int, workload: int) -> float:
    """User+system seconds of `root` and its descendants, minus the workload's subtree."""
    parents, cpu = {}, {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry)] = int(fields[1])
            cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / TICK
    total = 0.0
    for pid in cpu:
        chain = _ancestry(pid, parents)
        if root in chain and workload not in chain:
            total += cpu[pid]
    return total


_ALREADY_THERE: set[str] = set()  # BPF holders present before this bench's first run


def other_tracers(root: int) -> tuple[str, ...]:
    """Processes outside the tree of `root` that hold BPF programs and were not there when
    the bench started: other tracers, whose programs on the same tracepoints would add
    their cost to every run, bare ones too. (Long-running holders are the machine's.)"""
    if not _ALREADY_THERE:
        _ALREADY_THERE.update(_bpf_holders(root) or {""})
    return tuple(p for p in _bpf_holders(root) if p not in _ALREADY_THERE)


def _bpf_holders(root: int) -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == root or int(entry) == os.getpid():
            continue
        try:
            links = [os.readlink(f"/proc/{entry}/fd/{fd}") for fd in os.listdir(f"/proc/{entry}/fd")]
            comm = Path(f"/proc/{entry}/comm").read_text().strip()
        except OSError:
            continue
        if "anon_inode:bpf-prog" in links and root not in _ancestry(int(entry), _parents()):
            found.append(f"{comm}[{entry}]")
    return found


def _parents() -> dict[int, int]:
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    return parents


def _ancestry(pid: int, parents: dict[int, int]) -> list[int]:
    chain = [pid]
    while chain[-1] in parents and parents[chain[-1]] not in (0, chain[-1]) and len(chain) < 64:
        chain.append(parents[chain[-1]])
    return chain


def _first_error(stderr: str) -> str:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    interesting = [line for line in lines if "error" in line.lower() and "RLIMIT" not in line] or lines
    return interesting[0] if interesting else "no message"


def figures(output: str) -> dict[str, int]:
    """`NAME NUMBER` lines (our stap scripts), `@NAME: NUMBER` (bpftrace's maps, keys kept
    as `NAME[KEY]`) and perf stat's `COUNT,,EVENT,...` lines of a tracer's output."""
    found = {m[1]: int(m[2]) for m in re.finditer(r"^([\w\[\]]+) (-?\d+)$", output, re.M)}
    found.update({m[1]: int(m[2]) for m in re.finditer(r"^@([\w\[\]]+): (-?\d+)$", output, re.M)})
    found.update({m[2]: int(m[1]) for m in re.finditer(r"^(\d+),[^,]*,([\w:]+),", output, re.M)})
    return found


_SUFFIX = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def histogram(output: str) -> dict[int, int]:
    """Non-empty buckets {low bound: count} of a stap @hist_log or a bpftrace hist()."""
    buckets = {}
    for m in re.finditer(r"^\s*(-?\d+) \|[@ ]*?\s*(\d+)$", output, re.M):  # stap
        buckets[int(m[1])] = int(m[2])
    for m in re.finditer(r"^\[(-?\d+)([KMG]?)(?:, [^)]*\)|\])\s+(\d+) \|", output, re.M):  # bpftrace
        buckets[int(m[1]) * _SUFFIX[m[2]]] = int(m[3])
    return {low: n for low, n in buckets.items() if n}


def run_ways(command: list[str], scripts: dict[str, str], events: list[str], *, ways=WAYS, rounds: int = 1,
             extra: dict[str, list[str]] | None = None, timeout: float = 300.0) -> dict[str, Run]:
    """The same workload bare, under perf stat on `events`, bpftrace and pystap, in `rounds`
    interleaved rounds; per way the run with the least CPU per event (the least disturbed
    by other load on the machine) is kept."""
    best: dict[str, Run] = {}
    for _ in range(rounds):
        for way in ways:
            result = run(way, command, script=scripts.get(way, ""), events=events,
                         extra=(extra or {}).get(way, []), timeout=timeout)
            if way not in best or _better(result, best[way]):
                best[way] = result
    return best


def _better(new: Run, old: Run) -> bool:
    if not new.events or not old.events:
        return bool(new.events)
    return new.cpu_ns / new.events < old.cpu_ns / old.events


def lost_warnings(run: Run) -> list[str]:
    """The tracer's own reports of dropped events or records."""
    return [line.strip() for line in run.errors.splitlines() if re.search(r"\blost\b|\bdrop", line, re.I)]
