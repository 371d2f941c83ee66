"""syscall.rt_sigaction/rt_sigprocmask/prlimit64/nanosleep decode their structure
arguments as stap does, from bytes copied at probe time (the program overwrites each
structure right after the call)."""

from __future__ import annotations

import resource

import pytest

from tests.bpf_harness.util import compile_program, pystap, require_kernel_probes

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
    return compile_program(tmp_path_factory.mktemp("structs"), "structs", STRUCTS)


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


WAITS = r"""
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <stdio.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static unsigned int word, word2;

int main(void)
{
	struct timeval tv = {0, 1500};
	struct timespec ppoll_ts = {0, 2000}, pselect_ts = {0, 3000}, futex_ts = {5, 4000};
	unsigned char statx_buf[256];

	printf("words %p %p\n", (void *)&word, (void *)&word2);
	fflush(stdout);
	syscall(SYS_select, 0, NULL, NULL, NULL, &tv);
	syscall(SYS_ppoll, NULL, 0, &ppoll_ts, NULL, 8);
	syscall(SYS_pselect6, 0, NULL, NULL, NULL, &pselect_ts, NULL);
	syscall(SYS_futex, &word, FUTEX_WAIT, 1, &futex_ts, NULL, 0);  /* word is 0: EAGAIN at once */
	syscall(SYS_futex, &word, FUTEX_WAKE_OP, 1, (void *)2, &word2, FUTEX_OP(FUTEX_OP_ADD, -1, FUTEX_OP_CMP_GT, 3));
	syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	syscall(SYS_statx, AT_FDCWD, "/", 0, 0xfff, statx_buf);
	syscall(SYS_statx, AT_FDCWD, "/", 0, 0, statx_buf);
	return 0;
}
"""

WAITS_SCRIPT = (
    "probe syscall.select, syscall.ppoll, syscall.pselect6, syscall.futex, syscall.statx {\n"
    '  if (pid() == target()) printf("%s(%s)\\n", name, argstr) }'
)


def test_timeouts_futex_operations_and_statx_masks_are_decoded(tmp_path):
    require_kernel_probes()
    waits = compile_program(tmp_path, "waits", WAITS)
    result = pystap("-e", WAITS_SCRIPT, "-c", str(waits))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    word, word2 = next(line.split()[1:] for line in lines if line.startswith("words "))
    calls = [line for line in lines if not line.startswith("words ") and not line.startswith("futex(0x7")]
    first = calls.index("select(0, 0x0, 0x0, 0x0, [0.001500])")
    assert calls[first:] == [
        "select(0, 0x0, 0x0, 0x0, [0.001500])",
        "ppoll(0x0, 0, [0.000002000], 0x0, 8)",
        "pselect6(0, 0x0, 0x0, 0x0, [0.000003000], 0x0)",
        f"futex({word}, FUTEX_WAIT, 1, [5.000004000])",
        f"futex({word}, FUTEX_WAKE_OP, 1, 2, {word2}, {{FUTEX_OP_ADD, -1, FUTEX_OP_CMP_GT, 3}})",
        f"futex({word}, FUTEX_WAKE_PRIVATE, 1)",
        'statx(AT_FDCWD, "/", 0x0, 0xfff, ' + calls[first + 6].rsplit(", ", 1)[1],
        'statx(AT_FDCWD, "/", 0x0, AT_STATX_SYNC_AS_STAT, ' + calls[first + 7].rsplit(", ", 1)[1],
    ]
