"""kernel.trace("SYSTEM:EVENT") end to end through pystap: strings read at probe time,
__data_loc and char[] fields, $$parms/$$name, -L listing, errors that say why, and
nothing left attached when the runtime is killed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time

import pytest

from tests.bpf_harness.util import PYSTAP, build_workload, loaded_programs, programs_held_by, pystap, require_kernel_probes, wait_until_unloaded


@pytest.fixture(scope="module")
def workload(tmp_path_factory):
    require_kernel_probes()
    return build_workload(tmp_path_factory.mktemp("workload"))


def test_user_strings_are_read_at_probe_time(workload, tmp_path):
    (tmp_path / "f1").touch()
    script = 'probe kernel.trace("syscalls:sys_enter_openat") { if (pid() == target()) printf("%s\\n", user_string($filename)) }'
    result = pystap("-e", script, "-c", f"{workload} paths {tmp_path} 3")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{tmp_path}/f0\n{tmp_path}/f1\n{tmp_path}/f2\n"


def test_strings_the_kernel_cannot_read_are_read_again_in_user_space(workload, tmp_path):
    (tmp_path / "path").write_bytes(b"/etc/hostname\0")  # openat's argument, on a page not yet mapped
    script = 'probe kernel.trace("syscalls:sys_enter_openat") { if (pid() == target()) printf("%s\\n", user_string($filename)) }'
    result = pystap("-e", script, "-c", f"{workload} nonresident {tmp_path}/path")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{tmp_path}/path\n/etc/hostname\n"


def test_fields_parms_and_names(workload, tmp_path):
    script = (
        'probe kernel.trace("syscalls:sys_enter_openat") { if (pid() == target()) '
        'printf("%d %d %d|%s|%s|%s|%s\\n", $dfd, $flags, $mode, $dfd$, $$parms, $$name, $$system) }'
    )
    result = pystap("-e", script, "-c", f"{workload} paths {tmp_path} 1")
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(
        r"-100 0 0\|0xffffffffffffff9c\|__syscall_nr=0x101 dfd=0xffffffffffffff9c filename=0x[0-9a-f]+ "
        r"flags=0x0 mode=0x0\|sys_enter_openat\|syscalls\n",
        result.stdout,
    ), result.stdout


def test_data_loc_string_field(workload):
    script = (
        'probe kernel.trace("sched:sched_process_exec") { if (pid() == target()) '
        'printf("%s %d %d %s\\n", $filename, $pid == pid(), $old_pid == pid(), execname()) }'
    )
    result = pystap("-e", script, "-c", f"{workload} counts 0 0 0 0")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{workload} 1 1 workload\n"


def test_char_array_fields_and_context(workload):
    script = (
        'probe kernel.trace("sched:sched_switch") { if ($prev_pid == target()) '
        'printf("%s %s %d\\n", $prev_comm, execname(), tid() == $prev_pid) }'
    )
    result = pystap("-e", script, "-c", "/bin/sleep 0.1")
    assert result.returncode == 0, result.stderr
    lines = set(result.stdout.splitlines())
    assert "sleep sleep 1" in lines  # the switched-out task is the current one when the event fires
    assert all(line.split() in (["sleep", "sleep", "1"], ["stap", "stap", "1"]) for line in lines)  # stap: before exec


def test_listing_shows_fields_with_types(workload):
    result = pystap("-L", 'kernel.trace("syscalls:sys_enter_openat")')
    assert result.stdout == (
        'kernel.trace("syscalls:sys_enter_openat") $__syscall_nr:int $dfd:int $filename:const char* $flags:int $mode:umode_t\n'
    )
    listed = pystap("-l", 'kernel.trace("sched:sched_process_*")').stdout.splitlines()
    assert 'kernel.trace("sched:sched_process_exec")' in listed
    assert all(line.startswith('kernel.trace("sched:sched_process_') for line in listed)


def test_unknown_field_names_the_alternatives(workload):
    result = pystap("-p2", "-e", 'probe kernel.trace("syscalls:sys_enter_openat") { println($nosuch) }')
    assert result.returncode == 1
    assert result.stderr.startswith(
        "semantic error: unable to find tracepoint variable '$nosuch' (alternatives: $__syscall_nr $dfd $filename $flags $mode)"
    )


def test_missing_tracepoint_fails_in_pass_2(workload):
    result = pystap("-p2", "-e", 'probe kernel.trace("syscalls:no_such_event") { println(1) }')
    assert result.returncode == 1
    assert "semantic error: no match" in result.stderr
    assert result.stderr.rstrip().endswith("Pass 2: analysis failed.  [man error::pass2]")


def test_attach_refused_without_privileges_says_why(workload, tmp_path):
    built = pystap("-p4", "-e", 'probe kernel.trace("syscalls:sys_enter_getppid") { println(pid()) }')
    assert built.returncode == 0, built.stderr
    exe = tmp_path / "script"
    exe.write_bytes(open(built.stdout.strip(), "rb").read())
    exe.chmod(0o755)
    tmp_path.chmod(0o755)
    run = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(exe)], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 1
    assert run.stderr == "ERROR: cannot create BPF map 'stp_events': Operation not permitted\n"


def _children(pid: int) -> list[int]:
    children = []
    for task in os.listdir(f"/proc/{pid}/task"):
        text = open(f"/proc/{pid}/task/{task}/children").read()
        children += [int(c) for c in text.split()]
    return children


def test_nothing_stays_attached_after_the_runtime_is_killed(workload):
    script = 'probe kernel.trace("syscalls:sys_enter_getppid") { if (pid() == $1) println("attached") }'
    driver = subprocess.Popen([*PYSTAP, "-e", script, str(os.getpid())], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        held: set[int] = set()
        for _ in range(600):  # until the probe is attached (the build may take a few seconds)
            runtime = next(iter(_children(driver.pid)), None)
            held = programs_held_by(runtime) if runtime is not None else set()
            if held:
                break
            time.sleep(0.05)
        assert held and all(loaded_programs().get(i) == "stapui_capture" for i in held)
        os.getppid()
        assert driver.stdout.readline() == "attached\n"
        os.kill(runtime, signal.SIGKILL)
        driver.wait(timeout=60)
    finally:
        driver.kill()
        driver.wait()
    assert driver.returncode != 0
    assert wait_until_unloaded(held) == set()


def test_events_the_handlers_cannot_keep_up_with_are_counted(workload):
    script = (
        "global handled, sums\n"
        'probe kernel.trace("syscalls:sys_enter_getpid") { if (pid() == target()) { handled++; for (i = 0; i < 200; i++) sums[i % 7] += i } }\n'
        'probe end { printf("handled %d\\n", handled) }\n'
    )
    # each lost event is a skipped probe: MAXSKIPPED raised so the run goes on to the end
    result = pystap("-DMAXSKIPPED=100000000", "-e", script, "-c", f"{workload} counts 0 0 1000000 0")
    assert result.returncode == 0, result.stderr
    handled = int(re.search(r"^handled (\d+)$", result.stdout, re.M).group(1))
    lost = int(re.search(r'^WARNING: (\d+) records lost \(kernel.trace\("syscalls:sys_enter_getpid"\)\)$', result.stderr, re.M).group(1))
    # other processes' getpid calls are dropped (or filtered) too, so the sum can only be larger
    assert 0 < handled < 1_000_000 and handled + lost >= 1_000_000


def test_context_functions_describe_the_event(workload):
    script = (
        'probe kernel.trace("syscalls:sys_enter_getpid") { if (pid() == target()) '
        'printf("%d %d %d %d %d %d %d %s %d %s %d\\n", pid() == tid(), ppid() == stp_pid(), uid(), gid(), euid(), egid(), '
        "cpu() >= 0 && cpu() < 1024, execname(), gettimeofday_s() - $1 < 60, pp(), is_return()) }"
    )
    result = pystap("-e", script, str(int(time.time())), "-c", f"{workload} counts 0 0 1 0")
    assert result.returncode == 0, result.stderr
    assert result.stdout == '1 1 0 0 0 0 1 workload 1 kernel.trace("syscalls:sys_enter_getpid") 0\n'


def test_events_queued_when_the_command_exits_are_all_handled(workload):
    """50 000 records fit in the ring; slow handlers leave a backlog when -c's command
    ends, and every one of them still runs before the end probes (as in stap)."""
    script = (
        "global handled, sums\n"
        'probe kernel.trace("syscalls:sys_enter_getpid") { if (pid() == target()) { handled++; for (i = 0; i < 200; i++) sums[i % 7] += i } }\n'
        'probe end { printf("handled %d\\n", handled) }\n'
    )
    result = pystap("-e", script, "-c", f"{workload} counts 0 0 50000 0")
    assert result.returncode == 0, result.stderr
    # (events of other processes arriving after the catch-up may still be counted as lost)
    assert result.stdout.splitlines()[0] == "handled 50000", (result.stdout[:200], result.stderr)
