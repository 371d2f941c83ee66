"""Details users see when they bring stap habits: probe-point strings, probe numbering,
similar-message suppression, printf flags and the memory-dump size check.

Where stap can answer (passes 1-3), its output is the expected value: the probe table
of `-p3` (stap's `STAP_PROBE_INIT(index, handler, pp, pn, location, derivation)` rows
against our `probes[]` rows), `-p2` stderr, and the locations of the run-time checks it
emits. Run-time text is derived from stap's runtime/vsprintf.c and the generated code.
"""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys

import pytest

from engine.cli import main
from tests.support import REPO, require_root, require_tracefs, stap_oracle

ENTRY = "import sys; sys.path.insert(0, %r); from engine.cli import entry; entry()" % str(REPO)
_LITERAL = r'"((?:[^"\\]|\\.)*)"'
STAP_ROW = re.compile(rf"STAP_PROBE_INIT\(\d+, &\w+, {_LITERAL}, {_LITERAL}, {_LITERAL}, {_LITERAL}\)")
OUR_ROW = re.compile(rf"\{{\.pp = {_LITERAL}, \.name = {_LITERAL}, \.location = {_LITERAL}, \.derivation = {_LITERAL}")


def unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def ours(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def run(script: str) -> subprocess.CompletedProcess:
    """pystap pass 5, output as bytes (some conversions write NUL bytes)."""
    return subprocess.run([sys.executable, "-c", ENTRY, "-e", script], capture_output=True, timeout=120, cwd=REPO)


def stap_probe_table(script: str) -> list[tuple[str, ...]]:
    proc = stap_oracle("-p3", "-e", script)
    assert proc.returncode == 0, proc.stderr
    return [tuple(unescape(x) for x in row) for row in STAP_ROW.findall(proc.stdout)]


def our_probe_table(script: str) -> list[tuple[str, ...]]:
    code, out, err = ours("-p3", "-e", script)
    assert code == 0, err
    return [tuple(unescape(x) for x in row) for row in OUR_ROW.findall(out)]


# -- probe points and their numbering ---------------------------------------------------------

TABLE_SCRIPTS = {
    # `?` and `!` stay on pp(), with the guard; an alias's pn() is its name
    "optional_and_guards": """
probe myalias = timer.s(2), begin(5)? { }
probe myalias? { println(pp()) }
probe timer.*(200)? { println(pp()) }
probe myalias! if (2 > 1) { println(pn()) }
probe timer.s(3)! if (3 < 1) { println(pp()) }
""",
    # each written point's probes in turn, aliases (nested too) where they are named
    "interleaved_aliases": """
probe y = timer.s(2) { }
probe x = y?, end { }
probe end, y, begin, x, timer.ms(5), procfs("f").read, never { println(1) }
probe begin(-1) { println(2) }
""",
    # a guard reading a global adds stap's begin probe, before the probes displaying globals
    "condition_and_display_probes": """
global a, b, c
probe timer.s(1) if (c) { a = 1; b[1] = 2; exit() }
probe end { println(3) }
""",
    # a guard of constants does not
    "constant_condition": "probe timer.s(1) if (1) { println(1) }",
    # literals are folded inside a guard, but a guard is never replaced as a whole
    "folded_guards": "global g\nprobe timer.s(1) if (1+1 && g > 2 && -1 < 2) { println(pp()) }\n"
                     "probe timer.s(2) if (2 > 1) { println(pp()) }",
    "wildcard_alias": """
probe a.b = timer.s(2) { }
probe a.* ? { println(pn()) }
probe a.b if (1 > 0) { println(pn()) }
""",
}


@pytest.mark.parametrize("name", TABLE_SCRIPTS)
def test_probe_table_is_stap_s(name):
    """pp, pn, -t location and derivation of every probe, in stap's index order."""
    script = TABLE_SCRIPTS[name]
    assert our_probe_table(script) == stap_probe_table(script)


def test_pp_and_pn_at_run_time():
    proc = run("probe begin? { println(pp(), \"|\", pn()) }\n"
               "probe tp = timer.ms(1)? { }\n"
               "probe tp if (1 > 0) { println(pp(), \"|\", pn()); exit() }")
    assert (proc.stdout, proc.stderr, proc.returncode) == (b"begin?|begin?\ntimer.ms(1)? if ((1) > (0))|tp\n", b"", 0)


def test_pp_of_an_optional_tracepoint():
    require_root()
    require_tracefs()
    proc = run('probe kernel.trace("sched:sched_switch")? { println(pp()); exit() }')
    # (events still queued when exit() ends the run are reported lost on stderr)
    assert (proc.stdout, proc.returncode) == (b'kernel.trace("sched:sched_switch")?\n', 0)


# -- pass-2 messages --------------------------------------------------------------------------

STDERR_SCRIPTS = {
    # warnings repeat per probe a handler serves; similar ones (same message) are counted
    "alias_warnings": "probe myalias = timer.s(2)?, begin(5) { x = 1 }\n"
                      "probe myalias2 += end!, never { y = 2 }\n"
                      "probe myalias { println(pp()) }\nprobe myalias2 { println(pp()) }",
    "elided_points_in_order": "probe y = timer.s(2) { }\nprobe x = y? { }\nprobe x { println(pn()) }\n"
                              "probe end, y, begin, x {}",
    "elided_through_alias": "probe a = begin, end { x = 1 }\nprobe a {}",
    "no_probes_left": "probe begin { x = 1; y = 2; 3; 4 }",
    "timer_wildcard": "probe timer.*(9) { println(pp()) }",
    "timer_wildcard_none": "probe timer.*(0) { println(1) }",
    "stat_local_once": "probe begin { s <<< 1; println(@count(s)) }",
}


@pytest.mark.parametrize("name", STDERR_SCRIPTS)
def test_p2_is_stap_s(name):
    script = STDERR_SCRIPTS[name]
    stap = stap_oracle("-p2", "-e", script)
    code, out, err = ours("-p2", "-e", script)
    assert (code, err) == (stap.returncode, stap.stderr)
    assert probe_lines(out) == probe_lines(stap.stdout)


def probe_lines(listing: str) -> list[str]:
    """The probes of a -p2 listing (the rest names tapset internals, which differ by design)."""
    probes = listing.partition("# probes\n")[2]
    return [line for line in probes.splitlines() if not line.startswith((" ", "{"))]


def test_p2_verbose_lists_every_warning():
    script = STDERR_SCRIPTS["alias_warnings"]
    stap = stap_oracle("-v", "-p2", "-e", script)
    warnings = [line for line in stap.stderr.splitlines() if line.startswith("WARNING")]
    assert [line for line in ours("-v", "-p2", "-e", script)[2].splitlines() if line.startswith("WARNING")] == warnings


VERBOSE_SCRIPTS = {
    # an alias's body and the user's are one block
    "nested_aliases": "probe inner = timer.ms(50) { a = 1 } probe outer = inner { b = a + 1 }\n"
                      "probe outer { println(b); exit() }",
    # the guard heads the handler; the begin probe stap adds for it is `{ ; }`
    "guard": 'global enabled = 1; probe timer.ms(100) if (enabled) { enabled = 0; println("once") }',
    # a deleted variable is named as declared; a displayed string is quoted
    # literals folded after type checking (the dropped branch still had to type-check)
    "literal_folding": 'probe begin { println(2 > 1, 1+1, "a" < "b", -1, 1 ? 4 : 5, !0, 6/0, "a" . "b", 1 && 0,\n'
                       '((5) & (3)) | ((((8) ^ (1)) << (1)) >> (1)), ~(0), -7/2, -7%2, 9223372036854775807+1)\n'
                       'if (2 > 1) println(1) else println("x") }',
    "delete_and_display": 'global a, x, s\nprobe begin { a[1] = 1; x = 2; delete a[1]; delete a; delete x;\n'
                          'println(a[2], x); s = "q"; exit() }',
}


@pytest.mark.parametrize("name", VERBOSE_SCRIPTS)
def test_p2_verbose_probes_are_stap_s(name):
    script = VERBOSE_SCRIPTS[name]
    stap = stap_oracle("-v", "-p2", "-e", script)
    code, out, _ = ours("-v", "-p2", "-e", script)
    assert (code, out.partition("# probes\n")[2]) == (stap.returncode, stap.stdout.partition("# probes\n")[2])


# -- printf -----------------------------------------------------------------------------------


def test_printf_flags_as_stap_s_vsprintf():
    """One flag at most ('0' after another flag is width), '0' on %s adds a NUL byte, a
    negative `*` width or precision counts as 0, %c ignores '0'."""
    proc = run('probe begin { printf("%0s|%05s|%-05s|%#08x|%+05d|%05d|%*d|%.*s|%0c|\\n", '
               '"ab", "cd", "ef", 1, 3, 4, -5, 7, -2, "xyz", 65); '
               'println(strlen(sprintf("%0s!", "z"))); exit() }')
    assert (proc.stdout, proc.stderr, proc.returncode) == (b"ab\0|   cd\0|ef   |     0x1|   +3|00004|7||A|\n1\n", b"", 0)


def test_one_printf_prints_at_most_stap_s_print_buffer():
    proc = run('probe begin { printf("%*d|", 100000, 1); printf("\\n"); exit() }')
    assert (proc.stdout, proc.stderr, proc.returncode) == (b" " * 8191 + b"1\n", b"", 0)


def _stap_dump_checks(c_code: str) -> list[str]:
    """Where stap's -p3 reports a too-large %m/%M, for sizes not known to fit."""
    checks = re.findall(r'c->last_stmt = "([^"]*)";\n\s*if \((\S+) > PAGE_SIZE\)', c_code)
    return [where for where, size in checks if not (size.endswith("LL") and int(size[:-2]) <= 4096)]


def test_memory_dump_size_is_checked_where_stap_checks_it():
    script = 'global n = 5000 probe begin { printf("%.*M|%5.*m", n, 0, n+1, 0); printf("%.4097m|%m", 0, 0) }'
    stap = stap_oracle("-p3", "-e", script)
    code, out, _ = ours("-p3", "-e", script)
    assert code == 0 and stap.returncode == 0
    expected = _stap_dump_checks(stap.stdout)
    assert expected == ["identifier 'n' at <input>:1:52", "operator '+' at <input>:1:59", "identifier 'printf' at <input>:1:67"]
    assert re.findall(r'stp_check_dump_size\(c, [^;]*\); if \(c->last_error\) \{ c->last_stmt = "([^"]*)"', out) == expected
