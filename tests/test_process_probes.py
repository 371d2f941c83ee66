"""process.begin/.end, process("PATH").begin/.end and process(PID).begin/.end through all
five passes, with stap's task-finder semantics (engine/translate/bpf/process_tracking.py).

tests/programs/spawner.c is the workload: `spawner 3 2 SPAWNED` forks three children
that exit at once and two that exec SPAWNED (a second copy of the same program, which
exits at once), waits for them, then starts and joins a thread. Each test runs private,
uniquely named copies, so processes of concurrent tests never match and `execname()`
tells the two images apart.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.bpf_harness.util import PYSTAP, require_kernel_probes
from tests.programs import build
from tests.support import REPO, stap_oracle


@pytest.fixture
def images(tmp_path) -> tuple[str, str]:
    """(SPAWNER, SPAWNED): private copies whose names are their comm."""
    require_kernel_probes()
    tag = f"{os.getpid() % 100000}"
    spawner, spawned = tmp_path / f"spawner{tag}", tmp_path / f"spawned{tag}"
    for copy in (spawner, spawned):
        shutil.copy2(build("spawner", "-O0", "-pthread"), copy)
    return str(spawner), str(spawned)


def counting_script(spawner: str, spawned: str) -> str:
    """Every begin and end of the two images, by probe and execname()."""
    names = f'"^({Path(spawner).name}|{Path(spawned).name})$"'
    probes = [(f'process("{spawner}")', "path"), (f'process("{spawned}")', "spawned"), ("process", "all")]
    text = "global n\n"
    for point, label in probes:
        for which in ("begin", "end"):
            text += f'probe {point}.{which} {{ if (execname() =~ {names}) n["{which}", "{label}", execname()]++ }}\n'
    return text + 'probe end { foreach ([w, l, e] in n) printf("%s %s %s %d\\n", w, l, e, n[w, l, e]) }\n'


def counts(output: str, spawner: str, spawned: str) -> list[str]:
    text = output.replace(Path(spawner).name, "SPAWNER").replace(Path(spawned).name, "SPAWNED")
    return sorted(line for line in text.splitlines() if line and line != "ready")


def test_fork_and_exec_workload_counts(images):
    """Without -c/-x: a forked child of a matching process begins (in its own context),
    an exec ends the old image and begins the new one, only a process's last thread
    ends it. The test's own fork of the workload execs SPAWNER: that child (a python
    image, so not counted at its begin) ends as SPAWNER at the exec, as in stap, where
    the end runs after the exec."""
    spawner, spawned = images
    me = os.getpid()
    script = counting_script(spawner, spawned)
    script += f'probe process({me}).begin {{ println("ready") }}\n'  # at start-up: every probe is attached
    script += f'probe process("{spawner}").end {{ if (ppid() == {me}) exit() }}\n'
    run = subprocess.Popen([*PYSTAP, "-e", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert run.stdout.readline() == "ready\n", run.stderr.read()
        subprocess.run([spawner, "3", "2", spawned], check=True, timeout=60)
        out, err = run.communicate(timeout=120)
    finally:
        run.kill()
        run.wait()
    assert run.returncode == 0, err
    assert counts(out, spawner, spawned) == [
        "begin all SPAWNED 2",
        "begin all SPAWNER 6",  # the workload, its 3 + 2 forked children
        "begin path SPAWNER 6",
        "begin spawned SPAWNED 2",  # the two execs
        "end all SPAWNED 4",  # 2 exec'ing away from SPAWNER (after the exec), 2 exits
        "end all SPAWNER 5",  # the test's child exec'ing SPAWNER, 3 children, the workload
        "end path SPAWNED 2",
        "end path SPAWNER 4",
        "end spawned SPAWNED 2",
    ]


def test_with_c_children_match_once_they_exec(images):
    """stap under -c/-x: only the target's hierarchy, and a forked child begins only
    when it execs; the command's own exec begins it (the runtime's fork is its own)."""
    spawner, spawned = images
    result = subprocess.run([*PYSTAP, "-e", counting_script(spawner, spawned), "-c", f"{spawner} 3 2 {spawned}"],
                            capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 0, result.stderr
    assert counts(result.stdout, spawner, spawned) == [
        "begin all SPAWNED 2", "begin all SPAWNER 1", "begin path SPAWNER 1", "begin spawned SPAWNED 2",
        "end all SPAWNED 2", "end all SPAWNER 1", "end path SPAWNER 1", "end spawned SPAWNED 2",
    ]


def run_across_exec(spawner: str, spawned: str, args: list[str], first_lines: int) -> tuple[list[str], list[str], int]:
    """Start a SPAWNER that waits, then pystap `args` (given its pid for PID); after
    pystap's first `first_lines` lines close the SPAWNER's stdin so that it execs
    SPAWNED. Returns those lines (sorted), the rest of the output (sorted), the status."""
    waiting = subprocess.Popen([spawner, "wait", spawned], stdin=subprocess.PIPE)
    args = [arg.replace("PID", str(waiting.pid)) for arg in args]
    run = subprocess.Popen([*PYSTAP, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        first = sorted(run.stdout.readline().rstrip("\n") for _ in range(first_lines))
        waiting.stdin.close()
        out, err = run.communicate(timeout=120)
    finally:
        for process in (run, waiting):
            process.kill()
            process.wait()
    assert run.returncode == 0, err
    return first, sorted(out.splitlines()), waiting.pid


def test_begin_for_running_processes_and_pid_probes(images):
    """process("PATH").begin and process(PID).begin fire at start-up for a process already
    running, in its context; process(PID).end when that process execs (it is no longer
    the process it was), and process("PATH").end too (it no longer runs PATH)."""
    spawner, spawned = images
    line = f'printf("%s %d %d %d %s\\n", pp(), pid() == PID, tid() == PID, ppid() == {os.getpid()}, execname())'
    script = (f"global ends\n"
              f'probe process("{spawner}").begin, process(PID).begin {{ {line} }}\n'
              f'probe process("{spawner}").end, process(PID).end {{ {line}; if (++ends == 2) exit() }}\n')
    started, rest, pid = run_across_exec(spawner, spawned, ["-e", script], 2)
    name, new = Path(spawner).name, Path(spawned).name
    assert started == [f'process("{spawner}").begin 1 1 1 {name}', f"process({pid}).begin 1 1 1 {name}"]
    assert rest == ["ends=2", f'process("{spawner}").end 1 1 1 {new}', f"process({pid}).end 1 1 1 {new}"]


def test_x_begins_only_the_target_at_start_up(images):
    """-x PID: of the processes running at start-up only the target begins (stap's task
    finder looks at no other); its exec ends it and begins it again."""
    spawner, spawned = images
    line = 'printf("%s %d %s\\n", pn(), pid() == target(), execname()); if (++seen == 3) exit()'
    script = f"global seen probe process.begin, process.end {{ {line} }}"
    started, rest, _ = run_across_exec(spawner, spawned, ["-x", "PID", "-e", script], 1)
    new = Path(spawned).name
    assert started == [f"process.begin 1 {Path(spawner).name}"]
    assert rest == [f"process.begin 1 {new}", f"process.end 1 {new}", "seen=3"]


@pytest.mark.parametrize("points", [
    'process("/bin/true").begin, process("true").end, process.begin, process(1).end, process.end',
    'process("/nonexistent/prog").end',
])
def test_elaborated_like_stap(points):
    script = f"probe {points} {{ println(pid()) }}"
    ours = subprocess.run([*PYSTAP, "-p2", "-e", script], capture_output=True, text=True, cwd=REPO, timeout=120)
    theirs = stap_oracle("-p2", "-e", script)
    assert ours.returncode == theirs.returncode == 0, ours.stderr
    resolved = re.compile(r"^(process\S*) /\*", re.M)
    assert resolved.findall(ours.stdout) == resolved.findall(theirs.stdout)


@pytest.mark.parametrize("script, message", [
    ("probe process(999999999).begin { }", "cannot probe pid 999999999: No such process"),
    ("probe process.begin { println($foo) }",
     'only "process(PATH_OR_PID).syscall" and "process(PATH_OR_PID).syscall.return" probes support target symbols'),
])
def test_refused_like_stap(script, message):
    ours = subprocess.run([*PYSTAP, "-p2", "-e", script], capture_output=True, text=True, cwd=REPO, timeout=120)
    theirs = stap_oracle("-p2", "-e", script)
    assert ours.returncode == theirs.returncode == 1
    assert message in ours.stderr and message in theirs.stderr


def test_wildcard_lists_begin_and_end_as_stap():
    """`process.*` matches both lifecycle probes (stap also offers process.syscall, which
    this runtime does not have)."""
    for point in ("process.*", 'process("/bin/true").*'):
        ours = subprocess.run([*PYSTAP, "-l", point], capture_output=True, text=True, cwd=REPO, timeout=120)
        theirs = stap_oracle("-l", point).stdout.splitlines()
        listed = ours.stdout.splitlines()
        assert [line.rsplit(".", 1)[1] for line in listed] == ["begin", "end"]
        assert set(listed) <= set(theirs)
