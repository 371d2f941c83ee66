"""syscall.rt_sigaction/rt_sigprocmask/prlimit64/nanosleep decode their structure
arguments as stap does, from bytes copied at probe time (the program overwrites each
structure right after the call)."""

from __future__ import annotations

import resource
import subprocess

import pytest

from tests.bpf_harness.util import pystap, require_kernel_probes

STRUCTS = r"""
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct kernel_sigaction { unsigned long handler, flags, restorer, mask; };

static void on_usr1(int sig) { (void)sig; }

int main(void)
{
	struct kernel_sigaction act = {(unsigned long)on_usr1, SA_RESTART | 0x04000000, 0x1234, 1ul << 1 | 1ul << 14};
	struct kernel_sigaction ignore = {1, 0, 0, 0};
	unsigned long set = 1ul << 1 | 1ul << 14, empty = 0;
	struct rlimit limit = {1024, 4096};
	struct timespec nap = {0, 1000};

	printf("handler 0x%lx\n", act.handler);
	fflush(stdout);
	syscall(SYS_rt_sigaction, 10, &act, NULL, 8);
	memset(&act, 0, sizeof(act));
	syscall(SYS_rt_sigaction, 12, &ignore, NULL, 8);
	syscall(SYS_rt_sigaction, 12, NULL, NULL, 8);
	syscall(SYS_rt_sigprocmask, 0, &set, NULL, 8);
	set = 0;
	syscall(SYS_rt_sigprocmask, 1, &set, NULL, 8);
	syscall(SYS_rt_sigprocmask, 2, &empty, NULL, 8);
	syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &limit);
	syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &limit, NULL);
	limit.rlim_cur = 1;  /* a handler reading it now would see this */
	syscall(SYS_nanosleep, &nap, NULL);
	nap.tv_nsec = 7;
	sleep(1);
	return 0;
}
"""

SCRIPT = (
    "probe syscall.rt_sigaction, syscall.rt_sigprocmask, syscall.prlimit64, syscall.nanosleep {\n"
    '  if (pid() == target()) printf("%s(%s)\\n", name, argstr) }'
)


@pytest.fixture(scope="module")
def structs(tmp_path_factory):
    require_kernel_probes()
    directory = tmp_path_factory.mktemp("structs")
    (directory / "structs.c").write_text(STRUCTS)
    subprocess.run(["gcc", "-O1", "-o", str(directory / "structs"), str(directory / "structs.c")], check=True)
    return directory / "structs"


def test_structure_arguments_are_decoded(structs):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # the command inherits them; it reads then sets them
    result = pystap("-e", SCRIPT, "-c", str(structs))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    handler = next(line.split()[1] for line in lines if line.startswith("handler "))
    calls = [line for line in lines if not line.startswith("handler ")]
    first = next(i for i, line in enumerate(calls) if line.startswith("rt_sigaction(SIGUSR1,"))
    # before it: the -c child resetting signals before exec, and the dynamic loader
    assert calls[first:] == [
        f"rt_sigaction(SIGUSR1, {{{handler}, SA_RESTART|SA_RESTORER, 0x1234, [SIGINT|SIGTERM]}}, 0x0, 8)",
        "rt_sigaction(SIGUSR2, {SIG_IGN}, 0x0, 8)",
        "rt_sigaction(SIGUSR2, {NULL}, 0x0, 8)",
        "rt_sigprocmask(SIG_BLOCK, [SIGINT|SIGTERM], 0x0, 8)",
        "rt_sigprocmask(SIG_UNBLOCK, [EMPTY], 0x0, 8)",
        "rt_sigprocmask(SIG_SETMASK, [EMPTY], 0x0, 8)",
        calls[first + 6],
        f"prlimit64(0, RLIMIT_NOFILE, [{soft},{hard}], 0x0)",
        "nanosleep([0.000001000], 0x0)",
    ]
    assert calls[first + 6].startswith("prlimit64(0, RLIMIT_NOFILE, NULL, 0x")
