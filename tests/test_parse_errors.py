"""Scripts that must fail pass 1, with stap's exact messages, locations and counts.

Each tests/parse_errors/NAME.stp has NAME.expected: what `stap -p1 NAME.stp` writes
to stderr (recorded from the oracle; `test_expectations_match_stap` re-checks them
against the real stap). pystap must print the same, byte for byte, and exit 1.
"""

from __future__ import annotations

import contextlib
import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from engine.cli import main
from tests.support import stap_oracle

CASES = Path(__file__).parent / "parse_errors"
SCRIPTS = sorted(p.name for p in CASES.glob("*.stp"))


def test_corpus_is_large_enough():
    assert len(SCRIPTS) >= 40


def _pystap(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("script", SCRIPTS)
def test_parse_error_matches_stap(script, monkeypatch):
    monkeypatch.chdir(CASES)
    code, out, err = _pystap("-p1", script)
    assert code == 1
    assert out == ""
    assert err == (CASES / script).with_suffix(".expected").read_text()


def test_expectations_match_stap(monkeypatch):
    monkeypatch.chdir(CASES)

    def run(script: str) -> tuple[str, str]:
        return script, stap_oracle("-p1", script).stderr

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(pool.map(run, SCRIPTS))
    stale = [s for s in SCRIPTS if results[s] != (CASES / s).with_suffix(".expected").read_text()]
    assert stale == []
