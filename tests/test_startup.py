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

import pytest

from engine.run.process import Process
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


def test_ctrl_c_ends_a_rerun_with_its_end_probes(tmp_path):
    """A rerun reads its records in the main thread: the relayed SIGINT still stops the run."""
    script = 'probe begin { println("ready") } probe end { println("bye") }'
    for loaded in ({"engine.parse", "engine.translate"}, set()):  # passes 1-4, then a cached rerun
        proc = subprocess.Popen([sys.executable, "-c", PROGRAM, "-e", script], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=REPO, env=dict(os.environ, XDG_CACHE_HOME=str(tmp_path)))
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        assert (out, proc.returncode) == ("bye\n", 0)
        assert loaded <= set(err.split()[1:]) and (loaded or err == "loaded: \n")


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


# --- the runtime's process (engine/run/process.py): what subprocess.Popen gave it -----------

def _spawned(shell: str, **options) -> tuple[Process, str]:
    """Run `bash -c shell` with a pipe on descriptor $OUT; (the process once ended, what it wrote)."""
    read, write = os.pipe()
    try:
        proc = Process(["/bin/bash", "-c", shell.replace("$OUT", str(write))], (write,), **options)
    finally:
        os.close(write)
    with os.fdopen(read) as pipe:
        written = pipe.read()
    proc.wait(60)
    proc.close()
    return proc, written


def test_a_spawned_runtime_inherits_only_the_channel_and_standard_descriptors(tmp_path):
    leaked = os.open(tmp_path, os.O_RDONLY)
    os.set_inheritable(leaked, True)  # as a descriptor pystap's own parent gave it would be
    try:
        proc, written = _spawned(f"test -e /proc/self/fd/{leaked} && echo leaked >&$OUT; echo ok >&$OUT")
    finally:
        os.close(leaked)
    assert (written, proc.returncode) == ("ok\n", 0)


def test_a_spawned_runtime_reads_dev_null_in_its_own_session_with_default_signal_actions():
    proc, written = _spawned("readlink /proc/self/fd/0 >&$OUT; cut -d' ' -f6 /proc/self/stat >&$OUT;"
                             " grep SigIgn /proc/self/status >&$OUT", devnull_stdin=True, new_session=True)
    stdin, session, ignored = written.splitlines()
    assert (stdin, int(session)) == ("/dev/null", proc.pid)
    sigpipe_sigxfsz = (1 << (signal.SIGPIPE - 1)) | (1 << (signal.SIGXFSZ - 1))  # Python ignores both
    assert int(ignored.split()[1], 16) & sigpipe_sigxfsz == 0


def test_a_spawned_process_reports_its_status_as_popen_does():
    assert _spawned("exit 3")[0].returncode == 3
    sleeper = Process(["/bin/sleep", "60"])
    assert (sleeper.wait(0.05), sleeper.poll(), sleeper.returncode) == (None, None, None)
    sleeper.kill()
    assert (sleeper.wait(), sleeper.poll()) == (-signal.SIGKILL, -signal.SIGKILL)
    sleeper.send_signal(signal.SIGTERM)  # reaped: never signals the pid again
    sleeper.close()
    assert (sleeper.returncode, sleeper.wait(), sleeper.poll()) == (-signal.SIGKILL, -signal.SIGKILL, -signal.SIGKILL)


def test_a_program_that_cannot_start_is_an_error_of_the_caller(tmp_path):
    with pytest.raises(FileNotFoundError):
        Process([str(tmp_path / "missing")])
