"""Tapset linking on demand: a library file joins the program only when used, transitively."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.session import Options, Session


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("linking")
    (directory / "alpha.stp").write_text(
        "global alpha_calls\n"
        "private global alpha_secret = 7\n"
        "function alpha:long (x:long) { alpha_calls++; return beta(x) + alpha_secret }\n"
        "private function alpha_hidden() { return 1 }\n"
        "probe begin { alpha_calls = 0 }\n"
    )
    (directory / "beta.stp").write_text(
        "function beta:long (x:long) { return x * 2 }\n"
        "probe end { println(\"beta linked\") }\n"
    )
    (directory / "gamma.stp").write_text(
        "global gamma_total\n"
        "probe gamma.tick = timer.ms(10) { gamma_total++ }\n"
        "probe begin { println(\"gamma linked\") }\n"
    )
    return directory


def elaborate(library: Path, script: str):
    session = Session(Options(script_text=script, include_dirs=[str(library)], last_pass=2, unoptimized=True))
    session.run_all()
    return session


def probe_files(session) -> list[str]:
    artifact = session.artifact(2)
    return sorted({Path(p.span.file.name).name for p in artifact.probes if p.span is not None})


def test_unused_files_are_not_linked(library):
    session = elaborate(library, "probe timer.s(1) { println(1) }")
    assert not session.failed
    assert probe_files(session) == ["<input>"]
    assert [f.name for f in session.artifact(2).functions] == []


def test_function_use_links_its_file_and_what_it_calls(library):
    session = elaborate(library, "probe timer.s(1) { println(alpha(2)) }")
    artifact = session.artifact(2)
    assert sorted(f.name for f in artifact.functions) == ["alpha", "beta"]
    assert probe_files(session) == ["<input>", "alpha.stp", "beta.stp"]
    assert {g.name for g in artifact.globals} >= {"alpha_calls", "alpha_secret"}
    alpha = next(f for f in artifact.functions if f.name == "alpha")
    assert (alpha.type.value, [p.type.value for p in alpha.params]) == ("long", ["long"])


def test_alias_use_links_its_file(library):
    session = elaborate(library, "probe gamma.tick { if (gamma_total > 3) exit() }")
    assert not session.failed
    assert probe_files(session) == ["<input>", "gamma.stp"]
    handler = session.artifact(2).probes[0]
    assert [d.point for d in handler.derived] == ["timer.ms(10)"]
    assert [d.alias_chain for d in handler.derived] == [["gamma.tick"]]


def test_global_use_links_its_file(library):
    session = elaborate(library, "probe timer.s(1) { println(gamma_total) }")
    assert probe_files(session) == ["<input>", "gamma.stp"]


def test_private_names_stay_in_their_file(library):
    session = elaborate(library, "probe begin { println(alpha_hidden()) }")
    assert session.failed
    assert session.diagnostics()[0].message.startswith("unresolved function alpha_hidden")
    session = elaborate(library, "probe begin { println(alpha(1), alpha_secret) }")
    messages = [d.message for d in session.diagnostics()]
    assert "never-assigned local variable 'alpha_secret'" in messages  # not the tapset's private global
    assert session.failed
