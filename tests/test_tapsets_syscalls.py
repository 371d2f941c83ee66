"""The syscall.* aliases beyond the first hundred: each lists the variables stap's lists
(checked against the stap oracle), and a program of ours sees stap's argstr and retstr."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.bpf_harness.util import pystap, require_kernel_probes
from tests.support import REPO, _oracle_tree, require, stap_oracle

# Every alias these tests cover: each must list exactly the variables stap's does.
ALIASES = """
    getpgrp getpgid setpgid getsid setsid getpriority setpriority getresuid getresgid setreuid setregid
    setresuid setresgid setfsuid setfsgid getgroups setgroups prctl arch_prctl waitid
    fchownat lchown linkat symlinkat mknod mknodat creat chroot flock fadvise64 fallocate readahead fstatfs
    statfs sync_file_range syncfs faccessat2 utimensat futimesat utimes utime splice tee vmsplice
    copy_file_range preadv pwritev preadv2 pwritev2
    setxattr lsetxattr fsetxattr getxattr lgetxattr fgetxattr listxattr llistxattr flistxattr removexattr
    lremovexattr fremovexattr
    mlock mlock2 munlock mlockall munlockall mremap msync mincore
    getitimer setitimer alarm pause time clock_getres clock_settime settimeofday timer_create timer_settime
    timer_gettime timer_getoverrun timer_delete
    getsockname getpeername getsockopt setsockopt socketpair shutdown
    inotify_init inotify_add_watch inotify_rm_watch eventfd timerfd_create timerfd_settime timerfd_gettime
    msgget msgsnd msgrcv msgctl semget semop semtimedop semctl shmget shmat shmdt shmctl
    mq_open mq_unlink mq_timedsend mq_timedreceive mq_notify mq_getsetattr
    sched_getaffinity sched_setaffinity sched_getparam sched_setparam sched_getscheduler sched_setscheduler
    sched_get_priority_max sched_get_priority_min getrlimit setrlimit getrusage unshare setns tkill getcpu
    personality mount umount memfd_create
    rt_sigpending rt_sigsuspend restart_syscall sethostname setdomainname acct pivot_root swapoff vhangup capget
    capset pkey_free pkey_mprotect io_setup io_destroy io_submit io_cancel io_getevents recvmmsg sendmmsg
    get_robust_list set_robust_list sched_rr_get_interval process_vm_readv process_vm_writev kcmp
    remap_file_pages memfd_secret ustat name_to_handle_at open_by_handle_at
    ioprio_get ioprio_set membarrier userfaultfd syslog swapon pkey_alloc
""".split()

_SCRIPT_VARIABLE = re.compile(r"(?<!\S)([A-Za-z_]\w*:(?:long|string))(?!\S)")


def _variables(listing: str) -> dict[str, list[str]]:
    """`-L` lines as {probe point: its script variables, sorted}; $target variables are left out
    (ours are the tracepoint's fields, the oracle's whatever its kprobes see)."""
    out = {}
    for line in listing.splitlines():
        point, _, rest = line.partition(" ")
        out[point] = sorted(_SCRIPT_VARIABLE.findall(rest))
    return out


@pytest.fixture(scope="module")
def oracle_tree(tmp_path_factory) -> Path:
    """The oracle's fake build tree plus a System.map from /proc/kallsyms.

    stap resolves syscall.NAME through kprobe.function("__x64_sys_NAME") when it has no
    kernel debuginfo, and finds that symbol in the build tree's System.map; without one it
    cannot resolve any syscall alias.
    """
    require(Path("/proc/kallsyms").exists(), "/proc/kallsyms")
    tree = tmp_path_factory.mktemp("oracle") / "build"
    shutil.copytree(_oracle_tree(), tree)
    text = [line for line in Path("/proc/kallsyms").read_text().splitlines() if line[17:18] in "Tt" and "[" not in line]
    require(not text[0].startswith("0000000000000000"), "kernel symbol addresses (root)")
    (tree / "System.map").write_text("\n".join(text) + "\n")
    return tree


@pytest.mark.parametrize("suffix", ["", ".return"])
def test_listed_variables_are_stap_s(oracle_tree, suffix):
    pattern = f"syscall.*{suffix}"
    ours = pystap("-L", pattern)
    # a second -r overrides the one stap_oracle passes
    theirs = stap_oracle("-r", str(oracle_tree), "-L", pattern, timeout=600)
    assert ours.returncode == 0 and theirs.returncode == 0, (ours.stderr, theirs.stderr)
    ours_vars, theirs_vars = _variables(ours.stdout), _variables(theirs.stdout)
    points = [f"syscall.{name}{suffix}" for name in ALIASES]
    expected = {p: theirs_vars.get(p) for p in points}
    for point in points:
        # The oracle resolves the socket and IPC multiplexers' returns (socketcall, ipc) to
        # nothing without kernel debuginfo; there stap's alias sets name, retval and retstr.
        if suffix and expected[point] == []:
            expected[point] = ["name:string", "retstr:string", "retval:long"]
    assert {p: ours_vars.get(p) for p in points} == expected


@pytest.fixture(scope="module")
def program(tmp_path_factory) -> Path:
    require_kernel_probes()
    exe = tmp_path_factory.mktemp("syscalls_more") / "syscalls_more"
    source = REPO / "tests/programs/syscalls_more.c"
    subprocess.run(["gcc", "-O1", "-Wall", "-Wextra", "-Werror", str(source), "-o", str(exe)], check=True)
    return exe


_TRACED = (
    "mknodat fchownat getdents flock getpgid prctl setpriority getpriority getitimer waitid mlock munlock mlock2 "
    "msync socketpair setsockopt shutdown getxattr inotify_init inotify_add_watch eventfd inotify_rm_watch "
    "msgget shmget semget msgctl shmctl semctl getrusage sched_get_priority_max sched_getscheduler ioprio_get personality "
    "memfd_create"
).split()


def test_argstr_and_retstr_are_stap_s(program, tmp_path):
    entries = ", ".join(f"syscall.{name}" for name in _TRACED)
    returns = ", ".join(f"syscall.{name}.return" for name in _TRACED)
    script = (
        f'probe {entries} {{ if (pid() == target()) printf("%s(%s)\\n", name, argstr) }}\n'
        f'probe {returns} {{ if (pid() == target()) printf("%s = %s\\n", name, retstr) }}\n'
    )
    d = tmp_path / "dir"
    d.mkdir()
    result = pystap("-e", script, "-c", f"{program} {d}")
    assert result.returncode == 0, (result.stdout, result.stderr)
    ids = dict(re.fullmatch(r"(\w+get) = (\d+)", line).groups() for line in result.stdout.splitlines() if "get = " in line)
    queue, segment, semaphores = ids.get("msgget"), ids.get("shmget"), ids.get("semget")
    ioprio = next((line.split()[-1] for line in result.stdout.splitlines() if line.startswith("ioprio_get = ")), None)
    # Values by stap's formats: %p addresses in hex, flags by name in the kernel's order,
    # prctl's argument decoded per option.
    assert result.stdout.splitlines() == [
        f'mknodat(AT_FDCWD, "{d}/a", S_IFIFO|0644, 0)', "mknodat = 0",
        f'fchownat(AT_FDCWD, "{d}/bb", 0, 0, AT_SYMLINK_NOFOLLOW)', "fchownat = 0",
        "getdents(3, 0x200001000, 4096)", "getdents = 96",
        "getdents(3, 0x200001000, 4096)", "getdents = 0",
        "flock(3, LOCK_EX|LOCK_NB)", "flock = 0",
        "getpgid(-5)", "getpgid = -3 (ESRCH)",
        "prctl(PR_SET_NAME, 0x200000000)", "prctl = 0",
        "prctl(PR_GET_DUMPABLE)", "prctl = 1",
        "prctl(PR_SET_TIMING, PR_TIMING_STATISTICAL)", "prctl = 0",
        "setpriority(PRIO_PROCESS, 0, 5)", "setpriority = 0",
        "getpriority(PRIO_PROCESS, 0)", "getpriority = 15",
        "getitimer(ITIMER_REAL, 0x200002000)", "getitimer = 0",
        "waitid(P_ALL, 0, 0x200002100, WEXITED, 0x0)", "waitid = 0",
        "mlock(0x200000000, 8192)", "mlock = 0",
        "munlock(0x200000000, 8192)", "munlock = 0",
        "mlock2(0x200000000, 4096, MLOCK_ONFAULT)", "mlock2 = 0",
        "msync(0x200002000, 4096, MS_INVALIDATE|MS_SYNC)", "msync = 0",
        "socketpair(PF_LOCAL, SOCK_STREAM, 0, 0x200003000)", "socketpair = 0",
        "setsockopt(3, SOL_SOCKET, SO_SNDBUF, 0x200003010, 4)", "setsockopt = 0",
        "shutdown(3, SHUT_WR)", "shutdown = 0",
        'getxattr("/nonexistent/x", "user.k", 0x200003040, 3)', "getxattr = -2 (ENOENT)",
        "inotify_init1(IN_CLOEXEC)", "inotify_init1 = 5",
        f'inotify_add_watch(5, "{d}", IN_CREATE|IN_DELETE)', "inotify_add_watch = 1",
        "eventfd2(3, EFD_NONBLOCK|EFD_CLOEXEC)", "eventfd2 = 6",
        "inotify_rm_watch(5, 1)", "inotify_rm_watch = 0",
        # shmget's flags are looked up even when none is set, as stap's are
        "msgget(IPC_PRIVATE, IPC_CREAT|0600)", f"msgget = {queue}",
        "shmget(0, 4096, 0x0|0600)", f"shmget = {segment}",
        "semget(IPC_PRIVATE, 1, IPC_CREAT|IPC_EXCL|0600)", f"semget = {semaphores}",
        f"msgctl({queue}, IPC_RMID, 0x0)", "msgctl = 0",
        f"shmctl({segment}, IPC_RMID, 0x0)", "shmctl = 0",
        f"semctl({semaphores}, 0, IPC_RMID, 0x0)", "semctl = 0",
        "getrusage(RUSAGE_SELF, 0x200003080)", "getrusage = 0",
        "sched_get_priority_max(SCHED_FIFO)", "sched_get_priority_max = 99",
        "sched_getscheduler(0)", "sched_getscheduler = 0",
        "ioprio_get(IOPRIO_WHO_PROCESS, 0)", f"ioprio_get = {ioprio}",
        "personality(0xffffffff)", "personality = 0",
        'memfd_create("t", MFD_CLOEXEC)', "memfd_create = 7",
    ]


STRUCTS_AT_THE_EVENT = r"""
#include <stdio.h>
#include <sys/time.h>
#include <sys/xattr.h>

int main(int argc, char **argv)
{
	struct itimerval value = {{1, 500}, {2, 700}};

	fclose(fopen(argv[1], "w"));
	setitimer(ITIMER_VIRTUAL, &value, NULL);
	setxattr(argv[1], "user.k", "value", 6, 0);
	return 0;  /* gone before the handlers run: what they show was copied at the event */
}
"""


def test_structures_are_copied_at_the_event(tmp_path):
    require_kernel_probes()
    from tests.bpf_harness.util import compile_program

    program = compile_program(tmp_path, "structs", STRUCTS_AT_THE_EVENT)
    target = tmp_path / "attributes"
    result = pystap("-e", 'probe syscall.setitimer, syscall.setxattr { if (pid() == target()) printf("%s(%s)\\n", name, argstr) }',
                    "-c", f"{program} {target}")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f'setitimer(ITIMER_VIRTUAL, [1.000500,2.000700], 0x0)\nsetxattr("{target}", "user.k", "value", 6, 0x0)\n'
