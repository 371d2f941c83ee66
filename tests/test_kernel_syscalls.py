"""syscall.* aliases end to end through pystap: argstr formatted as stap formats it,
return strings with errno names, and exact per-syscall counts under -c."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.bpf_harness.util import build_workload, pystap, require_kernel_probes


@pytest.fixture(scope="module")
def workload(tmp_path_factory):
    require_kernel_probes()
    return build_workload(tmp_path_factory.mktemp("workload"))


_TABLE_PROBES = (
    "openat open close write lseek dup3 dup2 access faccessat fchmodat mkdirat unlinkat renameat2 "
    "umask getpid kill socket"
).split()


def _argstr_script() -> str:
    entries = ", ".join(f"syscall.{name}" for name in _TABLE_PROBES)
    returns = ", ".join(f"syscall.{name}.return" for name in _TABLE_PROBES)
    return (
        f"probe {entries} {{ if (pid() == target()) printf(\"%s(%s)\\n\", name, argstr) }}\n"
        f"probe {returns} {{ if (pid() == target()) printf(\"%s = %s\\n\", name, retstr) }}\n"
    )


def test_argstr_and_retstr_match_stap_formats(workload, tmp_path):
    d = str(tmp_path)
    result = pystap("-e", _argstr_script(), "-c", f"{workload} argstr {d}")
    assert result.returncode == 0 and "getpid = " in result.stdout, (result.stdout, result.stderr)
    pid = int(next(line for line in result.stdout.splitlines() if line.startswith("getpid = ")).split()[-1])
    old_umask = os.umask(0)
    os.umask(old_umask)
    assert result.stdout.splitlines() == [
        f'openat(AT_FDCWD, "{d}/new", O_WRONLY|O_CREAT|O_TRUNC, 0644)', "openat = 3",
        '''write(3, "hello\\n", 6)''', "write = 6",
        "lseek(3, -5, SEEK_END)", "lseek = 1",
        "dup3(3, 100, O_CLOEXEC)", "dup3 = 100",
        "dup2(3, 50)", "dup2 = 50",
        "close(3)", "close = 0",
        "close(999)", "close = -9 (EBADF)",
        f'openat(AT_FDCWD, "{d}/missing", O_RDONLY|O_CLOEXEC)', "openat = -2 (ENOENT)",
        f'open("{d}", O_RDONLY|O_DIRECTORY)', "open = 3",
        'openat(3, "new", O_RDWR|O_APPEND|O_NONBLOCK)', "openat = 4",
        f'access("{d}/new", R_OK|W_OK)', "access = 0",
        f'faccessat(AT_FDCWD, "{d}/new", F_OK)', "faccessat = 0",
        f'fchmodat(AT_FDCWD, "{d}/new", 0600)', "fchmodat = 0",
        f'mkdirat(AT_FDCWD, "{d}/sub", 0750)', "mkdirat = 0",
        f'mkdirat(AT_FDCWD, "{d}/sub", 0750)', "mkdirat = -17 (EEXIST)",
        f'unlinkat(AT_FDCWD, "{d}/sub", AT_REMOVEDIR)', "unlinkat = 0",
        f'renameat2(AT_FDCWD, "{d}/new", AT_FDCWD, "{d}/renamed", RENAME_NOREPLACE)', "renameat2 = 0",
        "umask(022)", f"umask = 0{old_umask:o}",
        "umask(077)", "umask = 022",
        "getpid()", f"getpid = {pid}",
        f"kill({pid}, SIG_0)", "kill = 0",
        "socket(PF_INET, SOCK_STREAM|SOCK_CLOEXEC, IPPROTO_TCP)", "socket = 5",
    ]


def test_counts_per_syscall_are_exact_under_c(workload):
    script = (
        "global calls\n"
        "probe syscall.write, syscall.read, syscall.getpid, syscall.close { if (pid() == target()) calls[name]++ }\n"
        'probe end { foreach (n in calls+) printf("%s %d\\n", n, calls[n]) }\n'
    )
    result = pystap("-e", script, "-c", f"{workload} counts 50 30 100 20")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "close 20\nread 30\nwrite 50\ngetpid 100\n"


def test_ten_thousand_paths_none_empty_none_lost(workload, tmp_path):
    n = 10_000
    for i in range(0, n, 2):  # even names exist, odd ones were never there
        (tmp_path / f"f{i}").touch()
    script = (
        "probe syscall.openat { if (pid() == target()) println(filename) }\n"
        'probe syscall.openat.return { if (pid() == target()) println("= ", retstr) }\n'
    )
    result = pystap("-e", script, "-c", f"{workload} paths {tmp_path} {n}")
    assert result.returncode == 0, result.stderr
    expected = []
    for i in range(n):
        expected += [f'"{tmp_path}/f{i}"', "= 3" if i % 2 == 0 else "= -2 (ENOENT)"]
    assert result.stdout.splitlines() == expected
    assert "lost" not in result.stderr


def test_target_is_the_x_process(workload):
    looper = subprocess.Popen([sys.executable, "-c", "import os, time\nwhile True:\n    os.getppid()\n    time.sleep(0.01)"])
    try:
        script = 'probe syscall.getppid { if (pid() == target()) { printf("%d %s\\n", target(), argstr); exit() } }'
        result = pystap("-e", script, "-x", str(looper.pid))
    finally:
        looper.kill()
        looper.wait()
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{looper.pid} \n"
