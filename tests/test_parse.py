"""Pass 1 unit tests: preprocessor, arguments, macros, printer shapes, cache, CLI."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from engine.cli import main
from engine.diagnostics import DiagnosticError
from engine.parse import ast, machine_conditions, parse_text
from engine.parse.cache import ParseCache
from engine.parse.conditions import Conditions, compare_versions
from engine.parse.printer import print_file

COND = Conditions(kernel_vr="6.18.44-fc-v669", arch="x86_64", config={"CONFIG_SMP": "y", "CONFIG_HZ": "1000"})


def body(text: str, **kwargs) -> list[str]:
    """The printed statements of the first probe of `text`."""
    kwargs.setdefault("conditions", COND)
    printed = print_file(parse_text(text, "<input>", **kwargs))
    return printed.split("\n")[2:-3]


def errors(text: str, **kwargs) -> list[str]:
    kwargs.setdefault("conditions", COND)
    with pytest.raises(DiagnosticError) as info:
        parse_text(text, "<input>", **kwargs)
    return [d.message for d in info.value.diagnostics]


@pytest.mark.parametrize(
    "condition, value",
    [
        ('kernel_v >= "2.6.9"', 1),
        ('kernel_v < "6.2"', 2),
        ('kernel_v == "6.18.44"', 1),
        ('kernel_vr == "*-fc-*"', 1),
        ('arch == "x86_64"', 1),
        ('arch != "x86_*"', 2),
        ('runtime == "kernel"', 1),
        ('systemtap_v >= "4.0"', 1),
        ('systemtap_privilege == "stapdev"', 1),
        ('CONFIG_SMP == "y"', 1),
        ('CONFIG_HZ == 1000', 1),
        ('CONFIG_NOPE == "y"', 2),
        ('guru_mode == 0', 1),
        ("$# == 2", 1),
        ('@# == "2"', 1),
        ('arch == "arm" || kernel_v > "5" && $# > 1', 1),
        ('arch == "arm" && kernel_v > "5" || $# > 5', 2),
        ("1 < 2", 1),
    ],
)
def test_conditional_values(condition, value):
    text = f"probe begin {{ x = %( {condition} %? 1 %: 2 %) }}"
    assert body(text, args=["a", "b"]) == [f"(x) = ({value});"]


def test_nested_conditionals_and_missing_else():
    text = 'probe begin { %( arch == "x86_64" %? %( $# > 0 %? a() %: b() %) c() %) d() }'
    assert body(text) == ["b();", "c();", "d();"]
    assert body('probe begin { %( arch == "arm" %? a() %) d() }') == ["d();"]


def test_version_comparison_is_numeric():
    assert compare_versions("<", "6.9", "6.18")
    assert compare_versions(">", "6.18.44", "6.18.9")
    assert compare_versions("==", "6.18.44", "6.18.*")


def test_arguments_substitute_tokens_and_strings():
    text = "probe $1 { x = $2 + 1; y = @2; z = $# }"
    printed = print_file(parse_text(text, "<input>", args=['kernel.function("f")', "7"], conditions=COND))
    assert printed.split("\n")[1:5] == ['probe kernel.function("f"){', "(x) = ((7) + (1));", '(y) = ("7");', "(z) = (2);"]


def test_missing_arguments_are_reported_like_stap():
    assert errors("probe begin { x = $3 }", args=["a"]) == ["command line argument out of range [1-1]", "1 parse error."]


def test_macros_with_and_without_parameters():
    text = "@define two %( 2 %)\n@define add(a, b) %( (@a + @b) %)\nprobe begin { x = @add(@two, f(1, 2)) }"
    assert body(text) == ["(x) = ((2) + (f(1, 2)));"]


def test_library_macros_are_visible():
    library = parse_text_macros("@define twice(v) %( (@v * 2) %)")
    assert body("probe begin { x = @twice(3) }", macros=library) == ["(x) = ((3) * (2));"]


def parse_text_macros(text: str):
    from engine.parse import parse_with_macros

    return parse_with_macros(text, "lib.stpm", is_tapset=True, conditions=COND)[1]


def test_macro_errors():
    assert errors("@define m(a) %( @a %)\nprobe begin { x = @m(1, 2) }")[0] == "macro @m expects 1 parameters, got 2"
    assert errors("@define m %( 1 %)\n@define m %( 2 %)")[0] == "attempt to redefine macro '@m' in the same file"


@pytest.mark.parametrize(
    "source, printed",
    [
        ("x = a ? b : c ? d : e", "(x) = ((a)?(b):((c)?(d):(e)));"),
        ("x = a . b == c", "(x) = (((a) . (b)) == (c));"),
        ("x = a << b . c", "(x) = ((a) << ((b) . (c)));"),
        ("x = a & b in c", "(x) = ((a) & ([b] in c));"),
        ("x = 0x1f + 017 + 0xffffffffffffffff", "(x) = (((31) + (15)) + (-1));"),
        ('x = "a" "b"', '(x) = ("ab");'),
        ('x = "q\\"uote\\n"', '(x) = ("q\\"uote\\n");'),
        ('printf("%d\\n", 1)', 'printf("%d\\\\n", 1);'),
        ("x = $a$$ . $$parms$", "(x) = (($a->$$) . ($$parms->$));"),
        ("x = &$p->f[2]->g", "(x) = (&$p->f[2]->g);"),
        ('x = @cast(p, "task_struct", "kernel")->pid', '(x) = (@cast(p, "task_struct", "kernel")->pid);'),
        ("x = f(1)->a->next", "(x) = ((f(1))->a->next);"),
        ("x = &a", "(x) = (&(a));"),
        ('x = @var("v@f.c", "m")->a$', '(x) = (@var("v@f.c", "m")->a->$);'),
        ("foreach ([a, b-] in arr[1, *] limit 3) next", "foreach ([a, b-] in arr[1, *] limit 3) next;"),
        ("foreach (v = [k] in arr @sum+) next", "foreach (v = [k] in arr @sum+) next;"),
        ("while (1) break", "for (; 1; ) break;"),
        ("try { x = 1 } catch (e) { }", "try {\n{\n(x) = (1);\n}\n} catch (e) {\n{\n}\n}\n;"),
        ("if (a) b() else if (c) d()", "if (a) b()\nelse if (c) d()\n\n;"),
        ("x .= \"y\"\n++x", '(x) .= (("y")++);\nx;'),
        ("print(@hist_linear(s, 0, 100, 10))", "print(@hist_linear(s, 0, 100, 10));"),
        ("print(@hist_linear(s, -6, 0x10, 2))", "print(@hist_linear(s, -6, 16, 2));"),  # as stap -p1
        ("x = @variance(s, 3)", "(x) = (@variance(s, 3));"),
    ],
)
def test_printer_shapes(source, printed):
    assert "\n".join(body("probe begin { " + source + " }")) == printed


def test_probe_points_aliases_globals_functions():
    text = (
        "global a[10], b%, c = -5\nprivate global d = \"s\"\n"
        "probe k.{f(\"a\"), g(\"b\")}.return!, timer.ms(1) if (a) { }\n"
        "probe al.x = begin(-1) { }, { }\nprobe al.y += end { }\n"
        "function f:long (a:string, b) %{ /* pure */ /* unprivileged */ STAP_RETURN(1); %}\n"
    )
    stapfile = parse_text(text, "t.stp", conditions=COND, guru=True)
    assert stapfile.functions[0].pragmas == ["pure", "unprivileged"]
    assert stapfile.functions[0].return_type is ast.Type.LONG
    assert stapfile.functions[0].params[0].declared_type is ast.Type.STRING
    assert stapfile.globals[3].private and stapfile.aliases[0].epilogue_body is not None
    assert print_file(stapfile).split("\n") == [
        "# file t.stp",
        "global a[10]",
        "global b%",
        "global c = -5",
        'global d = "s"',
        "probe al.x = begin(-1){",
        "}",
        "probe al.y += end{",
        "}",
        'probe k.f("a").return!,k.g("b").return!,timer.ms(1) if (a){',
        "}",
        "function f (a, b)",
        "%{ /* pure */ /* unprivileged */ STAP_RETURN(1); %}",
        "",
        "",
    ]


def test_every_node_has_a_span():
    stapfile = parse_text("probe begin { x = @count(s) + $a->b; foreach (k in m) delete m[k] }", "s.stp")
    missing = [type(n).__name__ for n in ast.walk(stapfile) if n is not stapfile and n.span is None]
    assert missing == []
    call = stapfile.probes[0].body.statements[0].expr.value.right
    assert (call.span.line, call.span.col) == (1, 31)


def test_cache_hits_in_memory_and_on_disk(tmp_path):
    path = tmp_path / "lib.stp"
    path.write_text("function f() { return 1 }\n")
    cold = ParseCache(tmp_path / "cache")
    first = cold.parse(path, COND, {})
    warm = ParseCache(tmp_path / "cache")
    second = warm.parse(path, COND, {})
    assert (cold.misses, warm.hits) == (1, 1)
    assert print_file(first) == print_file(second)
    path.write_text("function g() { return 2 }\n")
    assert warm.parse(path, COND, {}).functions[0].name == "g"
    assert warm.misses == 1


def run_pystap(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_pystap_p1_prints_the_parse_tree():
    code, out, err = run_pystap("-p1", "-e", "probe begin { printf(\"%s\\n\", @1) exit() }", "hi")
    assert (code, err) == (0, "")
    assert out == '# parse tree dump\n# file <input>\nprobe begin{\nprintf("%s\\\\n", "hi");\nexit();\n}\n\n'


def test_pystap_verbose_line_has_stap_shape():
    code, _out, err = run_pystap("-v", "-p1", "-e", "probe begin {}")
    assert code == 0
    assert re.fullmatch(
        r"Pass 1: parsed user script and \d+ library scripts using \d+virt/\d+res/\d+shr/\d+data kb, "
        r"in \d+usr/\d+sys/\d+real ms\.\n",
        err,
    )


def test_pystap_reports_parse_failure_and_exit_code():
    code, out, err = run_pystap("-p1", "-e", "probe begin { x = }")
    assert (code, out) == (1, "")
    assert err.endswith("1 parse error.\nPass 1: parse failed.  [man error::pass1]\n")


def test_machine_conditions_read_this_kernel():
    conditions = machine_conditions()
    assert conditions.kernel_v == conditions.kernel_vr.split("-")[0]
    assert conditions.runtime == "kernel"


def test_pystap_missing_script_file():
    code, out, err = run_pystap("-p1", "/nonexistent/script.stp")
    assert (code, out) == (1, "")
    assert err == "Input file '/nonexistent/script.stp' is missing.\nPass 1: parse failed.  [man error::pass1]\n"


def test_verbose_dump_lists_library_files_like_stap(tmp_path):
    (tmp_path / "extra.stp").write_text("function extra() { return 1 }\n")
    (tmp_path / "extra.stpm").write_text("@define EXTRA %( 42 %)\n")
    code, out, err = run_pystap("-v", "-p1", "-I", str(tmp_path), "-e", "probe begin { x = @EXTRA + extra() }")
    assert code == 0
    assert "(x) = ((42) + (extra()));" in out
    assert f"# file {tmp_path}/extra.stpm\n\n" in out
    assert f"# file {tmp_path}/extra.stp\nfunction extra ()\n{{\nreturn 1;\n}}\n\n" in out


def test_at_var_splits_compilation_unit():
    stapfile = parse_text('probe begin { x = @var("counter@main.c") }', "<input>", conditions=COND)
    node = stapfile.probes[0].body.statements[0].expr.value
    assert (node.target_name, node.cu_name, node.module) == ("counter", "main.c", None)


def test_parser_works_from_freshly_built_tables(monkeypatch, tmp_path):
    """Without cached tables lark builds them (its fresh tables hold Tokens as names); they are then cached."""
    from engine.parse import parser

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    parser._tables.cache_clear()
    monkeypatch.setattr(parser, "_tables", parser._tables.__wrapped__)  # no memo: built, then read back
    assert body("probe begin { x = a ? b : -c[1]; foreach (k in m-) print(k) }") == [
        "(x) = ((a)?(b):(-(c[1])));",
        "foreach ([k] in m-) print(k);",
    ]
    assert [p.suffix for p in (tmp_path / "stapui").iterdir()] == [".tables"]
    assert body("probe begin { x = 1 }") == ["(x) = (1);"]  # from the cache file


def test_tables_installed_with_the_package_are_used_before_any_cache(monkeypatch, tmp_path):
    """setup.py builds the tables beside the installed grammar: a first parse then builds none."""
    import shutil

    from engine.parse import parser

    package = tmp_path / "package"
    package.mkdir()
    shutil.copy(Path(parser.__file__).with_name("grammar.lark"), package)
    assert parser.install_tables(package).startswith("parser tables prebuilt into ")
    installed = package / parser.tables_name((package / "grammar.lark").read_text())
    assert installed.exists()
    monkeypatch.setattr(parser, "__file__", str(package / "parser.py"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(parser, "table_data", None)  # building them again would fail
    monkeypatch.setattr(parser, "_tables", parser._tables.__wrapped__)
    assert body("probe begin { x = 1 }") == ["(x) = (1);"]
    assert not (tmp_path / "cache").exists()
