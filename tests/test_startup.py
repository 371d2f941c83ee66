"""Start-up and shut-down: the fast path loads only what running a cached build needs
(no parser, elaborator, translator or ELF/DWARF reader, which a rerun of an unchanged
script skips, nor the standard modules that cost start-up most: dataclasses, inspect, enum,
re, typing, subprocess, hashlib, socket); at the end, the kernel probes a child of the
runtime detaches are all gone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.bpf_harness.util import PYSTAP, loaded_programs, programs_held_by, require_kernel_probes, wait_until_unloaded
from tests.support import REPO, require_root

# Runs pystap in-process, then lists every module of passes 1-4 (and their libraries) loaded.
PROGRAM = """
import sys
sys.path.insert(0, %r)
from engine.cli import main
status = main(sys.argv[1:])
heavy = ("lark", "elftools", "engine.parse", "engine.elaborate", "engine.translate", "engine.build", "concurrent",
         "engine.session", "engine.diagnostics", "dataclasses", "inspect", "enum", "re", "typing", "subprocess",
         "hashlib", "socket", "signal", "pathlib", "json")
loaded = sorted(m for m in sys.modules if m in heavy or m.startswith(tuple(h + "." for h in heavy)))
sys.stderr.write("loaded: %%s\\n" %% " ".join(loaded))
sys.exit(status)
""" % str(REPO)


def pystap(cache, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", PROGRAM, *args], capture_output=True, text=True, timeout=120,
                          cwd=REPO, env=dict(os.environ, XDG_CACHE_HOME=str(cache)))


def test_a_rerun_loads_no_pass_before_the_run(tmp_path):
    script = 'probe begin { println("hello") exit() }'
    first = pystap(tmp_path, "-e", script)
    assert (first.stdout, first.returncode) == ("hello\n", 0)
    assert {"engine.parse", "engine.translate"} <= set(first.stderr.split())  # passes 1-4 ran
    second = pystap(tmp_path, "-e", script)
    assert (second.stdout, second.stderr, second.returncode) == ("hello\n", "loaded: \n", 0)


def test_a_rerun_with_process_probes_checks_the_probed_binary(tmp_path):
    """Only then is the uprobe provider loaded: it tells whether the binary changed."""
    require_root()
    libc = "/usr/lib/x86_64-linux-gnu/libc.so.6"
    script = f'probe process("{libc}").function("getpid") {{ println("getpid") }} probe begin {{ println("hello") exit() }}'
    assert pystap(tmp_path, "-e", script).stdout == "hello\n"
    second = pystap(tmp_path, "-e", script)
    assert (second.stdout, second.returncode) == ("hello\n", 0)
    loaded = second.stderr.splitlines()[-1].split()[1:]
    assert "engine.elaborate.probes.uprobe" in loaded


def _runtime_of(pid: int) -> int | None:
    children = open(f"/proc/{pid}/task/{pid}/children").read().split()
    return int(children[0]) if children else None


def test_every_probe_is_detached_after_a_run_with_many(tmp_path):
    """A hundred syscall tracepoints: their perf events are closed by a child of the
    runtime after it has gone; each program is unloaded all the same."""
    require_kernel_probes()
    script = ('global n, printed probe syscall.* { n++ } probe timer.ms(100) { if (!printed++) println("attached") }'
              ' probe end { printf("%d %d\\n", n > 0, printed > 0) }')
    driver = subprocess.Popen([*PYSTAP, "-e", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=dict(os.environ, XDG_CACHE_HOME=str(tmp_path)))
    try:
        assert driver.stdout.readline() == "attached\n"
        held = programs_held_by(_runtime_of(driver.pid))
        loaded = loaded_programs()
        assert len(held) > 100 and {loaded.get(i) for i in held} == {"stapui_capture"}
        driver.send_signal(signal.SIGINT)  # the end of the run: the probes are detached
        out, err = driver.communicate(timeout=120)
    finally:
        driver.kill()
        driver.wait()
    assert (out, driver.returncode) == ("1 1\n", 0), err
    assert wait_until_unloaded(held) == set()
