"""process(...) uprobes and kernel.tracepoint raw tracepoints through all five passes.

tests/programs/probed.c runs its loop three times with known arguments (-O0 and -O2).
Each test probes a private copy of the binary (uprobes are per file, so the copies
other tests run concurrently cannot add events) and checks every value exactly.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.bpf_harness.util import PYSTAP, loaded_programs, programs_held_by, wait_until_unloaded
from tests.programs import build, build_with_library, stripped_copy
from tests.support import REPO, require, require_root


def pystap(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*PYSTAP, *args], capture_output=True, text=True, cwd=REPO, timeout=timeout)


def private_copy(directory: Path, opt: str) -> str:
    target = directory / f"probed{opt}"
    shutil.copy2(build("probed", opt), target)
    return str(target)


@pytest.fixture(scope="module", params=["-O0", "-O2"])
def binary(request, tmp_path_factory) -> str:
    require_root()
    require(Path("/sys/bus/event_source/devices/uprobe/type").exists(), "the uprobe PMU")
    return private_copy(tmp_path_factory.mktemp("uprobe"), request.param)


def script(path: str) -> str:
    p = f'process("{path}")'
    return (
        f'probe {p}.statement("add@probed.c:24") {{ printf("sum %d\\n", $sum) }}\n'
        f'probe {p}.function("add").return {{ printf("ret %d a=%d b=%d\\n", $return, $a, @entry($b)) }}\n'
        f'probe {p}.function("greet") {{ printf("greet %s %d\\n", user_string($name), $times) }}\n'
        f'probe {p}.mark("greeted") {{ printf("greeted %s %d\\n", user_string($arg1), $arg2) }}\n'
        f'probe {p}.function("norm") {{ printf("norm %d %d %d %s %s\\n", $p->x, $p->y, $p->next->x, user_string($p->label), $p$) }}\n'
        f'probe {p}.function("norm").return {{ printf("norm ret %d\\n", $return) }}\n'
        f'probe {p}.mark("loop") {{ printf("loop %d %d %s\\n", $arg1, $arg2, user_string($arg3)) }}\n'
    )


def expected(rounds: int) -> list[str]:
    lines, checksum = [], 0
    for i in range(rounds):
        checksum += (100 + 2 * i) + 6 * (i + 1) - 30 + 2 * i
        lines += [
            f"sum {100 + 2 * i}", f"ret {100 + 2 * i} a={i} b={100 + i}",
            f"greet stapui {i + 1}", f"greeted stapui {6 * (i + 1)}",
            "norm 3 -40 7 head {.x=3, .y=-40, .label=0xADDR, .next=0xADDR}", "norm ret -30",
            f"loop {i} {checksum} head",
        ]
    return lines


def test_function_return_statement_and_mark_probes_exact(binary):
    result = pystap("-e", script(binary), "-c", f"{binary} 3")
    assert result.returncode == 0, result.stderr
    lines = [re.sub(r"0x[0-9a-f]+", "0xADDR", line) for line in result.stdout.splitlines()]
    assert lines.count("258") == 1  # the program's own output, in any order with the handlers'
    lines.remove("258")
    assert lines == expected(3)


def test_statement_line_patterns_hit_counts(binary):
    """One probe per line with code: norm's lines run once per call (at -O2 its entry
    holds 36-38, which `:*` probes as 38), the for statement's line 58 is probed at its
    initialisation (once), and add+2 is line 23."""
    p = f'process("{binary}")'
    points = f'{p}.statement("norm@probed.c:*"), {p}.statement("main@probed.c:58-60"), {p}.statement("add@probed.c+2")'
    result = pystap("-e", f"global hits; probe {points} {{ hits[pp()]++ }} "
                          'probe end { foreach (p in hits) printf("%s %d\\n", p, hits[p]) }', "-c", f"{binary} 3")
    assert result.returncode == 0, result.stderr
    counts = {int(line): int(count) for line, count in re.findall(r':(\d+)"\) (\d+)$', result.stdout, re.M)}
    norm = range(36, 42) if binary.endswith("-O0") else range(38, 41)
    assert counts == {58: 1, 59: 3, 60: 3, 23: 3, **{line: 3 for line in norm}}


def test_dollar_parms_and_probe_point(binary):
    body = 'printf("%s|%s|%d\\n", pp(), $$parms, $a + $b)'
    result = pystap("-e", f'probe process("{binary}").function("add") {{ {body} }}', "-c", f"{binary} 2")
    assert result.returncode == 0, result.stderr
    point = f'process("{binary}").function("add@{REPO / "tests" / "programs" / "probed.c"}:21")'
    handler = [line for line in result.stdout.splitlines() if line != "162"]
    assert handler == [f"{point}|a=0x0 b=0x64|100", f"{point}|a=0x1 b=0x65|102"]


def test_kernel_tracepoint_btf_arguments():
    require_root()
    body = 'if (pid() == target()) printf("%d %d %s %s\\n", $arg2 == pid(), $arg1->pid == pid(), $arg1->comm$, execname())'
    result = pystap("-e", f'probe kernel.tracepoint("sched_process_exec") {{ {body} }}', "-c", "/bin/true")
    assert result.returncode == 0, result.stderr
    assert result.stdout == '1 1 "true" true\n'


def test_changed_binary_is_refused_at_attach_time(tmp_path):
    """Translated against one build, run against another: stap's build-id check."""
    require_root()
    path = private_copy(tmp_path, "-O0")
    artifact = pystap("-p4", "-e", f'probe process("{path}").function("add") {{ println($a) }}')
    assert artifact.returncode == 0, artifact.stderr
    old = _build_id(path)
    shutil.copy2(build("probed", "-O2"), path)
    new = _build_id(path)
    assert old != new
    run = subprocess.run([artifact.stdout.strip(), "--command", f"{path} 1"], capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    assert run.stdout == ""  # the command never ran
    assert (f"{path} has changed since the script was translated (build-id {new}, expected {old}); "
            "translate the script again") in run.stderr


def _build_id(path: str) -> str:
    from engine.elaborate.elf import read_image

    return read_image(path, symbols=False).build_id


def test_nothing_stays_attached_after_kill_9(tmp_path):
    require_root()
    path = private_copy(tmp_path, "-O0")
    body = f'probe process("{path}").function("add").return {{ println($a) }}'
    driver = subprocess.Popen([*PYSTAP, "-e", body], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    try:
        runtime, held = _attached_runtime(driver.pid)
        assert len(held) == 2  # the return probe's program and its entry companion
        assert all(loaded_programs().get(i) == "stapui_capture" for i in held)
        os.kill(runtime, signal.SIGKILL)
        driver.wait(timeout=60)
    finally:
        driver.kill()
        driver.wait()
    assert wait_until_unloaded(held) == set()
    # and the binary runs unprobed: its uprobes are gone with the perf events
    assert subprocess.run([path, "1"], capture_output=True, text=True, timeout=60).stdout == "76\n"


def _attached_runtime(driver: int, programs: int = 2) -> tuple[int, set[int]]:
    """The runtime child of pystap and its BPF programs, once it has attached `programs`."""
    for _ in range(1200):
        children = Path(f"/proc/{driver}/task/{driver}/children").read_text().split()
        if children:
            runtime = int(children[0])
            held = programs_held_by(runtime)
            if len(held) >= programs:
                return runtime, held
        time.sleep(0.05)
    raise AssertionError("the runtime never attached its probes")


def test_c_restricts_process_probes_to_the_commands_hierarchy(tmp_path):
    """stap: with -c/-x, process probes fire only in the target's process hierarchy. The
    same binary runs in a loop outside it all along; only the command's children count."""
    require_root()
    path = private_copy(tmp_path, "-O0")
    outside = subprocess.Popen(["sh", "-c", f"while :; do {path} 1 >/dev/null; sleep 0.01; done"])
    try:
        body = f'probe process("{path}").function("add") {{ printf("%d %d\\n", ppid() == target(), $a) }}'
        result = pystap("-e", body, "-c", f'sh -c "{path} 1; {path} 2"')
    finally:
        outside.kill()
        outside.wait()
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stdout.splitlines() if line not in ("76", "162")] == ["1 0", "1 0", "1 1"]


def test_x_restricts_process_probes_to_that_process(tmp_path):
    """-x: only the target's hierarchy, while the same binary runs in a loop outside it too."""
    require_root()
    path = private_copy(tmp_path, "-O0")
    loop = f"while :; do {path} 1 >/dev/null; sleep 0.01; done"
    target, outside = (subprocess.Popen(["sh", "-c", loop]) for _ in range(2))
    body = f'global n probe process("{path}").function("add") {{ printf("%d %d\\n", ppid() == target(), $a); if (++n == 4) exit() }}'
    try:
        result = pystap("-x", str(target.pid), "-e", body)
    finally:
        for process in (target, outside):
            process.kill()
            process.wait()
    assert result.returncode == 0, result.stderr
    assert result.stdout == "1 0\n" * 4 + "n=4\n"  # stap prints the written-only global at exit


def test_library_function_and_return():
    """.library("libprobedlib*") found through the program's $ORIGIN run path; the
    probes are in the library file, so they fire in the -c command that loads it."""
    require_root()
    program = str(build_with_library())
    lib = f'process("{program}").library("libprobedlib*")'
    body = (f'probe {lib}.function("lib_scale") {{ printf("in %d %d\\n", $value, $factor) }}\n'
            f'probe {lib}.function("lib_scale").return {{ printf("out %d\\n", $return) }}')
    result = pystap("-e", body, "-c", program)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line != "21"]
    assert lines == ["in 0 7", "out 0", "in 1 7", "out 7", "in 2 7", "out 14"]


@pytest.mark.parametrize("point, reason", [
    ('process("/nonexistent/probed").function("add")', "cannot probe /nonexistent/probed: No such file or directory"),
    ('process("PROBED").function("nothere")', "no match (similar functions: norm, twice, _start)"),
    ('process("STRIPPED").function("add")', "has no symbols and no debug information (stripped; no .debug_info section"),
])
def test_probe_errors_through_pystap(point, reason):
    binary = build("probed", "-O0")
    point = point.replace("PROBED", str(binary)).replace("STRIPPED", str(stripped_copy(binary)))
    result = pystap("-e", f"probe {point} {{ }}")
    assert result.returncode == 1 and result.stdout == ""
    assert reason in result.stderr
    assert result.stderr.rstrip().endswith("Pass 2: analysis failed.  [man error::pass2]")


def test_program_begin_fires_once_per_process_of_that_executable(tmp_path):
    """process("PATH").begin: a uprobe at the executable's entry point; /bin/true runs too
    and is not counted; -c restricts it to the command's hierarchy."""
    require_root()
    path = private_copy(tmp_path, "-O0")
    body = f'global n probe process("{path}").begin {{ n++; printf("%s %d %d\\n", pp(), ppid() == target(), n) }}'
    result = pystap("-e", body, "-c", f'sh -c "{path} 1; /bin/true; {path} 2"')
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line not in ("76", "162")]
    assert lines == [f'process("{path}").begin 1 1', f'process("{path}").begin 1 2']


def test_unspecified_process_probe_is_the_c_program(tmp_path):
    """stap fills `process.function(...)` in with the -c command's program."""
    require_root()
    path = private_copy(tmp_path, "-O0")
    result = pystap("-e", 'probe process.function("add") { println($a) } probe process.mark("loop") { println($arg2) }',
                    "-c", f"{path} 2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    lines.remove("162")  # the program's own output, in any order with the handlers'
    assert lines == ["0", "76", "1", "162"]
    refused = pystap("-p2", "-e", 'probe process.function("add") { }')
    assert refused.returncode == 1
    assert "unspecified process probe is invalid without a -c COMMAND or -x PID [man stapprobes]" in refused.stderr


def test_rerun_after_the_binary_is_rebuilt_translates_again(tmp_path):
    """The start-up fast path reuses a build only while the probed files are unchanged."""
    require_root()
    path = private_copy(tmp_path, "-O0")
    body = f'probe process("{path}").function("add").return {{ println($return) }}'
    first = pystap("-e", body, "-c", f"{path} 1")
    shutil.copy2(build("probed", "-O2"), path)
    second = pystap("-e", body, "-c", f"{path} 1")
    assert (first.returncode, second.returncode) == (0, 0), second.stderr
    assert sorted(first.stdout.splitlines()) == sorted(second.stdout.splitlines()) == ["100", "76"]


@pytest.mark.parametrize("opt, called", [
    ("-O0", ["main", "add", "greet", "norm", "twice"] + ["add", "greet", "norm", "twice"]),
    ("-O2", ["main", "add", "greet", "norm"] + ["add", "greet", "norm"]),  # twice is folded away at -O2
])
def test_call_probes_fire_for_the_out_of_line_functions(tmp_path, opt, called):
    """.call: every function of probed.c that has a body of its own, once per call."""
    require_root()
    path = private_copy(tmp_path, opt)
    result = pystap("-e", f'probe process("{path}").function("*@*/probed.c").call {{ println(ppfunc()) }}',
                    "-c", f"{path} 2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    lines.remove("162")  # the program's own output, in any order with the handlers'
    assert lines == called


def test_inline_probe_fires_at_the_inlined_instance(tmp_path):
    """.inline: at -O2 glibc's atoi() is inlined into main, which calls it once when
    given an argument; the probe is at the instance's first address."""
    require_root()
    path = private_copy(tmp_path, "-O2")
    body = f'probe process("{path}").function("atoi").inline {{ println(pp()) }}'
    with_argument, without = pystap("-e", body, "-c", f"{path} 1"), pystap("-e", body, "-c", path)
    assert (with_argument.returncode, without.returncode) == (0, 0), with_argument.stderr + without.stderr
    assert sorted(with_argument.stdout.splitlines()) == [
        "76", f'process("{path}").function("atoi@/usr/include/stdlib.h:362").inline']
    assert without.stdout == "258\n"


@pytest.mark.parametrize("opt, body, expected", [
    ("-O0", 'printf("%s %s %d\\n", pp(), user_string($s), $most)', ["first 5", "second 5"]),
    ("-O2", 'printf("%s\\n", pp())', ["", ""]),  # no variables at -O2: stap lists none either
])
def test_inline_probe_values_at_each_inlined_call(opt, body, expected):
    """An always_inline function: one probe per inlined copy, its parameters read in the
    frame of the function it was inlined into; .call does not take it."""
    require_root()
    path = build("buffers", opt)
    result = pystap("-e", f'probe process("{path}").function("bounded").inline {{ {body} }}', "-c", str(path))
    assert result.returncode == 0, result.stderr
    point = f'process("{path}").function("bounded@{REPO / "tests" / "programs" / "buffers.c"}:7").inline'
    lines = result.stdout.splitlines()
    lines.remove("10")
    assert lines == [f"{point} {value}".rstrip() for value in expected]
    refused = pystap("-p2", "-e", f'probe process("{path}").function("bounded").call {{ }}')
    assert refused.returncode == 1 and "no match" in refused.stderr


@pytest.mark.parametrize("opt", ["-O0", "-O2"])
def test_return_probe_strings_are_read_at_the_return(opt):
    """user_string($text) (and user_string(@entry($text))) in a return probe: the pointer
    passed at the entry, the string as it is at the return -- rewrite() changed it, and
    the caller changes it back right after, so a late read would see "before";
    @entry(user_string($text)) is the string as it was at the entry, as in stap."""
    require_root()
    path = build("buffers", opt)
    body = (f'probe process("{path}").function("rewrite").return {{ printf("%s|%s|%s|%d\\n", '
            'user_string($text), user_string(@entry($text)), @entry(user_string($text)), $return) }')
    result = pystap("-e", body, "-c", str(path))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    lines.remove("10")  # the program's own output, in any order with the handlers'
    assert lines == ["first|first|before|5", "second|second|before|5"]
