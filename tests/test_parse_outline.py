"""Pass 1's outline of library files: bodies skipped only where that cannot change the top level,
and errors in a skipped body reported when pass 2 links the file, where they are."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from engine.cli import main
from engine.diagnostics import DiagnosticError, SourceFile
from engine.elaborate.library import Library
from engine.parse import machine_conditions, parse_library, parse_text, parse_with_macros
from engine.parse.cache import ParseCache
from engine.parse.conditions import Conditions
from engine.parse.index import FileSummary
from engine.parse.lexer import tokenize
from engine.parse.library import library_files
from engine.parse.outline import Outliner, skippable_regions

COND = Conditions(kernel_vr="6.18.44", arch="x86_64")


def regions(text: str) -> list[tuple[str, str]]:
    """(kind, skipped text) of each region an outline of `text` may skip."""
    return [(kind, text[start:end]) for start, end, kind, _calls in skippable_regions(text)]


def test_bodies_and_macro_bodies_are_skippable():
    text = 'function f() { if (x) { y() } }\nprobe a.b { s = "}" # }\n }\n@define M(a) %( { @a } %)\n'
    assert regions(text) == [
        ("BODY", "{ if (x) { y() } }"),
        ("BODY", '{ s = "}" # }\n }'),
        ("MACRO_BODY", " { @a } "),
    ]


def test_bodies_whose_braces_depend_on_the_preprocessor_are_read():
    balanced = 'function f() { %( arch == "x" %? { a() } %: b() %) }'
    assert regions(balanced) == [("BODY", '{ %( arch == "x" %? { a() } %: b() %) }')]
    assert regions('function f() { %( arch == "x" %? if (a) { %: if (b) { %) c() } }') == []
    assert regions("function f() { @define m %( 1 %) }") == []
    assert regions("function f() { %) }") == []
    assert regions("function f() { return $# }") == []  # `a$#` vs `$#`: not told apart


def test_calls_are_recorded_for_the_balance_check():
    (_start, _end, _kind, calls), = skippable_regions("function f() { @m(1) @cast(p, \"t\")->x }")
    assert calls == {"m", "cast"}


def test_tokens_after_a_skipped_body_keep_their_place():
    text = "function f()\n{\n  a = 1\n}\nfunction g() { }\n"
    skipped = [(start, end, kind) for start, end, kind, _ in skippable_regions(text)]
    outlined = tokenize(SourceFile("t.stp", text), skipped)
    full = {(t.line, t.column): t.value for t in tokenize(SourceFile("t.stp", text))}
    assert [(t.type, t.line, t.column) for t in outlined] == [
        ("FUNCTION", 1, 1), ("IDENT", 1, 10), ("LPAR", 1, 11), ("RPAR", 1, 12), ("BODY", 2, 1),
        ("FUNCTION", 5, 1), ("IDENT", 5, 10), ("LPAR", 5, 11), ("RPAR", 5, 12), ("BODY", 5, 14),
    ]
    assert all(full[(t.line, t.column)] == t.value for t in outlined if t.type != "BODY")


def outline(text: str, macros: dict | None = None):
    return Outliner(COND, macros or {}).outline(text, "lib.stp")


def summary(stapfile) -> tuple:
    s = FileSummary.of("lib.stp", (0, 0), "key", stapfile)
    return s.functions, s.globals, s.aliases


def test_outline_indexes_what_the_full_parse_defines():
    text = (
        "global g1, g2 = 3\nprivate global hidden\n"
        "probe a.b = kernel.function(\"x\").call ?, timer.ms(5) { x = 1 }, { y = 2 }\n"
        "probe c.d += a.b { }\nfunction f:long (a:long) { return a }\nprivate function p() { }\n"
        "function e() %{ /* pure */ %}\n@define M %( if (x) { y() } %)\nprobe begin { @M }\n"
    )
    outlined = outline(text)
    assert outlined is not None and outlined.functions[0].body.statements == []  # skipped
    full = parse_text(text, "lib.stp", is_tapset=True, conditions=COND)
    assert summary(outlined) == summary(full) == (
        [("f", 0), ("e", 2)],
        [("g1", 0), ("g2", 1)],
        [(("a", "b"), 0), (("c", "d"), 1)],
    )


@pytest.mark.parametrize(
    "text",
    [
        "probe {a, b}.c { x = 1 }\n",  # a probe point's alternatives, not a body
        "@define M %( probe begin { } %)\n@M\n",  # a file macro read at the top level
        "@define OPEN %( { %)\nfunction f() { @OPEN } }\n",  # a macro that opens a brace
        "function f() { x = 1 }\nfunction (\n",  # an error the full parse reports
    ],
)
def test_doubtful_files_are_parsed_in_full(text):
    assert outline(text) is None


def test_library_macro_balance_counts_too():
    stpm = "@define OPEN %( { %)\n@define FINE %( if (x) { } %)\n@define CALLS_OPEN %( @OPEN %)\n"
    library_macros = parse_with_macros(stpm, "lib.stpm", is_tapset=True, conditions=COND)[1]
    assert outline("function f() { @FINE }\n", library_macros) is not None
    assert outline("function f() { @OPEN } }\n", library_macros) is None
    assert outline("function f() { @CALLS_OPEN } }\n", library_macros) is None


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    """A library whose file has an error inside a body, and a good file beside it."""
    library = tmp_path / "tapsets"
    library.mkdir()
    (library / "broken.stp").write_text("function good() { return 1 }\nfunction bad() {\n  x = ( }\n")
    (library / "fine.stp").write_text("function fine() { return 2 }\n")
    return library


def test_body_error_is_reported_when_the_file_is_linked(broken, tmp_path):
    files, _macros, warnings = parse_library([], machine_conditions(), ParseCache(tmp_path / "c"), roots=[broken])
    assert (len(files), warnings) == (2, [])
    library = Library.index(files)
    assert library.functions["fine"][0][0].name == "fine"
    with pytest.raises(DiagnosticError) as error:
        library.functions["good"]
    assert [d.format() for d in error.value.diagnostics] == [
        "parse error: expected literal string or number\n"
        f"        saw: operator '}}' at {broken}/broken.stp:3:9\n"
        "     source:   x = ( }\n"
        "                     ^\n\n",
        "1 parse error.\n",
    ]


def test_parse_all_warns_and_drops_broken_files(broken, tmp_path):
    files, _macros, _ = parse_library([], machine_conditions(), ParseCache(tmp_path / "c"), roots=[broken])
    warnings = files.parse_all()
    assert [(w.kind, w.message, w.span.line, w.span.col) for w in warnings] == [
        ("WARNING", "expected literal string or number", 3, 9)
    ]
    assert [Path(f.name).name for f in files] == ["fine.stp"]


def run_pystap(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_pystap_reports_a_body_error_where_it_is(broken):
    code, out, err = run_pystap("-p2", "-I", str(broken), "-e", "probe begin { println(good()) }")
    assert (code, out) == (1, "")
    assert err == (
        "parse error: expected literal string or number\n"
        f"        saw: operator '}}' at {broken}/broken.stp:3:9\n"
        "     source:   x = ( }\n"
        "                     ^\n\n"
        "1 parse error.\n"
        "Pass 2: analysis failed.  [man error::pass2]\n"
    )
    code, out, err = run_pystap("-p2", "-I", str(broken), "-e", "probe begin { println(fine()) }")
    assert (code, err) == (0, "")


def test_pystap_verbose_p1_warns_like_stap_pass_1(broken):
    code, out, err = run_pystap("-v", "-p1", "-I", str(broken), "-e", "probe begin {}")
    assert code == 0
    assert err.startswith(
        "WARNING: expected literal string or number\n"
        f"        saw: operator '}}' at {broken}/broken.stp:3:9\n"
    )
    assert f"# file {broken}/fine.stp\n" in out and "broken.stp" not in out


def test_bundled_library_outlines_define_what_full_parses_do():
    conditions = machine_conditions()
    macro_files, script_files = library_files([], conditions)
    macros: dict = {}
    for path in macro_files:
        macros.update(parse_with_macros(path.read_text(), str(path), is_tapset=True, conditions=conditions)[1])
    outliner = Outliner(conditions, macros)
    outlined = 0
    for path in script_files:
        text = path.read_text()
        outline = outliner.outline(text, str(path))
        if outline is not None:
            outlined += 1
            full = parse_text(text, str(path), is_tapset=True, conditions=conditions, macros=macros)
            assert summary(outline) == summary(full), path.name
    assert (outlined, len(script_files)) == (40, 52)  # the others have no body to skip
