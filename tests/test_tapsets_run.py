"""Tapset functions end to end: scripts run through all five passes of pystap and
print what the functions return, compared with the values stap documents.

Each script covers one family and prints one line per check; the scripts run in
parallel once per module, after the runtime library is built.
"""

from __future__ import annotations

import concurrent.futures
import gzip
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support import REPO

PYSTAP = [sys.executable, "-c", "import sys; sys.path.insert(0, %r); from engine.cli import entry; entry()" % str(REPO)]


@dataclass
class Script:
    name: str
    text: str
    options: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)


def _kernel_hz() -> int:
    config = Path("/proc/config.gz")
    if config.exists():
        found = re.search(rb"^CONFIG_HZ=(\d+)$", gzip.decompress(config.read_bytes()), re.M)
        if found:
            return int(found.group(1))
    return 250


SCRIPTS = [
    Script("strings", r"""
probe begin {
  println(substr("hello", 1, 3), "|", substr("hello", 3, 100), "|", substr("hello", 9, 1), "|")
  println(strlen("hello"), " ", strlen(""), " ", stringat("A", 0), " ", isinstr("hello", "ell"), " ", isinstr("a", "b"), " ", stringat("\351", 0))
  println(strpos("hello", "lo"), " ", strpos("hello", "x"), " ", strpos("hello", ""))
  println(str_replace("a-b-c", "-", "+"), " ", str_replace("aaa", "", "x"), " ", str_replace("abcabc", "bc", ""))
  println(text_str("a\tb\n\001"), " ", text_strn("hello world", 8, 1), " ", text_strn("hello world", 4, 0))
  println(string_quoted("q\"q\\"), " ", string_quoted(""))
  println(strtol("0x1f", 16), " ", strtol("-12", 10), " ", strtol("777", 8), " ", strtol("z", 36), " ", strtol("12x", 0))
  println(isdigit("7x"), " ", isdigit("x7"), " ", toupper("mixed Case 1"), " ", tolower("MIXED"))
  println(tokenize("one two  three", " "), ",", tokenize("", " "), ",", tokenize(" "), ",", tokenize(" "), ".")
  try { println(stringat("abc", 5)) } catch (msg) { println("caught: ", msg) }
  exit()
}
"""),
    Script("limits", r"""
probe begin {
  println(string_quoted("hello world"))
  println(substr("abcdefghijkl", 0, 100), " ", strlen(str_replace("aaaa", "a", "bb")))
  println(text_str("\001\002\003"), " ", text_strn("abcdefghij", 0, 0))
  exit()
}
""", options=["-DMAXSTRINGLEN=8"]),
    Script("context", r"""
probe begin {
  println(pp(), " ", pn(), " [", ppfunc(), "] [", probefunc(), "] ", is_return(), " ", probe_type())
  println(pid() == stp_pid(), " ", tid() == pid(), " ", execname() == pid2execname(pid()), " ", pexecname())
  println(uid(), " ", euid(), " ", gid(), " ", egid(), " ", cpu() >= 0, " ", is_myproc(), " ", user_mode())
  println(sid() > 0, " ", pgrp() > 0, " ", env_var("STAPUI_TAPSET_TEST"), "|", env_var("STAPUI_NOT_SET"), "|")
  println(target(), " ", strlen(cmdline_str()) > 0, " ", cmdline_arg(0) == tokenize(cmdline_str(), " "))
  println(cmdline_args(99, -1, ","), "|", cmdline_arg(99), "|")
  println(module_name(), " ", ns_pid() == pid(), ns_tid() == tid(), ns_ppid() == ppid(), ns_uid() == uid(),
          " ", remote_id(), "[", remote_uri(), "]")
}
probe timer.ms(5) {
  println(pp(), " ", probe_type(), " ", pid() == stp_pid())
  exit()
}
""", options=["-x", str(os.getpid()), "-m", "tapset_ctx"], env={"STAPUI_TAPSET_TEST": "from the environment"}),
    Script("time", r"""
probe begin {
  println(ctime(0), "|", ctime(741476948), "|", ctime(-2147483648), "|", ctime(2147483647))
  try { println(ctime(2147483648)) } catch (msg) { println("caught: ", msg) }
  try { println(ctime(-2147483649)) } catch (msg) { println("caught: ", msg) }
  println(tz_ctime(0), " ", tz_gmtoff(), " ", tz_name())
  println(msecs_to_string(123456), " ", usecs_to_string(61000001), " ", nsecs_to_string(3600000000123))
  println(cputime_to_string(61500000000), " ", cputime_to_msecs(2000000), " ", cputime_to_usecs(2000000), " ",
          task_time_string_tid(999999999), " ", task_start_time(999999999), " ", task_start_time(pid()) > 0,
          " ", task_utime() >= 0, " ", task_stime(tid()) >= 0, " ", strlen(task_time_string()) > 0)
  println(HZ(), " ", jiffies() > 4294967296 - 300 * HZ(), " ", get_cycles() > 0)
  s = gettimeofday_s(); ms = gettimeofday_ms(); us = gettimeofday_us(); ns = gettimeofday_ns()
  println(ms / 1000 - s <= 1, " ", us / 1000 - ms <= 1, " ", ns / 1000 - us <= 1, " ", strlen(ctime()))
  a = local_clock_ns(); b = ktime_get_ns(); c = cpu_clock_us(0)
  println(b >= a, " ", c >= b / 1000, " ", local_clock_s() <= local_clock_ns() / 1000000000)
  println(read_stopwatch_ns("w"), " ", read_stopwatch_us("w"))
  start_stopwatch("w"); stop_stopwatch("w"); t = read_stopwatch_ns("w")
  println(t >= 0, " ", read_stopwatch_ns("w") == t)
  delete_stopwatch("w"); println(read_stopwatch_ns("w"))
  printf("%d\n", gettimeofday_s())
  exit()
}
""", env={"TZ": "EST5"}),
    Script("conversions", r"""
function guru_string:long () %{
	static const char text[] = "guru string\tend";
	STAP_RETURN((int64_t)(uintptr_t)text);
%}
function guru_buffer:long () %{
	static const char bytes[6] = { 'a', 0, 'b', '\n', (char)0xff, 'z' };
	STAP_RETURN((int64_t)(uintptr_t)bytes);
%}
function guru_utf16:long (broken:long) %{
	static const uint16_t text[] = { 'h', 0xE9, 0xD83D, 0xDE00, '!', 0 };
	static const uint16_t bad[] = { 'a', 0xDC00, 0 };
	STAP_RETURN((int64_t)(uintptr_t)(STAP_ARG_broken ? bad : text));
%}
function guru_utf32:long (broken:long) %{
	static const uint32_t text[] = { 'h', 0xE9, 0x1F600, '!', 0 };
	static const uint32_t bad[] = { 'a', 0x110000, 0 };
	STAP_RETURN((int64_t)(uintptr_t)(STAP_ARG_broken ? bad : text));
%}
function guru_ints:long () %{
	static const unsigned char bytes[8] = { 0xfe, 0xff, 0xff, 0xff, 0x01, 0x00, 0x00, 0x80 };
	STAP_RETURN((int64_t)(uintptr_t)bytes);
%}
probe begin {
  a = guru_string(); b = guru_ints()
  println(user_string(a), "|", user_string_n(a, 4), "|", user_string_n(a, 0), "|", user_string_quoted(a))
  println(user_string_n_quoted(a, 4), " ", user_string_n_quoted(a, 100, 10), " ", user_string_n_nofault(a, 2))
  println(user_char(a), " ", user_uint8(b), " ", user_int8(b), " ", user_short(b), " ", user_ushort(b))
  println(user_int(b), " ", user_uint32(b), " ", user_int32(b + 4), " ", user_long(b), " ", user_uint64(b))
  println(user_long(0), " ", user_string(0, "alt"), " ", user_string_quoted(0), " [", user_string_nofault(0), "]")
  try { println(user_long_error(0)) } catch (msg) { println("caught: ", msg) }
  try { println(user_string(16)) } catch (msg) { println("caught: ", msg) }
  println("[", user_string_warn(0), "] ", user_long_warn(0))
  c = guru_buffer()
  println(user_buffer_quoted(c, 6, 100), " ", user_buffer_quoted(c, 6, 8), " ", user_buffer_quoted(0, 4, 100), " [",
          user_buffer_quoted(c, 6, 0), "] ", user_buffer_quoted(c, 3, 100))
  try { println(user_buffer_quoted_error(16, 4, 100)) } catch (msg) { println("caught: ", msg) }
  println(user_string_utf16(guru_utf16(0)), " ", user_string_utf32(guru_utf32(0)), " ",
          user_string_quoted_utf16(guru_utf16(0)), " ", user_string_quoted_utf32(16), " ",
          user_string_utf16(guru_utf16(1), "bad"), " ", user_string2_utf32(guru_utf32(1), "bad32"))
  try { println(user_string_utf16(guru_utf16(1))) } catch (msg) { println("caught: ", substr(msg, 0, strpos(msg, " at "))) }
  try { println(user_string_utf32(guru_utf32(1))) } catch (msg) { println("caught: ", substr(msg, 0, strpos(msg, " at "))) }
  try { println(user_string_utf32(16)) } catch (msg) { println("caught: ", msg) }
  exit()
}
""", options=["-g"]),
    Script("logging", r"""
probe begin {
  log("logged")
  warn("careful")
  try { error("boom") } catch (msg) { println("caught: ", msg) }
  try { assert(1 == 2, "not equal") } catch (msg) { println("caught: ", msg) }
  try { assert(0) } catch (msg) { println("caught: ", msg) }
  assert(1, "never")
  exit()
  println("exit lets the handler finish")
}
probe end { println("end runs") }
"""),
    Script("abort", r"""
function inner () { abort(); println("not after abort (function)") }
probe begin {
  println("before")
  try { inner() } catch { println("not caught") }
  println("not after abort (probe)")
}
probe end { println("end after abort") }
"""),
    Script("error", r"""
probe begin { error("fatal " . sprint(42)) }
probe end { println("end is skipped after an error") }
probe error { println("error probe runs") }
"""),
    Script("errno", r"""
probe begin {
  println(errno_str(2), " ", errno_str(-13), " ", errno_str(11), " [", errno_str(3333), "] [", errno_str(0), "]")
  println(errno_p(2), " ", errno_p(-13), " ", errno_p(3333), " ", errno_p(0))
  println(return_str(1, -2), " ", return_str(2, 255), " ", return_str(3, 8), " ", return_str(1, 5), " ", return_str(1, -3333))
  println(signal_str(9), " ", signal_str(29), " ", signal_str(35), " [", signal_str(65), "]")
  println(sigset_mask_str(0x4002), " [", sigset_mask_str(0), "] ", sigset_mask_str(1 << 63))
  println(sa_flags_str(0x14000004), " [", sa_flags_str(0), "] ", sa_flags_str(0x80000001))
  println(sa_handler_str(0), " ", sa_handler_str(1), " ", sa_handler_str(-1), " ", sa_handler_str(4096))
  println(rlimit_from_str("RLIMIT_CPU"), " ", rlimit_from_str("RLIMIT_NOFILE"), " ", rlimit_from_str("RLIMIT_RTTIME"),
          " ", rlimit_from_str("LIMIT_CPU"), " ", rlimit_from_str("RLIMIT"), " ", rlimit_from_str(""))
  exit()
}
"""),
    Script("indent", r"""
function __indent_timestamp:long () { t = 1000 + 7 * indent_calls; indent_calls = indent_calls + 1; return t }
global indent_calls
probe begin {
  println("[", indent(1), "]")
  println("[", indent(1), "]")
  println("[", indent(-1), "]")
  println("[", indent(-1), "]")
  println(thread_indent(1) == sprintf("%6d %s(%d):", 0, execname(), tid()))
  println(thread_indent(-1) == sprintf("%6d %s(%d):", 7, execname(), tid()))
  println(indent_depth(1), indent_depth(1), indent_depth(-1), indent_depth(-1), indent_depth(0))
  println(thread_indent_depth(1), thread_indent_depth(1), thread_indent_depth(-1), thread_indent_depth(-1))
  exit()
}
"""),
    Script("ansi", r"""
probe begin {
  ansi_clear_screen(); ansi_set_color(31); ansi_set_color(31, 42); ansi_set_color(31, 42, 1)
  ansi_set_color2(32, 40); ansi_set_color3(32, 40, 0); ansi_reset_color(); ansi_new_line()
  ansi_cursor_move(3, 7); ansi_cursor_hide(); ansi_cursor_save(); ansi_cursor_restore(); ansi_cursor_show()
  exit()
}
"""),
    Script("numbers", r"""
function qs_time:long () { return clock }
global clock
probe begin {
  println(bytes_to_string(1023), "|", bytes_to_string(2560), "|", bytes_to_string(41943040), "|",
          bytes_to_string(5368709120), "|", bytes_to_string(1099511627776))
  println(mem_page_size(), " ", pages_to_string(1), " ", proc_mem_size() > 0, " ", proc_mem_rss() > 0,
          " ", proc_mem_txt(pid()) > 0, " ", proc_mem_size(999999999))
  println(MAJOR(MKDEV(8, 1)), " ", MINOR(MKDEV(8, 1)), " ", MKDEV(8, 1), " ", usrdev2kerndev(2049))
  println(htonl(1), " ", htons(1), " ", htonll(1), " ", ntohl(htonl(305419896)), " ", ntohs(4660))
  println(ip_ntop(0x0100007f), " ", ip_ntop(htonl(0xc0a80001)))
  println(randint(1), " ", randint(2) < 2)
  try { println(randint(2097152)) } catch (msg) { println("caught: ", msg) }
  clock = 1000; qsq_start("disk")
  qs_wait("disk"); clock = 1100; qs_run("disk"); clock = 1300; qs_done("disk"); clock = 2000
  qsq_print("disk")
  id = speculation(); speculate(id, "kept "); speculate(id, "in order\n")
  other = speculation(); speculate(other, "dropped\n")
  discard(other); commit(id); commit(other)
  println(id, " ", other)
  la = sprint_loadavg()
  println(la =~ "^[0-9]+\\.[0-9][0-9] [0-9]+\\.[0-9][0-9] [0-9]+\\.[0-9][0-9]\n$", " ",
          get_loadavg_index(1) == strtol(substr(la, strpos(la, " ") + 1, 10), 10))
  try { println(get_loadavg_index(3)) } catch (msg) { println("caught: ", msg) }
  exit()
}
"""),
    Script("floatingpoint", r"""
probe begin {
  half = string_to_fp("0.5"); three = long_to_fp(3); ten = string_to_fp("1e1")
  println(fp_to_string(half, 3), " ", fp_to_string(three, 1), " ", fp_to_string(ten, 0), " ", half)
  println(fp_to_string(fp_add(half, three), 2), " ", fp_to_string(fp_sub(half, three), 2), " ",
          fp_to_string(fp_mul(half, three), 2), " ", fp_to_string(fp_div(three, ten), 4), " ",
          fp_to_string(fp_rem(ten, three), 1), " ", fp_to_string(fp_sqrt(string_to_fp("2")), 6))
  println(fp_eq(half, string_to_fp("5e-1")), fp_lt(half, three), fp_le(three, three), fp_lt(three, half))
  x = string_to_fp("-2.5")
  println(fp_to_long(x, 0, 0), " ", fp_to_long(x, 1, 0), " ", fp_to_long(x, 2, 0), " ", fp_to_long(x, 3, 0), " ",
          fp_to_long(x, 4, 0), " ", fp_to_long(string_to_fp("2.2"), 6, 0), " ", fp_to_long(string_to_fp("1e300"), 0, 0))
  println(fp_to_string(fp32_to_fp64(0x3fc00000), 2), " ", fp_to_string(string_to_fp("-12.345"), 2))
  try { println(string_to_fp("1.2.3")) } catch (msg) { println("caught: ", msg) }
  try { println(string_to_fp("")) } catch (msg) { println("caught: ", msg) }
  exit()
}
"""),
    Script("macros", r"""
global stats, keyed
probe begin {
  @this1 = 5; @this2 = "two"
  println(@this1 + 1, " ", @this2)
  stats <<< 3; stats <<< 5
  @prints(stats)
  keyed["a"] <<< 1; keyed["b"] <<< 2; keyed["b"] <<< 4
  @prints1(keyed)
  @try_assign(x, 10 / 2, -1); println(x)
  zero = 0
  @try_assign(y, 10 / zero, -1); println(y)
  println(@choose_defined($nope, 7), " ", @choose_defined(y, 7))
  exit()
}
"""),
]


def run(script: Script) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **script.env)
    try:
        return subprocess.run(
            [*PYSTAP, *script.options, "-e", script.text],
            capture_output=True, text=True, errors="replace", timeout=180, env=env, cwd=REPO,
        )
    except subprocess.TimeoutExpired as timeout:
        return subprocess.CompletedProcess(timeout.cmd, -9, str(timeout.stdout or ""), "TIMEOUT")


@pytest.fixture(scope="module")
def results() -> dict[str, subprocess.CompletedProcess]:
    from engine.build.compiler import find_compiler
    from engine.build.runtime_lib import runtime_library

    runtime_library(find_compiler())  # build once before the parallel runs
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip((s.name for s in SCRIPTS), pool.map(run, SCRIPTS)))


def lines(proc: subprocess.CompletedProcess) -> list[str]:
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_strings(results) -> None:
    assert lines(results["strings"]) == [
        "ell|lo||",
        "5 0 65 1 0 -23",
        "3 -1 0",
        "a+b+c aaa aa",
        'a\\tb\\n\\001 "hel"... hell',
        '"q\\"q\\\\" ""',
        "31 -12 511 35 12",
        "1 0 MIXED CASE 1 mixed",
        "one,two,three,.",
        "caught: Position out of bounds",
    ]


def test_strings_respect_maxstringlen(results) -> None:
    """With -DMAXSTRINGLEN=8 strings hold 7 bytes; escapes are never cut in half."""
    assert lines(results["limits"]) == ['"he"...', "abcdefg 7", "\\001 abcdefg"]


# The runtime's parent is the pystap interpreter: its comm is the interpreter's file name
# (python3 for a system Python, python inside a virtualenv), at most 15 characters.
PYSTAP_COMM = os.path.basename(sys.executable)[:15]


def test_context(results) -> None:
    out = lines(results["context"])
    ids = f"{os.getuid()} {os.geteuid()} {os.getgid()} {os.getegid()}"
    assert out == [
        "begin begin [] [] 0 begin_end",
        f"1 1 1 {PYSTAP_COMM}",
        f"{ids} 1 1 0",
        "1 1 from the environment||",
        f"{os.getpid()} 1 1",
        "||",
        "tapset_ctx 1111 -1[]",
        "timer.ms(5) hrtimer 1",
    ]


def test_time(results) -> None:
    out = lines(results["time"])
    assert out[:-1] == [
        "Thu Jan  1 00:00:00 1970|Wed Jun 30 21:49:08 1993|Fri Dec 13 20:45:52 1901|Tue Jan 19 03:14:07 2038",
        "caught: Time too far in the future to be converted",
        "caught: Time too far in the past to be converted",
        "Wed Dec 31 19:00:00 1969 EST 18000 EST",
        "2m3.456s 1m1.000001s 60m0.000000123s",
        "1m1.500s 2 2000 usr: 0m0.000s, sys: 0m0.000s 0 1 1 1 1",
        f"{_kernel_hz()} 1 1",
        "1 1 1 24",
        "1 1 1",
        "0 0",
        "1 1",
        "0",
    ]
    now = int(out[-1])
    assert abs(now - int(__import__("time").time())) < 600


def test_conversions_read_the_process_memory(results) -> None:
    assert lines(results["conversions"]) == [
        "guru string\tend|guru||" + '"guru string\\tend"',
        '"guru" "guru "... gu',
        "103 254 -2 -2 65534",
        f"-2 4294967294 -2147483647 {0x80000001FFFFFFFE - (1 << 64)} {0x80000001FFFFFFFE - (1 << 64)}",
        "0 alt 0x0 []",
        "caught: read fault [man error::fault] at 0x0",
        "caught: user string copy fault -14 at 0x10 [man error::fault]",
        "[] 0",
        '"a\\000b\\n\\377z" "a"... 0x0 [] "a\\000b"',
        "caught: Unable to access user space data at 0x10",
        "h\u00e9\U0001f600! h\u00e9\U0001f600! \"h\\u00E9\\U0001F600!\" 0x10 bad bad32",
        "caught: invalid UTF-16 character U+DC00",
        "caught: invalid UTF-32 character U+110000",
        "caught: user string copy fault at 0x10 [man error::fault]",
    ]
    assert results["conversions"].stderr.splitlines() == [
        "WARNING: user string copy fault -14 at 0x0 [man error::fault]",
        "WARNING: user long copy fault 0x0 [man error::fault]",
    ]


def test_logging_and_exit(results) -> None:
    proc = results["logging"]
    assert lines(proc) == [
        "logged",
        "caught: boom",
        "caught: not equal",
        "caught: Assertion failed",
        "exit lets the handler finish",
        "end runs",
    ]
    assert proc.stderr == "WARNING: careful\n"


def test_abort_leaves_the_handler_uncaught(results) -> None:
    assert lines(results["abort"]) == ["before", "end after abort"]


def test_error_reports_the_message_alone(results) -> None:
    proc = results["error"]
    assert proc.stdout == "error probe runs\n"
    assert proc.stderr.splitlines()[0] == "ERROR: fatal 42"


def test_errno_and_signal_names(results) -> None:
    assert lines(results["errno"]) == [
        "ENOENT EACCES EAGAIN [] []",
        "2 13 0 0",
        "-2 (ENOENT) 0xff 010 5 -3333",
        "KILL IO/POLL RTMIN+3 []",
        "2,15 [] 64",
        "SIGINFO|RESTART|RESTORER [] NOCLDSTOP|RESETHAND",
        "default ignored error 0x1000",
        "0 7 15 -1 -1 -1",
    ]


def test_indent(results) -> None:
    assert lines(results["indent"]) == [
        "[     0 :]",
        "[     7 : ]",
        "[    14 : ]",
        "[    21 :]",
        "1",
        "1",
        "01100",
        "0110",
    ]


def test_ansi_escapes(results) -> None:
    assert results["ansi"].stdout == (
        "\033[1;1H\033[J" "\033[31m" "\033[42;31m" "\033[42;31;1m"
        "\033[40;32m" "\033[40;32m" "\033[0;0m" "\n"
        "\033[7;3H" "\033[>5I" "\033[s" "\033[u" "\033[>5h"
    )


def test_numbers_devices_random_queues_speculation(results) -> None:
    assert lines(results["numbers"]) == [
        " 1023|2.50K|40.0M|5.00G|1024G",
        "4096 4.00K 1 1 1 0",
        "8 1 8388609 8388609",
        "16777216 256 72057594037927936 305419896 13330",
        "127.0.0.1 192.168.0.1",
        "0 1",
        "caught: range too wide",
        "disk: 1000.000 ops/s, 0.100 qlen, 300 await, 200 svctm, 10% wait, 20% util",
        "kept in order",
        "1 2",
        "1 1",
        "caught: Invalid loadavg index 3 specified.",
    ]


def test_floating_point(results) -> None:
    assert lines(results["floatingpoint"]) == [
        f"0.500 3.0 10.0 {0x3FE0000000000000}",
        "3.50 -2.50 1.50 0.3000 1.0 1.414214",
        "1110",
        f"-2 -2 -3 -2 -3 3 {2**63 - 1}",
        "1.50 -12.35",
        "caught: invalid format",
        "caught: invalid format",
    ]


def test_macros(results) -> None:
    assert lines(results["macros"]) == [
        "6 two",
        "@count=2 @min=3 @max=5 @sum=8 @avg=4",
        "[b] @count=2 @min=2 @max=4 @sum=6 @avg=3",
        "[a] @count=1 @min=1 @max=1 @sum=1 @avg=1",
        "5",
        "-1",
        "7 -1",
    ]


def run_kernel(name: str, text: str, command: str) -> str:
    """Run a script over kernel events with `-c command`; its standard output."""
    from tests.support import require_root, require_tracefs

    require_root()
    require_tracefs()
    proc = run(Script(name, text, options=["-c", command]))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_unsupported_functions_are_rejected_in_pass_2() -> None:
    proc = run(Script("kernel", 'probe begin {\n  println(kernel_string(0))\n}\n', options=["-p2"]))
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[:3] == [
        "semantic error: function 'kernel_string' is not supported by this runtime: "
        "kernel memory cannot be read from user space: identifier 'kernel_string' at <input>:2:11",
        "        source:   println(kernel_string(0))",
        "                          ^",
    ]


KERNEL_ALIASES = r"""
global switched, forked, created, signalled, execd
probe scheduler.ctxswitch { if (prev_pid == target() || next_pid == target()) switched = 1 }
probe scheduler.process_fork { if (parent_pid == target() && child_pid != parent_pid) forked = 1 }
probe kprocess.create { if (pid() == target() && new_pid == new_tid) created = 1 }
probe signal.send { if (sig_pid == target() && sig == 10) signalled = sig_name . " " . pid_name }
probe kprocess.exec_complete { if (pid() == target() && success) execd = sprintf("%s %d %s", name, errno, retstr) }
probe end { printf("%d %d %d %s|%s\n", switched, forked, created, signalled, execd) }
"""


def test_scheduler_process_and_signal_aliases_over_tracepoints() -> None:
    out = run_kernel("kernel_aliases", KERNEL_ALIASES, "/bin/true; kill -USR1 $$")
    assert out == "1 1 1 SIGUSR1 sh|execve 0 0\n"


MEMORY_NET_ALIASES = r"""
global faults, writes, kmallocs, sent, received
probe vm.pagefault { if (pid() == target()) { faults++; writes += write_access } }
probe vm.kmalloc { if (bytes_alloc >= bytes_req && bytes_req > 0) kmallocs++ }
probe netdev.transmit { if (pid() == target() && dev_name == "lo" && !sent) sent = length }
probe netdev.receive { if (dev_name == "lo") received[length] = 1 }
probe ioblock.request { if (size < 0 || rw > 1) println("impossible request ", devname) }
probe end {
  printf("%d %d %d %d %d\n", faults > 0, writes > 0, kmallocs > 0, sent, [sent - 14] in received ? sent - 14 : 0)
}
"""

UDP_SEND = (
    "import socket; "
    "socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(bytes(100), ('127.0.0.1', 9))"
)


def test_memory_and_network_aliases_over_tracepoints(tmp_path: Path) -> None:
    """A 100-byte UDP datagram on lo is 142 bytes with its Ethernet, IP and UDP
    headers when sent, 128 once the Ethernet header is taken off on receipt."""
    sender = tmp_path / "udp.py"
    sender.write_text(UDP_SEND + "\n")
    assert run_kernel("memory_net", MEMORY_NET_ALIASES, f"{sys.executable} {sender}") == "1 1 1 142 128\n"


TARGET_SET = r"""
global seen
probe kernel.trace("sched:sched_process_exec") { if (target_set_pid(pid())) seen[execname()] = 1 }
probe end { foreach (name+ in seen) println(name); println(target_set_pid(1)) }
"""


def test_target_set_follows_the_command_and_its_children() -> None:
    # The subshell counts a while before its exec, so the kernel's record of its
    # creation is surely handled first (records from different cpus may arrive
    # in either order).
    command = "sh -c '( i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; exec /bin/true ); exit 0'"
    assert run_kernel("target_set", TARGET_SET, command).splitlines() == ["sh", "true", "0"]
