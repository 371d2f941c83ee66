"""pystap -l/-L, --dump-functions, --dump-probe-types, and the probe catalogue API."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli import main
from engine.elaborate.listing import families, list_probes
from engine.session import Options, Session


def pystap(capsys, *argv: str) -> tuple[int, list[str]]:
    code = main(list(argv))
    return code, capsys.readouterr().out.splitlines()


@pytest.fixture(scope="module")
def tapset_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("tapsets")
    (directory / "myfam.stp").write_text(
        'probe myfam.one = timer.s(1) { who = "one" }\n'
        "probe myfam.two = procfs(\"two\").write { size = strlen($value) }\n"
        "function mine:long (a:long, b:string) { return a + strlen(b) }\n"
        "private function hidden() { return 1 }\n"
    )
    return directory


def test_list_wildcards_like_stap(capsys):
    assert pystap(capsys, "-l", "procfs.*") == (0, ["procfs.read", "procfs.write"])
    assert pystap(capsys, "-l", "begin*") == (0, ["begin"])
    assert pystap(capsys, "-l", "e*") == (0, ["end", "error"])
    assert pystap(capsys, "-l", 'procfs("x").*') == (0, ['procfs("x").read', 'procfs("x").write'])


def test_list_nothing_matches(capsys):
    assert pystap(capsys, "-l", "zzqqxxyyww") == (1, [])


def test_long_listing_shows_context_variables(capsys):
    assert pystap(capsys, "-L", 'procfs("x").read') == (0, ['procfs("x").read $value:string'])
    assert pystap(capsys, "-L", "timer.ms(5)") == (0, ["timer.ms(5)"])


def test_aliases_listed_by_name_with_their_variables(capsys, tapset_dir):
    code, lines = pystap(capsys, "-I", str(tapset_dir), "-L", "myfam.*")
    assert (code, lines) == (0, ["myfam.one who:string", "myfam.two size:long $value:string"])
    assert pystap(capsys, "-I", str(tapset_dir), "-l", "myfam.*") == (0, ["myfam.one", "myfam.two"])


def test_dump_functions_infers_signatures(capsys, tapset_dir):
    code, lines = pystap(capsys, "-I", str(tapset_dir), "--dump-functions")
    assert code == 0
    assert "mine:long (a:long, b:string)" in lines
    assert not any(line.startswith("hidden:") for line in lines)
    assert lines == sorted(lines)


def test_dump_probe_types(capsys):
    code, lines = pystap(capsys, "--dump-probe-types")
    assert code == 0
    for shape in ("begin(number)", "never", "timer.ms(number).randomize(number)", "timer.hz(number)",
                  "procfs(string).read.maxsize(number)", "procfs.write"):
        assert shape in lines


def test_catalogue_api():
    by_name = {f.name: f for f in families()}
    assert by_name["timer"].unavailable is None
    assert "timer.jiffies(number)" in by_name["timer"].patterns
    assert [p.point for p in list_probes("timer.s(1)")] == ["timer.s(1)"]
    assert [p.format(True) for p in list_probes('procfs("a").write', variables=True)] == [
        'procfs("a").write $value:string'
    ]


def test_verbose_summary_counts():
    session = Session(Options(script_text="global g; function f() { return 1 } probe begin { g = f(); println(g) }",
                              last_pass=2))
    session.run_all()
    summary = session.artifact(2).verbose_summary()
    assert summary.startswith("analyzed script: 1 probe, 1 function, ")
    assert " 1 global using " in summary and summary.endswith("data kb,")
