"""The tapset library's C helpers (runtime_c/tapset_*.c), built with gcc and driven
through a small command-line program, checked against the values stap documents.

The driver below calls one helper per invocation: `driver NAME ARGS...` prints the
result, so each case states the exact bytes stap would produce.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support import REPO

RUNTIME_C = REPO / "runtime_c"

DRIVER = r"""
#define _GNU_SOURCE
#include "tapset_support.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define SIZE 512  /* stap's default MAXSTRINGLEN */

static int64_t num(const char *s) { return strtoll(s, NULL, 0); }

static pthread_mutex_t thread_done = PTHREAD_MUTEX_INITIALIZER;
static int64_t thread_tid;

/* A second thread that reports its id and waits until main lets it go. */
static void *report_tid(void *arg)
{
	(void)arg;
	thread_tid = gettid();
	pthread_mutex_lock(&thread_done);
	pthread_mutex_unlock(&thread_done);
	return NULL;
}

/* A string placed so that its last byte is the last byte of a mapped page,
 * followed by an unmapped page; `terminated` decides whether that byte is NUL. */
static char *at_page_end(const char *text, int terminated)
{
	long page = sysconf(_SC_PAGESIZE);
	char *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t len = strlen(text) + (terminated ? 1 : 0);
	if (map == MAP_FAILED || munmap(map + page, page) != 0) {
		perror("mmap");
		exit(2);
	}
	memcpy(map + page - len, text, len);
	return map + page - len;
}

int main(int argc, char **argv)
{
	char out[SIZE];
	const char *cmd = argv[1];
	out[0] = '\0';
	if (!strcmp(cmd, "escape"))
		tapset_escape(out, SIZE, argv[2], num(argv[3]), (int)num(argv[4]));
	else if (!strcmp(cmd, "substr"))
		tapset_substr(out, SIZE, argv[2], num(argv[3]), num(argv[4]));
	else if (!strcmp(cmd, "str_replace"))
		tapset_str_replace(out, SIZE, argv[2], argv[3], argv[4]);
	else if (!strcmp(cmd, "strtol"))
		snprintf(out, SIZE, "%lld", (long long)tapset_strtol(argv[2], num(argv[3])));
	else if (!strcmp(cmd, "strpos"))
		snprintf(out, SIZE, "%lld", (long long)tapset_strpos(argv[2], argv[3]));
	else if (!strcmp(cmd, "case"))
		tapset_case(out, SIZE, argv[2], (int)num(argv[3]));
	else if (!strcmp(cmd, "tokenize")) {
		/* tokenize ARG DELIM [ARG DELIM ...]: one line per call */
		for (int i = 2; i + 1 < argc; i += 2) {
			tapset_tokenize(out, SIZE, argv[i], argv[i + 1]);
			printf("[%s]\n", out);
		}
		return 0;
	} else if (!strcmp(cmd, "ctime")) {
		int rc = tapset_ctime(out, SIZE, num(argv[2]));
		printf("%d:", rc);
	} else if (!strcmp(cmd, "errno"))
		snprintf(out, SIZE, "%s", tapset_errno_name(num(argv[2])) ?: "(none)");
	else if (!strcmp(cmd, "signal"))
		tapset_signal_name(out, SIZE, num(argv[2]));
	else if (!strcmp(cmd, "tz"))
		snprintf(out, SIZE, "%lld %s", (long long)tapset_tz_gmtoff(), tapset_tz_name());
	else if (!strcmp(cmd, "randint")) {
		int64_t n = num(argv[2]), lo = INT64_MAX, hi = -1;
		for (int i = 0; i < 2000; i++) {
			int64_t v = tapset_randint(n);
			lo = v < lo ? v : lo;
			hi = v > hi ? v : hi;
		}
		snprintf(out, SIZE, "%lld %lld", (long long)lo, (long long)hi);
	} else if (!strcmp(cmd, "clock_event")) {
		/* an event stamp 1s ago, read on CLOCK_MONOTONIC and CLOCK_REALTIME */
		struct timespec mono, real;
		clock_gettime(CLOCK_MONOTONIC, &mono);
		clock_gettime(CLOCK_REALTIME, &real);
		uint64_t event = (uint64_t)mono.tv_sec * 1000000000 + mono.tv_nsec - 1000000000;
		int64_t at_mono = tapset_clock_ns(CLOCK_MONOTONIC, event);
		int64_t ago = (int64_t)real.tv_sec * 1000000000 + real.tv_nsec - tapset_clock_ns(CLOCK_REALTIME, event);
		snprintf(out, SIZE, "%d %d", at_mono == (int64_t)event, ago > 990000000 && ago < 1010000000);
	} else if (!strcmp(cmd, "jiffies")) {
		uint64_t t = 5000000000ULL;
		snprintf(out, SIZE, "%lld %lld", (long long)(tapset_jiffies(250, t + 1000000000) - tapset_jiffies(250, t)),
			 (long long)(tapset_jiffies(1000, t + 4000000) - tapset_jiffies(1000, t)));
	} else if (!strcmp(cmd, "uread_string")) {
		/* TEXT TERMINATED MAXLEN: read from this process at the end of a page */
		char *p = at_page_end(argv[2], (int)num(argv[3]));
		int rc = tapset_read_user_string(getpid(), (uint64_t)(uintptr_t)p, out, SIZE, num(argv[4]));
		printf("%d:", rc);
	} else if (!strcmp(cmd, "uread_int")) {
		/* HEXBYTES SIZE SIGNED */
		unsigned char buf[8] = { 0 };
		int64_t value = 0;
		for (int i = 0; argv[2][2 * i]; i++)
			sscanf(argv[2] + 2 * i, "%2hhx", &buf[i]);
		int rc = tapset_read_user_int(getpid(), (uint64_t)(uintptr_t)buf, (int)num(argv[3]), (int)num(argv[4]), &value);
		snprintf(out, SIZE, "%d:%lld", rc, (long long)value);
	} else if (!strcmp(cmd, "uread_null")) {
		int64_t value;
		snprintf(out, SIZE, "%d %d", tapset_read_user_int(getpid(), 0, 8, 1, &value),
			 tapset_read_user_string(getpid(), 0, out + 100, 100, 10));
	} else if (!strcmp(cmd, "comm"))
		printf("%d:", tapset_proc_comm(num(argv[2]), out, SIZE));
	else if (!strcmp(cmd, "cmdline"))
		printf("%d:", tapset_proc_cmdline(num(argv[2]), num(argv[3]), num(argv[4]), argv[5], out, SIZE));
	else if (!strcmp(cmd, "stat")) {
		int64_t value = -1;
		int rc = tapset_proc_stat_field(num(argv[2]), (int)num(argv[3]), &value);
		snprintf(out, SIZE, "%d:%lld", rc, (long long)value);
	} else if (!strcmp(cmd, "statm")) {
		int64_t value = -1;
		int rc = tapset_proc_statm_field(num(argv[2]), (int)num(argv[3]), &value);
		snprintf(out, SIZE, "%d:%d", rc, value > 0);
	} else if (!strcmp(cmd, "environ"))
		printf("%d:", tapset_proc_environ(num(argv[2]), argv[3], out, SIZE));
	else if (!strcmp(cmd, "tgid")) {
		/* own pid, a second thread's tid, a thread id that does not exist */
		pthread_t thread;
		pthread_mutex_lock(&thread_done);
		pthread_create(&thread, NULL, report_tid, NULL);
		while (__atomic_load_n(&thread_tid, __ATOMIC_SEQ_CST) == 0)
			usleep(1000);
		snprintf(out, SIZE, "%d %d %d %lld", tapset_tgid(getpid()) == getpid(),
			 thread_tid != getpid() && tapset_tgid(thread_tid) == getpid(),
			 tapset_tgid(thread_tid) == getpid(), (long long)tapset_tgid(999999999));
		pthread_mutex_unlock(&thread_done);
		pthread_join(thread, NULL);
	} else if (!strcmp(cmd, "system"))
		snprintf(out, SIZE, "%d", tapset_system(argv[2]));
	else {
		fprintf(stderr, "unknown command %s\n", cmd);
		return 2;
	}
	fputs(out, stdout);
	return 0;
}
"""


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The helpers and the driver, built once with warnings as errors."""
    build = tmp_path_factory.mktemp("tapset_c")
    (build / "driver.c").write_text(DRIVER)
    sources = sorted(str(p) for p in RUNTIME_C.glob("tapset_*.c"))
    exe = build / "driver"
    subprocess.run(
        ["gcc", "-std=gnu11", "-O1", "-Wall", "-Wextra", "-Werror", "-I", str(RUNTIME_C),
         "-o", str(exe), str(build / "driver.c"), *sources, "-pthread", "-lm"],
        check=True, capture_output=True, text=True,
    )
    return exe


def call(driver: Path, *args: str | int | bytes, env: dict[str, str] | None = None) -> bytes:
    argv = [os.fsencode(str(driver))] + [a if isinstance(a, bytes) else str(a).encode() for a in args]
    proc = subprocess.run(argv, capture_output=True, check=True, env=env, timeout=30)
    return proc.stdout


def test_helpers_compile_cleanly_as_c11() -> None:
    """Every helper builds alone under strict ISO C plus the POSIX it asks for."""
    for source in sorted(RUNTIME_C.glob("tapset_*.c")):
        proc = subprocess.run(
            ["gcc", "-std=c11", "-pedantic", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", str(source)],
            capture_output=True, text=True,
        )
        assert proc.returncode == 0, proc.stderr


# text_str / text_strn / string_quoted: (input, limit, quoted) -> output
ESCAPES = [
    (b"hello", 0, 0, b"hello"),
    (b"tab\there\n", 0, 0, b"tab\\there\\n"),
    (b'say "hi" \\o/', 0, 0, b'say \\"hi\\" \\\\o/'),
    (b"\x01\x7f\x1b", 0, 0, b"\\001\\177\\033"),
    (b"\a\b\f\r\v", 0, 0, b"\\a\\b\\f\\r\\v"),
    ("caf\u00e9".encode(), 0, 0, b"caf\\u00E9"),
    ("\u20ac".encode(), 0, 0, b"\\u20AC"),
    ("\U0001F600".encode(), 0, 0, b"\\U0001F600"),
    (b"\xc3(", 0, 0, b"\\303("),  # bad continuation byte: lead byte stands alone
    (b"\xc0\x80", 0, 0, b"\\300\\200"),  # overlong encoding is not decoded
    (b"\xed\xa0\x80", 0, 0, b"\\355\\240\\200"),  # a UTF-16 surrogate is not decoded
    (b"hello", 3, 0, b"hel"),
    (b"ab\ncd", 3, 0, b"ab"),  # an escape that does not fit is left out whole
    (b"hello", 0, 1, b'"hello"'),
    (b"", 0, 1, b'""'),
    (b"hello", 7, 1, b'"hello"'),
    (b"hello world", 8, 1, b'"hel"...'),
    (b"hello world", 5, 1, b'""...'),
    (b"hello world", 1, 1, b'""...'),  # stap keeps at least 5 characters when quoting
    (b"ab\ncdefgh", 8, 1, b'"ab"...'),  # the cut would split "\n": it is dropped whole
    (b"abc\ncdefgh", 8, 1, b'"abc"...'),
    (b"x" * 600, 0, 1, b'"' + b"x" * 506 + b'"...'),
]


@pytest.mark.parametrize(("text", "limit", "quoted", "expected"), ESCAPES)
def test_escape(driver: Path, text: bytes, limit: int, quoted: int, expected: bytes) -> None:
    assert call(driver, "escape", text, limit, quoted) == expected


@pytest.mark.parametrize(
    ("text", "start", "length", "expected"),
    [
        ("hello", 1, 3, "ell"),
        ("hello", 0, 5, "hello"),
        ("hello", 3, 10, "lo"),
        ("hello", 5, 1, ""),
        ("hello", -1, 2, ""),
        ("hello", 1, 0, ""),
        ("hello", 1, -4, ""),
    ],
)
def test_substr(driver: Path, text: str, start: int, length: int, expected: str) -> None:
    assert call(driver, "substr", text, start, length).decode() == expected


@pytest.mark.parametrize(
    ("text", "find", "repl", "expected"),
    [
        ("hello world", "o", "0", "hell0 w0rld"),
        ("aaaa", "aa", "b", "bb"),
        ("abc", "", "x", "abc"),
        ("abc", "abc", "", ""),
        ("a.b.c", ".", "::", "a::b::c"),
        ("nothing", "xyz", "q", "nothing"),
    ],
)
def test_str_replace(driver: Path, text: str, find: str, repl: str, expected: str) -> None:
    assert call(driver, "str_replace", text, find, repl).decode() == expected


def test_str_replace_truncates_at_maxstringlen(driver: Path) -> None:
    assert call(driver, "str_replace", "a" * 300, "a", "bb") == b"b" * 511


@pytest.mark.parametrize(
    ("text", "base", "expected"),
    [
        ("123", 10, 123),
        ("-42", 10, -42),
        ("ff", 16, 255),
        ("0xff", 16, 255),
        ("0x1f", 0, 31),
        ("017", 0, 15),
        ("17", 0, 17),
        ("101", 2, 5),
        ("12abc", 10, 12),
        ("zz", 36, 1295),
        (" 5", 10, 0),
        ("", 10, 0),
        ("9223372036854775807", 10, 9223372036854775807),
    ],
)
def test_strtol(driver: Path, text: str, base: int, expected: int) -> None:
    assert int(call(driver, "strtol", text, base)) == expected


@pytest.mark.parametrize(
    ("haystack", "needle", "expected"),
    [("hello", "ll", 2), ("hello", "he", 0), ("hello", "", 0), ("hello", "xyz", -1), ("", "a", -1)],
)
def test_strpos(driver: Path, haystack: str, needle: str, expected: int) -> None:
    assert int(call(driver, "strpos", haystack, needle)) == expected


def test_case(driver: Path) -> None:
    assert call(driver, "case", "Hello, World 42", 1) == b"HELLO, WORLD 42"
    assert call(driver, "case", "Hello, World 42", 0) == b"hello, world 42"


def test_tokenize_sequence(driver: Path) -> None:
    """Tokens of a remembered string, empty tokens skipped, then empties for ever."""
    out = call(driver, "tokenize", "  one, two,,three ", " ,", "", " ,", "", " ,", "", " ,", "", " ,")
    assert out.decode().splitlines() == ["[one]", "[two]", "[three]", "[]", "[]"]


def test_tokenize_new_input_restarts_and_delimiters_may_change(driver: Path) -> None:
    out = call(driver, "tokenize", "a:b c", ":", "", " ", "x y", " ", "", " ", "", " ")
    assert out.decode().splitlines() == ["[a]", "[b]", "[x]", "[y]", "[]"]


def test_tokenize_before_any_input_and_without_delimiters(driver: Path) -> None:
    out = call(driver, "tokenize", "", " ", "whole string", "", "", "")
    assert out.decode().splitlines() == ["[]", "[whole string]", "[]"]


@pytest.mark.parametrize(
    ("secs", "expected"),
    [
        (0, "0:Thu Jan  1 00:00:00 1970"),
        (741476948, "0:Wed Jun 30 21:49:08 1993"),
        (-2147483648, "0:Fri Dec 13 20:45:52 1901"),
        (2147483647, "0:Tue Jan 19 03:14:07 2038"),
        (2147483648, "1:"),
        (-2147483649, "-1:"),
    ],
)
def test_ctime(driver: Path, secs: int, expected: str) -> None:
    assert call(driver, "ctime", secs).decode() == expected


def test_time_zone_comes_from_the_environment(driver: Path) -> None:
    env = dict(os.environ)
    assert call(driver, "tz", env={**env, "TZ": "UTC"}) == b"0 UTC"
    assert call(driver, "tz", env={**env, "TZ": "EST5"}) == b"18000 EST"
    assert call(driver, "tz", env={**env, "TZ": "<+0530>-5:30"}) == b"-19800 +0530"


@pytest.mark.parametrize(
    ("number", "expected"),
    [(2, "ENOENT"), (-2, "ENOENT"), (11, "EAGAIN"), (35, "EDEADLK"), (95, "EOPNOTSUPP"),
     (131, "ENOTRECOVERABLE"), (0, "(none)"), (41, "(none)"), (132, "(none)"), (3333, "(none)")],
)
def test_errno_names(driver: Path, number: int, expected: str) -> None:
    assert call(driver, "errno", number).decode() == expected


@pytest.mark.parametrize(
    ("number", "expected"),
    [(1, "HUP"), (9, "KILL"), (17, "CHLD"), (29, "IO/POLL"), (31, "SYS"), (32, "RTMIN"),
     (35, "RTMIN+3"), (64, "RTMIN+32"), (0, ""), (65, ""), (-1, "")],
)
def test_signal_names(driver: Path, number: int, expected: str) -> None:
    assert call(driver, "signal", number).decode() == expected


def test_randint_range(driver: Path) -> None:
    assert call(driver, "randint", 2) == b"0 1"
    assert call(driver, "randint", 1) == b"0 0"
    lo, hi = map(int, call(driver, "randint", 1 << 20).split())
    assert 0 <= lo < hi < 1 << 20
    assert call(driver, "randint", (1 << 20) + 1) == b"-1 -1"
    assert call(driver, "randint", -5) == b"-1 -1"


def test_clocks_report_the_event_time(driver: Path) -> None:
    assert call(driver, "clock_event") == b"1 1"


def test_jiffies_tick_at_hz(driver: Path) -> None:
    assert call(driver, "jiffies") == b"250 4"


@pytest.mark.parametrize(
    ("text", "terminated", "maxlen", "expected"),
    [
        ("hello", 1, 100, "0:hello"),  # ends exactly at an unmapped page
        ("hello", 1, 3, "0:hel"),
        ("hello", 0, 5, "0:hello"),  # stops at the limit before the fault
        ("hello", 0, 100, "-14:"),  # runs into the unmapped page: EFAULT
        ("x" * 600, 1, 1000, "0:" + "x" * 510),  # stap's user_string_n keeps MAXSTRINGLEN-2
        ("hello", 1, -1, "0:"),
    ],
)
def test_read_user_string(driver: Path, text: str, terminated: int, maxlen: int, expected: str) -> None:
    assert call(driver, "uread_string", text, terminated, maxlen).decode() == expected


@pytest.mark.parametrize(
    ("hexbytes", "size", "signed", "expected"),
    [
        ("ff", 1, 1, "0:-1"),
        ("ff", 1, 0, "0:255"),
        ("feff", 2, 1, "0:-2"),
        ("feff", 2, 0, "0:65534"),
        ("78563412", 4, 0, "0:305419896"),
        ("ffffff7f", 4, 1, "0:2147483647"),
        ("00000080", 4, 1, "0:-2147483648"),
        ("ffffffffffffffff", 8, 0, "0:-1"),
        ("0100000000000000", 8, 1, "0:1"),
        ("01", 3, 1, "-22:0"),
    ],
)
def test_read_user_int(driver: Path, hexbytes: str, size: int, signed: int, expected: str) -> None:
    assert call(driver, "uread_int", hexbytes, size, signed).decode() == expected


def test_read_user_null_pointer_faults(driver: Path) -> None:
    assert call(driver, "uread_null") == b"-14 -14"


def test_read_user_of_a_process_that_is_gone(driver: Path) -> None:
    child = subprocess.Popen(["true"])
    child.wait()
    out = call(driver, "cmdline", child.pid, 0, -1, " ")
    assert out == b"-2:"  # ENOENT: /proc/PID no longer exists


@pytest.fixture(scope="module")
def sleeper():
    """A process with a known command line, environment and process group."""
    proc = subprocess.Popen(
        ["/bin/sh", "-c", "sleep 60", "name0", "arg one"],
        env={"STAPUI_PROBE": "value=with=equals", "PATH": "/usr/bin:/bin"},
        start_new_session=True,
    )
    comm = Path(f"/proc/{proc.pid}/comm")
    while comm.read_text() != "sh\n":  # until the child has finished becoming /bin/sh
        time.sleep(0.001)
    yield proc
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_proc_comm(driver: Path, sleeper: subprocess.Popen) -> None:
    assert call(driver, "comm", sleeper.pid) == b"0:sh"
    assert call(driver, "comm", 999999999) == b"-2:"


@pytest.mark.parametrize(
    ("first", "last", "delim", "expected"),
    [
        (0, -1, " ", "/bin/sh -c sleep 60 name0 arg one"),
        (1, 2, "|", "-c|sleep 60"),
        (2, 2, "", "sleep 60"),
        (4, -1, ",", "arg one"),
        (5, -1, " ", ""),
        (3, 1, "+", "name0+arg one"),  # m < n: everything from n on
    ],
)
def test_proc_cmdline(driver: Path, sleeper: subprocess.Popen, first: int, last: int, delim: str, expected: str) -> None:
    assert call(driver, "cmdline", sleeper.pid, first, last, delim).decode() == "0:" + expected


def test_proc_stat_fields(driver: Path, sleeper: subprocess.Popen) -> None:
    assert call(driver, "stat", sleeper.pid, 4) == f"0:{os.getpid()}".encode()  # ppid
    assert call(driver, "stat", sleeper.pid, 5) == f"0:{sleeper.pid}".encode()  # pgrp (own session)
    assert call(driver, "stat", sleeper.pid, 6) == f"0:{sleeper.pid}".encode()  # session
    assert call(driver, "stat", sleeper.pid, 2) == b"-22:-1"


def test_proc_statm(driver: Path, sleeper: subprocess.Popen) -> None:
    assert call(driver, "statm", sleeper.pid, 0) == b"0:1"
    assert call(driver, "statm", sleeper.pid, 9) == b"-22:0"


def test_proc_environ(driver: Path, sleeper: subprocess.Popen) -> None:
    assert call(driver, "environ", sleeper.pid, "STAPUI_PROBE") == b"0:value=with=equals"
    assert call(driver, "environ", sleeper.pid, "STAPUI") == b"0:"
    assert call(driver, "environ", sleeper.pid, "MISSING") == b"0:"


def test_tgid_of_threads(driver: Path) -> None:
    """A thread maps to its process; an id with no thread maps to itself."""
    assert call(driver, "tgid") == b"1 1 1 999999999"


def test_system_runs_the_command(driver: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    assert call(driver, "system", f"echo done > {marker}.tmp && mv {marker}.tmp {marker}") == b"0"
    for _ in range(200):
        if marker.exists() and marker.read_text() == "done\n":
            break
        subprocess.run(["sleep", "0.05"])
    assert marker.read_text() == "done\n"
