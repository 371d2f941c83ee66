"""Run-time options of kernel probes: -s sizes the BPF ring (said at -v), and at -v the
runtime says when a user string the kernel could not read is read from user space."""

from __future__ import annotations


import pytest

from tests.bpf_harness.util import compile_program, pystap, require_kernel_probes

LAZY = r"""
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

/* Opens a path kept in a file mapping it never touched: the page is not in its page
 * tables when the openat tracepoint fires, so the kernel-side copy fails. */
int main(int argc, char **argv)
{
	int fd = open(argv[1], O_RDONLY);
	const char *path;

	if (argc < 2 || fd < 0)
		return 1;
	path = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
	if (path == MAP_FAILED)
		return 2;
	close(openat(AT_FDCWD, path, O_RDONLY));
	sleep(1);
	return 0;
}
"""

SCRIPT = (
    'probe kernel.trace("syscalls:sys_enter_openat") {\n'
    '  if (pid() == target()) printf("%d %x %s\\n", pid(), $filename, user_string($filename)) }'
)


@pytest.fixture(scope="module")
def lazy(tmp_path_factory):
    require_kernel_probes()
    directory = tmp_path_factory.mktemp("lazy")
    (directory / "pathfile").write_bytes(b"/dev/null\0")
    compile_program(directory, "lazy", LAZY)
    return directory


def test_unreadable_user_string_is_reread_and_said_at_v(lazy):
    result = pystap("-v", "-s", "3", "-e", SCRIPT, "-c", f"{lazy / 'lazy'} {lazy / 'pathfile'}")
    assert result.returncode == 0, result.stderr
    pid, address, path = result.stdout.splitlines()[-1].split()
    assert path == "/dev/null"
    notes = [line for line in result.stderr.splitlines() if line.startswith("Pass 5: ") and "run" not in line]
    assert notes == [
        "Pass 5: kernel ring buffer 4 MB (-s 3)",
        f"Pass 5: user string at 0x{address} of pid {pid} was not readable in the kernel (Bad address); "
        "reading it from user space",
    ]


def test_default_ring_and_no_notes_without_v(lazy):
    quiet = pystap("-e", SCRIPT, "-c", f"{lazy / 'lazy'} {lazy / 'pathfile'}")
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.splitlines()[-1].endswith(" /dev/null")
    assert "Pass 5" not in quiet.stderr
    verbose = pystap("-v", "-e", 'probe kernel.trace("syscalls:sys_enter_getppid") { exit() }', "-c", "true")
    assert "Pass 5: kernel ring buffer 8 MB (default; -s NUM sets it)\n" in verbose.stderr
