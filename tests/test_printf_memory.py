"""printf %m / %M: memory of the probed context, and stap's errors when it cannot be read.

%#m and %#M read user memory of the event's process (the runtime itself in begin probes);
%m and %M read kernel memory in stap, which a user-space runtime cannot: a user address
faults as it does in stap on x86-64, a kernel address fails with the reason."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

from tests.support import REPO, require_root, require_tracefs

ENTRY = "import sys; sys.path.insert(0, %r); from engine.cli import entry; entry()" % str(REPO)
FAILED = "WARNING: Number of errors: 1, skipped probes: 0\nPass 5: run failed.  [man error::pass5]\n"


def pystap(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", ENTRY, *args], capture_output=True, text=True, timeout=120, cwd=REPO)


def errors(stderr: str) -> str:
    """stderr without the count of events still queued when the error stopped the run."""
    return "".join(line for line in stderr.splitlines(keepends=True) if " records lost (" not in line)


def run(script: str) -> tuple[str, str, int]:
    proc = pystap("-e", script)
    return proc.stdout, proc.stderr, proc.returncode


def test_unreadable_memory_is_stap_s_read_fault_and_the_printf_prints_nothing():
    assert run('probe begin { printf("before %m after\\n", 0) }') == (
        "", "ERROR: read fault [man error::fault] at 0x0 near identifier 'printf' at <input>:1:15\n" + FAILED, 1)
    assert run('probe begin { printf("%#.4M\\n", 16) }') == (
        "", "ERROR: read fault [man error::fault] at 0x10 near identifier 'printf' at <input>:1:15\n" + FAILED, 1)


def test_a_kernel_address_says_why_it_cannot_be_read():
    assert run('probe begin { printf("%.8M\\n", 0xffffffff81000000) }') == (
        "",
        "ERROR: read fault [man error::fault] at 0xffffffff81000000 (kernel memory cannot be read from user space)"
        " near identifier 'printf' at <input>:1:15\n" + FAILED,
        1,
    )


def test_more_than_a_page_is_refused_before_reading():
    assert run('probe begin { printf("%.4097m", 0) }') == (
        "", "ERROR: 4097 is too many bytes for a memory dump near identifier 'printf' at <input>:1:15\n" + FAILED, 1)
    # a `.*` size is checked before the call, near the argument's expression, as stap does
    assert run('global n = 5000 probe begin { printf("%.*M", n, 0) }') == (
        "", "ERROR: 5000 is too many bytes for a memory dump near identifier 'n' at <input>:1:46\n" + FAILED, 1)
    # a whole page is allowed: it is read (and faults here, at the address)
    assert run('probe begin { printf("%.4096M", 8) }')[1].startswith("ERROR: read fault [man error::fault] at 0x8 ")


def test_sprintf_faults_too_and_try_catches_it():
    assert run('probe begin { println(sprintf("%#m", 1)) }') == (
        "", "ERROR: read fault [man error::fault] at 0x1 near identifier 'sprintf' at <input>:1:23\n" + FAILED, 1)
    caught = 'probe begin { try { println(sprintf("x%#m", 1)) } catch (e) { println(e) } println("still running") exit() }'
    assert run(caught) == (
        "read fault [man error::fault] at 0x1\nstill running\n", "", 0)


TARGET = textwrap.dedent(
    """\
    import ctypes, mmap, os, time
    fd = os.open("/dev/null", os.O_WRONLY)
    os.write(fd, b"hello-memory-dump")
    # "tail" ends a page whose successor is unmapped
    pages = mmap.mmap(-1, 8192)
    pages[4092:4096] = b"tail"
    base = ctypes.addressof(ctypes.c_char.from_buffer(pages))
    libc = ctypes.CDLL(None)
    libc.munmap(ctypes.c_void_p(base + 4096), 4096)
    libc.write(fd, ctypes.c_void_p(base + 4092), 4)
    time.sleep(3)
    """
)

SCRIPT = """\
probe syscall.write {
  if (pid() != target()) next
  if (count == 17) printf("%#.17m|%#.5M|%#8.3m|%#8.2M|\\n", buf_uaddr, buf_uaddr, buf_uaddr, buf_uaddr)
  if (count == 4) { printf("%#.4m %x\\n", buf_uaddr, buf_uaddr + 4); printf("%#.8m\\n", buf_uaddr) }
}
"""


def test_user_memory_of_the_event_s_process(tmp_path):
    """%#m reads the traced process, up to the first unmapped byte, which the fault names."""
    require_root()
    require_tracefs()
    target = tmp_path / "target.py"
    target.write_text(TARGET)
    proc = pystap("-e", SCRIPT, "-c", f"{sys.executable} {target}")
    lines = proc.stdout.splitlines()
    assert lines[0] == "hello-memory-dump|68656c6c6f|     hel|    6865|"
    tail, unmapped = lines[1].split()
    assert tail == "tail" and len(lines) == 2
    assert errors(proc.stderr) == (
        f"ERROR: read fault [man error::fault] at 0x{unmapped} near identifier 'printf' at <input>:4:69\n" + FAILED
    )
    assert proc.returncode == 1


def test_plain_m_of_a_user_address_faults_as_in_stap(tmp_path):
    """Without '#' stap reads kernel memory, which refuses user addresses on x86-64."""
    require_root()
    require_tracefs()
    target = tmp_path / "target.py"
    target.write_text(TARGET)
    script = (
        'probe syscall.write { if (pid() == target() && count == 17) '
        '{ printf("%x\\n", buf_uaddr); printf("%.3m", buf_uaddr) } }'
    )
    proc = pystap("-e", script, "-c", f"{sys.executable} {target}")
    address = proc.stdout.strip()
    assert re.fullmatch("[0-9a-f]+", address)
    fault = f"ERROR: read fault [man error::fault] at 0x{address} near identifier 'printf' at <input>:1:90\n"
    assert errors(proc.stderr) == fault + FAILED


def test_a_pointer_field_is_copied_at_probe_time_for_a_process_that_is_gone():
    """%#m of a tracepoint's pointer field with a written precision: the capture program
    copies the bytes with the event, so they print after the writer has exited (a live
    read would fault then)."""
    require_root()
    require_tracefs()
    script = (
        'probe kernel.trace("syscalls:sys_enter_write") '
        '{ if (pid() == target() && $count == 18) printf("%#.17m|%#.4M|%#M\\n", $buf, $buf, $buf) }'
    )
    proc = pystap("-e", script, "-c", "sh -c 'exec /bin/echo hello-memory-dump >/dev/null'")
    assert (proc.stdout, proc.returncode) == ("hello-memory-dump|68656c6c|68\n", 0), proc.stderr
