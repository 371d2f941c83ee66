"""Syscall probes on the BTF raw tracepoints sys_enter/sys_exit (-DSTP_SYSCALL_BTF,
issue 8): the same values as through the perf tracepoints (the default), compat syscalls
left out as the tracepoints leave them out, and the cases that keep perf tracepoints say
why. Programs of either kind read the current task directly (TASK_REGISTER)."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from tests.bpf_harness.util import compile_program, pystap
from tests.conformance_cases import load_all, run_cases
from tests.support import require_root, require_tracefs

BTF = "-DSTP_SYSCALL_BTF"
SYSCALL_CASES = 32  # conformance cases with a syscall probe (tests/conformance/kernel.cases)

# argv[1] getpid()s, argv[2] compat syscalls with the same number (int $0x80 runs the
# i386 table, where 39 is mkdir: EFAULT here), then reads of 1..argv[3] bytes on fd 77.
PROGRAM = r"""
#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

static long compat_syscall(long nr, long arg)
{
	long ret;

	asm volatile("int $0x80" : "=a"(ret) : "a"(nr), "b"(arg) : "memory", "r8", "r9", "r10", "r11");
	return ret;
}

int main(int argc, char **argv)
{
	char buf[128];
	int fd = open("/dev/zero", O_RDONLY);

	dup2(fd, 77);
	for (int i = 0; i < atoi(argv[2]); i++)
		compat_syscall(SYS_getpid, 0);
	for (int i = 0; i < atoi(argv[1]); i++)
		syscall(SYS_getpid);
	for (int size = 1; size <= atoi(argv[3]); size++)
		if (read(77, buf, size) != size)
			return 1;
	return 0;
}
"""

COUNTS = """global n, back
probe syscall.getpid { if (pid() == target()) n++ }
probe syscall.getpid.return { if (pid() == target() && retval == pid()) back++ }
probe end { printf("%d %d\\n", n, back) }
"""

READS = """global want
probe syscall.read { if (pid() == target() && $fd == 77) { want[tid()] = 1; printf("%s(%d, %d) %s\\n", name, $fd, $count, argstr) } }
probe syscall.read.return { if (want[tid()]) { delete want[tid()]; printf("= %s\\n", retstr) } }
"""

HISTOGRAM = """global sizes
probe syscall.read { if (execname() == "sysbtf" && fd == 77) sizes <<< count }
probe end { printf("%d %d\\n", @count(sizes), @sum(sizes)) print(@hist_log(sizes)) }
"""


@pytest.fixture(scope="module")
def program(tmp_path_factory) -> str:
    require_root()
    require_tracefs()
    return str(compile_program(tmp_path_factory.mktemp("sysbtf"), "sysbtf", PROGRAM))


def attach_notes(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "tracepoint" in line and line.startswith("probe ")]


def both_ways(script: str, command: str, normalize=lambda text: text) -> str:
    """The script's output through the BTF raw tracepoints, which must equal the perf
    tracepoints' output (after `normalize`)."""
    btf = pystap("-v", BTF, "-e", script, "-c", command)
    perf = pystap("-v", "-e", script, "-c", command)
    assert btf.returncode == 0 and perf.returncode == 0, (btf.stderr, perf.stderr)
    assert all("BTF raw tracepoint" in line for line in attach_notes(btf.stderr)), btf.stderr
    assert all(": perf tracepoint syscalls:" in line for line in attach_notes(perf.stderr)), perf.stderr
    assert normalize(btf.stdout) == normalize(perf.stdout)
    return normalize(btf.stdout)


def test_compat_syscalls_are_not_counted(program):
    """int $0x80 with eax 39 is i386's mkdir; the x86-64 getpid probe must not see it."""
    assert both_ways(COUNTS, f"{program} 5 7 0") == "5 5\n"


def test_arguments_and_return_values(program):
    expected = "".join(f"read(77, {n}) 77, XXXX, {n}\n= {n}\n" for n in range(1, 4))
    assert both_ways(READS, f"{program} 0 0 3", _masked) == expected


def _masked(text: str) -> str:
    """argstr's buffer address differs from run to run: mask it."""
    lines = []
    for line in text.splitlines():
        if line.startswith("read("):
            head, args = line.split(") ", 1)
            fd, _address, count = args.split(", ")
            line = f"{head}) {fd}, XXXX, {count}"
        lines.append(line + "\n")
    return "".join(lines)


def test_in_kernel_histogram(program):
    output = both_ways(HISTOGRAM, f"{program} 0 0 100")
    assert output.splitlines()[0] == "100 5050"
    rows = {int(line.split("|")[0]): int(line.split()[-1]) for line in output.splitlines()[2:] if "|" in line and line.split()[-1] != "0"}
    assert rows == {1: 1, 2: 2, 4: 4, 8: 8, 16: 16, 32: 32, 64: 37}


def test_refused_aggregation_falls_back_behind_the_prologue(program):
    """A verifier refusal loads the capture program alone: it still needs the prologue's record."""
    result = pystap(BTF, "-DSTP_KERNEL_AGGREGATION_REFUSE", "-e", HISTOGRAM, "-c", f"{program} 0 0 10")
    assert result.returncode == 0, result.stderr
    assert "using the user-space handler" in result.stderr
    assert result.stdout.splitlines()[0] == "10 55"


def test_listing_names_the_attachment(program):
    result = pystap("-p3", "-v", BTF, "-e", COUNTS)
    assert result.returncode == 0, result.stderr
    assert attach_notes(result.stderr) == [
        'probe kernel.trace("syscalls:sys_enter_getpid"): BTF raw tracepoint sys_enter, syscall 39',
        'probe kernel.trace("syscalls:sys_exit_getpid"): BTF raw tracepoint sys_exit, syscall 39',
    ]
    assert "(probe 0, 64-byte records, sys_enter syscall 39) */" in result.stdout
    default = pystap("-p3", "-v", "-e", COUNTS)
    assert attach_notes(default.stderr) == [
        'probe kernel.trace("syscalls:sys_enter_getpid"): perf tracepoint syscalls:sys_enter_getpid',
        'probe kernel.trace("syscalls:sys_exit_getpid"): perf tracepoint syscalls:sys_exit_getpid',
    ]


def test_many_syscall_probes_keep_perf_tracepoints(program):
    """Every syscall runs every program on sys_enter: five or more stay on perf tracepoints."""
    names = ["getpid", "getppid", "getuid", "geteuid", "getgid"]
    script = "global n probe " + ", ".join(f"syscall.{name}" for name in names) + " { n++ }"
    result = pystap("-p3", "-v", BTF, "-e", script)
    assert result.returncode == 0, result.stderr
    notes = attach_notes(result.stderr)
    assert len(notes) == 5
    assert all(note.endswith("(more than 4 syscall probes use sys_enter)") for note in notes), notes


def test_backtraces_keep_perf_tracepoints(program):
    result = pystap("-p3", "-v", BTF, "-e", "probe syscall.getpid { print_ubacktrace() }")
    assert result.returncode == 0, result.stderr
    assert attach_notes(result.stderr) == [
        'probe kernel.trace("syscalls:sys_enter_getpid"): perf tracepoint syscalls:sys_enter_getpid'
        " (backtraces need the tracepoint's context)"
    ]


IDENTITY = """probe syscall.getpid {
  if (pid() == target())
    printf("%s pid=%d tid=%d ppid=%d uid=%d euid=%d gid=%d egid=%d\\n", execname(), pid() - target(),
           tid() - target(), ppid() == stp_pid(), uid(), euid(), gid(), egid())
}
"""


def test_header_read_from_the_task(program):
    """The record header comes from the task the prologue found: the same values as the
    perf path's helpers, here for a process running as nobody (65534) whose parent is
    the runtime (stp_pid())."""
    command = f"setpriv --reuid=65534 --regid=65534 --clear-groups {program} 2 0 0"
    expected = "sysbtf pid=0 tid=0 ppid=1 uid=65534 euid=65534 gid=65534 egid=65534\n"
    assert both_ways(IDENTITY, command) == expected * 2


KEYS = """global per, calls
probe syscall.read { if (execname() == "sysbtf" && fd == 77) per[execname(), pid(), tid()] += count }
probe syscall.getpid { if (execname() == "sysbtf") calls[tid()]++ }
probe end {
  foreach ([name, p, t] in per) printf("%s %d %d %d\\n", name, p == target(), t == target(), per[name, p, t])
  foreach (t in calls) printf("%d %d\\n", t == target(), calls[t])
}
"""


def test_in_kernel_keys_read_from_the_task(program):
    """execname(), pid() and tid() as keys of in-kernel aggregates, loaded from the task."""
    result = pystap("-v", BTF, "-e", KEYS, "-c", f"{program} 3 0 10")
    assert [line for line in result.stderr.splitlines() if "in-kernel aggregation" in line] == [
        'probe kernel.trace("syscalls:sys_enter_read"): in-kernel aggregation (sum per by execname(), pid(), tid())',
        'probe kernel.trace("syscalls:sys_enter_getpid"): in-kernel aggregation (count calls by tid())',
    ]
    assert both_ways(KEYS, f"{program} 3 0 10") == "sysbtf 1 1 55\n1 3\n"


LATENCY = """global start, lat
probe syscall.read { if (execname() == "sysbtf" && fd == 77) start[tid()] = gettimeofday_ns() }
probe syscall.read.return { if (tid() in start) { lat <<< gettimeofday_ns() - start[tid()]; delete start[tid()] } }
probe end { printf("%d %d\\n", @count(lat), @min(lat) > 0) }
"""


def test_stash_of_times_in_task_local_storage(program):
    """start[tid()] lives with the task (no hash map) through either attachment: the same
    latencies counted as by the user-space handlers."""
    assert '.stash = STP_AGG_STASH_TASK}' in pystap("-p3", "-e", LATENCY).stdout
    assert '.stash = STP_AGG_STASH_TASK}' in pystap("-p3", BTF, "-e", LATENCY).stdout
    assert both_ways(LATENCY, f"{program} 0 0 100") == "100 1\n"
    user = pystap("-DSTP_NO_KERNEL_AGGREGATION", "-e", LATENCY, "-c", f"{program} 0 0 100")
    assert user.stdout == "100 1\n", user.stderr


def test_stash_keyed_otherwise_stays_a_hash_map(program):
    listing = pystap("-p3", "-e", LATENCY.replace("[tid()]", "[pid()]"))
    assert '.stash = STP_AGG_STASH_HASH}' in listing.stdout


def test_conformance_syscall_cases_on_btf_raw_tracepoints():
    """Every conformance case probing a syscall gives the case's expected stdout, stderr
    and status with -DSTP_SYSCALL_BTF too."""
    require_root()
    require_tracefs()
    cases = [case for case in load_all() if re.search(r"\bsyscall\.|syscalls:", case.script)]
    assert len(cases) == SYSCALL_CASES, [case.name for case in cases]
    bound = [case.bind() for case in cases]
    runs = run_cases([replace(b, options=[BTF, *b.options]) for b in bound])
    failures = [
        (case.name, b.unbind(run.stdout), b.unbind(run.stderr), run.returncode)
        for case, b, run in zip(cases, bound, runs)
        if (b.unbind(run.stdout), b.unbind(run.stderr), run.returncode) != (case.stdout, case.stderr, case.expected_status)
    ]
    assert failures == []
