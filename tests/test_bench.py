"""Smoke tests of the benchmark suite (bench/): the workloads build and report what they
did, the output parsers read both tracers' formats, and on tiny workloads each
benchmark's bpftrace and pystap scripts count the same events. No timings are asserted."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bench import output, startup, syscall, uprobe
from bench.workloads import build
from bench.workloads.tracers import figures, histogram, run
from tests.support import REPO, require, require_root

STAP_HIST = """value |-------------------------------------------------- count
    0 |                                                   0
    1 |@@@@@                                             10
    2 |@@                                                 4
      ~
   64 |@                                                  1
  128 |                                                   0
"""
BPFTRACE_HIST = """@h:
[1]                   10 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[2, 4)                 4 |@@@@@@@@@@@@@@@@@@@@                                |
[4, 8)                 0 |                                                    |
[64, 128)              1 |@@@@@                                               |
[1K, 2K)               2 |@@@@@@@@@@                                          |

@n: 17
@c[bench_sys]: 12
"""


def test_parsers_read_both_tracers():
    assert histogram(STAP_HIST) == {1: 10, 2: 4, 64: 1}
    assert histogram(BPFTRACE_HIST) == {1: 10, 2: 4, 64: 1, 1024: 2}
    assert figures(BPFTRACE_HIST) == {"n": 17, "c[bench_sys]": 12}
    assert figures("n 5\nc[3] 7\nnot a figure 1\n") == {"n": 5, "c[3]": 7}
    assert figures("1000,,probe_bench_call:stapui_entry,10429,100.00,,\n") == {"probe_bench_call:stapui_entry": 1000}


def _done(argv: list[str]) -> list[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()


def test_workloads_build_and_count():
    assert _done([str(build("bench_call")), "1000"])[:2] == ["done", "1000"]
    assert _done([str(build("bench_sys")), "getpid", "300", "2"])[:2] == ["done", "600"]
    assert _done([str(build("bench_sys")), "read", "40", "3"])[:2] == ["done", "120"]
    assert _done([str(build("bench_sys")), "getpid", "500", "1", "100000"])[:2] == ["done", "500"]


@pytest.fixture(scope="module")
def tracers() -> None:
    require_root()
    require(shutil.which("bpftrace") is not None, "bpftrace (apt-get install bpftrace)")
    require(shutil.which("perf") is not None, "perf (apt-get install linux-perf)")
    require(Path("/sys/kernel/tracing/events/syscalls").is_dir(), "syscall tracepoints in tracefs")


@pytest.mark.parametrize("script", [s for s in syscall.SCRIPTS if s.counted], ids=lambda s: s.name)
def test_syscall_scripts_count_the_same(tracers, script):
    command = [str(build("bench_sys", syscall.COMM)), script.call, "3000", "2"]
    traced = {way: run(way, command, script=getattr(script, way)) for way in ("bpftrace", "pystap")}
    traced[syscall.BTF_WAY] = run("pystap", command, script=script.pystap, extra=[syscall.BTF])
    assert figures(traced[syscall.BTF_WAY].output) == figures(traced["pystap"].output)
    for way, result in traced.items():
        assert result.failed == "", (way, result.errors)
        assert result.events == 6000, (way, result.errors)
        assert syscall.lost(result, script) == 0, (way, result.output, result.errors)
    seen = figures(traced["pystap"].output)[script.counted]
    both = (traced["bpftrace"].output, traced["pystap"].output)
    assert figures(traced["bpftrace"].output)[script.counted] == seen, both
    if script.call == "getpid":
        assert seen == 6001  # the loop's calls and the handshake's own getpid
    else:
        assert 6000 < seen <= 6016, traced["pystap"].output  # the loop's calls and the dynamic loader's reads
    if script.name == "histogram of read sizes":
        sizes = histogram(traced["pystap"].output)
        assert sizes == histogram(traced["bpftrace"].output)
        sizes_read = (1, 2, 4, 8, 32, 64, 128)  # 16 is also the loader's: 750 and a few
        assert {size: sizes[size] for size in sizes_read} == dict.fromkeys(sizes_read, 750)


def test_output_writes_every_line(tracers):
    runs, lines = output.measure("1000", 20000)
    assert [r.failed for r in runs.values()] == [""] * 4
    assert runs["bare"].events == 1000
    assert runs["pystap"].events == runs["bpftrace"].events == 1000
    assert lines == {"bpftrace": 1001, "pystap": 1001}  # and the handshake's own getpid


@pytest.mark.parametrize("script", uprobe.SCRIPTS, ids=lambda s: s.name)
def test_uprobe_scripts_count_every_call(tracers, script):
    require(Path("/sys/bus/event_source/devices/uprobe/type").exists(), "the uprobe PMU")
    runs = uprobe.measure(script, 640)
    assert runs["bare"].events == 640
    for way in ("perf", "bpftrace", "pystap"):
        assert runs[way].failed == "" and uprobe.counted(runs[way]) == 640, (way, runs[way].errors)
    pystap, bpftrace = runs["pystap"].output, runs["bpftrace"].output
    assert figures(pystap) == figures(bpftrace), (pystap, bpftrace)
    assert histogram(pystap) == histogram(bpftrace), (pystap, bpftrace)
    if script.name == "count by arg":
        assert figures(pystap) == {f"c[{x}]": 10 for x in range(64)}
    if script.name.startswith("@hist_log"):
        assert histogram(pystap) == {0: 10, 1: 10, 2: 20, 4: 40, 8: 80, 16: 160, 32: 320}
    if script.returns:
        assert histogram(pystap) == {1: 10, 2: 10, 4: 20, 8: 40, 16: 80, 32: 160, 64: 320}


def test_startup_scripts_see_the_first_event(tracers):
    loop = subprocess.Popen([str(build("bench_sys", startup.COMM)), "getpid", "60s", "1", "1000"],
                            stdout=subprocess.DEVNULL)
    try:
        assert startup.first_event_seconds(["bpftrace", "-e", startup.BPFTRACE], {}) is not None
        pystap = [*startup.pystap_command(REPO), "-e", startup.PYSTAP_SCRIPT]
        assert startup.first_event_seconds(pystap, {}) is not None
    finally:
        loop.kill()
        loop.wait()


def test_startup_installed_copy_runs_on_its_prebuilt_runtime(tmp_path):
    """The "as installed" cold start: the copy carries the C runtime setup.py would build,
    so its first run with an empty cache compiles only the script."""
    argv = startup.installed_copy(tmp_path / "site-packages")
    runtime = tmp_path / "site-packages" / "runtime_c"
    assert (runtime / "libstaprt.a").exists() and (runtime / "libstaprt.stamp").exists()
    run = subprocess.run([*argv, "-e", 'probe begin { println("installed") exit() }'], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert (run.stdout, run.returncode) == ("installed\n", 0), run.stderr
    assert not (tmp_path / "cache" / "stapui" / "build" / "runtime").exists()
