"""Pass 3's C: its shape (one function per handler and script function, #line
directives, -D limits, embedded C with the ABI macros, probe and global tables),
and pass 4's handling of C that does not compile."""

from __future__ import annotations

import re

import pytest

from engine.session import Options, Session
from engine.translate.cstrings import c_literal, decode


def translate(script: str, **options) -> str:
    session = Session(Options(script_text=script, last_pass=3, **options))
    result = session.run_all()
    assert result.ok, [d.format() for d in session.diagnostics()]
    return result.artifact.dump()


SCRIPT = """global counts, total
function double:long (x:long) { return 2 * x }
function name:string () { return "n" }
probe begin { counts["a"] = double(3); total <<< 1; println(name(), counts["a"], @count(total)); exit() }
probe timer.ms(100) { counts["b"]++ }
"""


@pytest.fixture(scope="module")
def c_text() -> str:
    return translate(SCRIPT)


def test_one_c_function_per_probe_and_script_function(c_text):
    assert re.findall(r"^static void (probe_\d+)\(struct context \*c\)$", c_text, re.M) == ["probe_0", "probe_1"]
    assert "static int64_t f_double(struct context *c, int64_t a_x)\n{" in c_text
    assert "static void f_name(struct context *c, char *retval)\n{" in c_text


def test_line_directives_point_at_the_script(c_text):
    lines = {int(n) for n in re.findall(r'^#line (\d+) "<input>"$', c_text, re.M)}
    assert {2, 3, 4, 5} <= lines


def test_probe_table_and_globals(c_text):
    row = '{.pp = "begin", .name = "begin", .location = "<input>:4:1", .derivation = " from: begin", .kind = STP_PROBE_BEGIN'
    assert row in c_text  # location and derivation as stap -t reports them
    assert '.kind = STP_PROBE_TIMER, .sequence = 0, .period_ns = 100000000, .randomize_ns = 0' in c_text
    assert 'static const struct stp_map_spec g_counts_spec = {1, {STP_STRING}, STP_LONG, 0, 0, 0};' in c_text
    assert "static struct stp_stat g_total; /* global total */" in c_text
    assert '{"counts", STP_LONG, 1, (void *)&g_counts},' in c_text


def test_safety_checks_are_emitted(c_text):
    assert 'if (c->nesting + 1 >= MAXNESTING) { c->last_error = "MAXNESTING exceeded"; return 0; }' in c_text
    assert 'c->last_error = "MAXACTION exceeded"' in c_text
    assert "stp_map_set_long(c, g_counts, k" in c_text


def test_defines_come_before_the_runtime_header():
    text = translate('probe begin { println("x"); exit() }', defines={"MAXACTION": "5", "MAXSTRINGLEN": "64"})
    assert text.index("#define MAXACTION 5\n") < text.index('#include "runtime.h"')
    assert text.index("#define MAXSTRINGLEN 64\n") < text.index('#include "runtime.h"')


def test_embedded_c_is_verbatim_with_the_abi():
    script = 'function add:long (a:long, b:long) %{ STAP_RETURN(STAP_ARG_a + STAP_ARG_b); %}\n' \
             'probe begin { println(add(1, 2)); exit() }'
    text = translate(script, guru=True)
    assert "static int64_t f_add(struct context *c, int64_t STAP_ARG_a, int64_t STAP_ARG_b)" in text
    assert " STAP_RETURN(STAP_ARG_a + STAP_ARG_b); " in text
    assert "#define STAP_RETURN(v) do { STAP_RETVALUE = (v); goto out; } while (0)" in text
    assert "#define return goto out" in text and "#undef return" in text


def test_division_records_the_operator_location():
    text = translate("probe begin { x = 10; y = 0; println(x / y); exit() }")
    assert "stp_div(c, l_x, l_y)" in text
    assert "c->last_stmt = \"operator '/' at <input>:1:40\"" in text


def test_try_catch_jumps_to_its_handler():
    text = translate('probe begin { z = 0; try { println(1 / z) } catch (e) { println(e) } exit() }')
    assert re.search(r"goto catch_\d+; \} v\d+; \}\)", text)
    assert "stp_strset(l_e, c->last_error);" in text


def test_string_literals_round_trip():
    assert decode(r"a\tb\\c\"d\101\x42") == b'a\tb\\c"dAB'
    assert c_literal(b'q"\\\n\x01?') == '"q\\"\\\\\\n\\001\\?"'


def test_broken_embedded_c_reports_the_compiler_message():
    session = Session(Options(script_text="function f() %{ this is not C; %}\nprobe begin { f() }", guru=True, last_pass=4))
    result = session.run_all()
    assert not result.ok
    [diagnostic] = session.results[-1].diagnostics
    assert diagnostic.kind == "translator error"
    assert re.search(r"<input>:1:\d+: error: unknown type name 'this'", diagnostic.notes[0])


def test_missing_compiler_says_what_to_install():
    import os
    import subprocess
    import sys

    from tests.support import REPO

    entry = "import sys; sys.path.insert(0, %r); from engine.cli import entry; entry()" % str(REPO)
    proc = subprocess.run(
        [sys.executable, "-c", entry, "-p4", "-e", 'probe begin { println("x") exit() }'],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PATH": "/nonexistent"},
        cwd=REPO,
    )
    assert proc.returncode == 1
    assert proc.stderr.endswith(
        "error: no C compiler found (gcc or cc): install a C compiler and the C library headers, "
        "e.g. `apt-get install gcc libc6-dev`\nPass 4: compilation failed.  [man error::pass4]\n"
    )


@pytest.mark.parametrize(
    "script, expected",  # values stap 4.8 chooses (stap -p3 -k, stap_common.h)
    [
        ("global d probe begin { d++; println(d) }", 1),
        ("global d function g:long() { d++; return d } function f:long() { return g() } probe begin { println(f()) }", 2),
        ("global d function f:long() { d++; if (d > 9) return 0; return f() } probe begin { f() }", 13),
        ("global d function f:long() { d++; if (d > 9) return 0; return f() } function a:long() { return f() } "
         "probe begin { println(a()) }", 13),
        ("global d function h:long() { d++; if (d < 5) return f(); return d } function g:long() { return h() } "
         "function f:long() { return g() } probe begin { println(f()) }", 15),
    ],
)
def test_default_maxnesting_follows_the_call_graph(script, expected):
    assert f"#ifndef MAXNESTING\n#define MAXNESTING {expected} /* from the call graph, as stap */\n#endif" in translate(script)


def test_cache_prune_keeps_the_most_recently_used(tmp_path):
    import os

    from engine.build.cache import prune, touch

    for i in range(5):
        (tmp_path / f"entry{i}").mkdir()
        os.utime(tmp_path / f"entry{i}", (1000 + i, 1000 + i))
    touch(tmp_path / "entry0")  # used just now
    prune(tmp_path, 3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry0", "entry3", "entry4"]
