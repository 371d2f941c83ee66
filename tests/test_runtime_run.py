"""Pass 5 end to end: non-root runs, timers, bulk output through the channel, signals,
and a crashed or killed runtime never hanging pystap."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.support import REPO, require, require_root

ENTRY = "import sys; sys.path.insert(0, %r); from engine.cli import entry; entry()" % str(REPO)
PYSTAP = [sys.executable, "-c", ENTRY]


def pystap(*args: str, timeout: float = 120, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*PYSTAP, *args], capture_output=True, text=True, timeout=timeout, cwd=REPO, **kwargs)


def start_pystap(*args: str) -> subprocess.Popen:
    return subprocess.Popen([*PYSTAP, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)


@pytest.fixture(scope="module", autouse=True)
def runtime_built():
    from engine.build.compiler import find_compiler
    from engine.build.runtime_lib import runtime_library

    runtime_library(find_compiler())


def _nobody_python(workdir: Path) -> tuple[str, dict]:
    """An interpreter and environment with which uid 65534 can run pystap: ours if that
    user can import lark from it, else the system python3 with our pure-Python
    dependencies copied where it can read them."""
    home = workdir / "home"  # a real user's home, owned by that user
    home.mkdir()
    os.chown(home, 65534, 65534)
    env = dict(os.environ, HOME=str(home), PYTHONPATH=str(REPO))
    env.pop("XDG_CACHE_HOME", None)
    probe = [*_as_nobody(), sys.executable, "-c", "import lark"]
    if subprocess.run(probe, capture_output=True, env=env).returncode == 0:
        return sys.executable, env
    site = workdir / "site"
    for name in ("lark", "elftools"):
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            shutil.copytree(list(spec.submodule_search_locations)[0], site / name)
    subprocess.run(["chmod", "-R", "a+rX", str(workdir)], check=True)
    env["PYTHONPATH"] = f"{site}:{REPO}"
    return shutil.which("python3", path="/usr/bin:/bin") or sys.executable, env


def _as_nobody() -> list[str]:
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def test_hello_as_non_root_user():
    require_root()  # to switch to uid 65534
    require(shutil.which("setpriv") is not None, "setpriv (util-linux)")
    workdir = Path(tempfile.mkdtemp(prefix="stapui-nobody-"))
    try:
        os.chmod(workdir, 0o755)
        python, env = _nobody_python(workdir)
        proc = subprocess.run(
            [*_as_nobody(), python, "-c", "from engine.cli import entry; entry()", "-e",
             'probe begin { println("hello") exit() }'],
            capture_output=True, text=True, timeout=300, cwd=workdir, env=env,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    assert (proc.stdout, proc.returncode) == ("hello\n", 0), proc.stderr


def test_timer_lines_arrive_complete_and_in_order():
    proc = pystap("-T", "2", "-e", "global n probe timer.ms(10) { n++; printf(\"%d\\n\", n) }")
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0 and proc.stderr == ""
    assert len(lines) > 0
    assert lines == [str(i) for i in range(1, len(lines) + 1)]


def test_a_million_lines_lose_none(tmp_path):
    out = tmp_path / "out.txt"
    script = 'probe begin { for (i = 0; i < 1000000; i++) printf("%d\\n", i); exit() }'
    proc = pystap("-DMAXACTION=1000000", "-o", str(out), "-e", script, timeout=300)
    assert (proc.returncode, proc.stderr) == (0, "")
    data = out.read_bytes()
    assert data.count(b"\n") == 1000000
    assert data == b"".join(b"%d\n" % i for i in range(1000000))


def test_runtime_crash_is_reported():
    # Output of completed handlers survives: the reader salvages committed records.
    script = 'function crash() %{ *(volatile int *)0 = 1; %} probe begin(-1) { println("before") } probe begin { crash() }'
    proc = pystap("-g", "-e", script, timeout=120)
    assert proc.returncode != 0
    assert proc.stdout == "before\n"
    assert "ERROR: the runtime was killed by signal 11 (SIGSEGV)" in proc.stderr


def _first_line(proc: subprocess.Popen, timeout: float = 120) -> str:
    """The first output line (pystap prints output as it arrives)."""
    deadline = time.monotonic() + timeout
    line = proc.stdout.readline()
    assert time.monotonic() < deadline
    return line


def test_killed_runtime_never_hangs_pystap():
    proc = start_pystap("-e", 'probe begin { printf("%d\\n", pid()) } probe timer.s(1) { println("tick") }')
    runtime_pid = int(_first_line(proc))
    os.kill(runtime_pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "ERROR: the runtime was killed by signal 9 (SIGKILL)" in err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_runs_end_probes(signum):
    proc = start_pystap("-e", 'probe begin { println("ready") } probe end { println("bye") }')
    assert _first_line(proc) == "ready\n"
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert (out, err, proc.returncode) == ("bye\n", "", 0)


def test_killed_pystap_takes_the_runtime_with_it():
    proc = start_pystap("-e", 'probe begin { printf("%d\\n", pid()) } probe timer.s(1) { println("tick") }')
    runtime_pid = int(_first_line(proc))
    proc.kill()
    proc.communicate(timeout=60)
    for _ in range(600):  # the runtime gets SIGTERM from the kernel (PR_SET_PDEATHSIG)
        if not Path(f"/proc/{runtime_pid}").exists() or _is_zombie(runtime_pid):
            break
        time.sleep(0.05)
    assert not Path(f"/proc/{runtime_pid}").exists() or _is_zombie(runtime_pid)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except (OSError, IndexError):
        return True


def test_exhausted_limit_ends_the_run():
    proc = pystap("-e", "global n probe timer.ms(1) { while (1) n++ }")
    assert proc.returncode == 1
    assert proc.stderr == (
        "ERROR: MAXACTION exceeded near keyword at <input>:1:30\n"
        "WARNING: Number of errors: 1, skipped probes: 0\n"
        "Pass 5: run failed.  [man error::pass5]\n"
    )


def test_p4_prints_the_cached_executable():
    first = pystap("-p4", "-e", 'probe begin { println("cached") exit() }')
    second = pystap("-p4", "-e", 'probe begin { println("cached") exit() }')
    path = first.stdout.strip()
    assert first.returncode == 0 and path == second.stdout.strip()
    run = subprocess.run([path], capture_output=True, text=True, timeout=60)
    assert (run.stdout, run.returncode) == ("cached\n", 0)
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as f:  # statically linked: runs on any x86-64 Linux machine
        assert not any(seg["p_type"] == "PT_INTERP" for seg in ELFFile(f).iter_segments())


def test_verbose_pass_lines():
    proc = pystap("-v", "-e", 'probe begin { println("v") exit() }')
    passes = [line.split(":")[0] for line in proc.stderr.splitlines() if line.startswith("Pass ")]
    assert passes == ["Pass 1", "Pass 2", "Pass 3", "Pass 4", "Pass 5", "Pass 5"]
    assert "Pass 5: starting run.\n" in proc.stderr
    assert proc.stdout == "v\n"


def test_rerun_skips_passes_one_to_four(tmp_path):
    from engine.run import fastpath
    from engine.session import Options

    script = tmp_path / "rerun.stp"
    script.write_text('probe begin { elided = 5; println("again"); exit() }\n')
    first = pystap(str(script))
    assert fastpath.lookup(Options(script_file=str(script))) is not None
    second = pystap(str(script))
    assert (second.stdout, second.stderr, second.returncode) == (first.stdout, first.stderr, first.returncode)
    assert first.stdout == "again\n"
    assert "WARNING: Eliding assignment to 'elided'" in second.stderr  # pass-2 warnings are replayed
    script.write_text('probe begin { println("changed"); exit() }\n')
    assert fastpath.lookup(Options(script_file=str(script))) is None
    assert pystap(str(script)).stdout == "changed\n"


def test_closed_output_ends_the_run_quietly():
    proc = start_pystap("-e", 'probe timer.ms(1) { println("x") }')
    assert _first_line(proc) == "x\n"
    proc.stdout.close()  # like `pystap ... | head -1`
    err = proc.stderr.read()
    assert (proc.wait(timeout=60), err) == (0, "")
