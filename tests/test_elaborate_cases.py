"""The pass-2 script corpus: exact semantic errors and warnings, exact -p2 listings.

tests/elaborate_cases/errors/NAME.stp   -> NAME.expected: stderr of `pystap -p2` + `exit: N`
tests/elaborate_cases/accept/NAME.stp   -> NAME.expected: the script's own parts of `pystap -p2`
                                           (exit 0; tapset embeds and functions left out, see own_parts)
The expected texts were checked against stap 4.8 (test_elaborate_oracle.py keeps them honest:
both must accept or reject each script, and agree on the script's own parts).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.cli import main

CASES = Path(__file__).parent / "elaborate_cases"
ERRORS = sorted((CASES / "errors").glob("*.stp"))
ACCEPT = sorted((CASES / "accept").glob("*.stp"))


def pystap_p2(script: Path, monkeypatch, capsys) -> tuple[int, str, str]:
    monkeypatch.chdir(script.parent)
    code = main(["-p2", script.name])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_corpus_sizes():
    rejected = [p for p in ERRORS if p.with_suffix(".expected").read_text().endswith("exit: 1\n")]
    assert len(rejected) >= 60
    assert len(ACCEPT) >= 60


@pytest.mark.parametrize("script", ERRORS, ids=lambda p: p.stem)
def test_semantic_errors(script: Path, monkeypatch, capsys):
    code, _, err = pystap_p2(script, monkeypatch, capsys)
    assert err + f"exit: {code}\n" == script.with_suffix(".expected").read_text()


@pytest.mark.parametrize("script", ACCEPT, ids=lambda p: p.stem)
def test_accepted_scripts(script: Path, monkeypatch, capsys):
    code, out, err = pystap_p2(script, monkeypatch, capsys)
    assert "error" not in err
    assert code == 0
    assert own_parts(out, script.read_text()) == script.with_suffix(".expected").read_text()


def own_parts(listing: str, source: str) -> str:
    """The -p2 lines about the script itself: its globals, functions, probes and locals.

    Tapset internals (embedded code, library functions and globals, `__`-named locals)
    differ between stap's library and ours by design.
    """
    functions = set(re.findall(r"function\s+(\w+)", source))
    globals_ = set(re.findall(r"(?:global|,)\s*(\w+)", source))
    kept: list[str] = []
    section, owner_kept = "", True
    for line in listing.splitlines():
        if line.startswith("# "):
            section, owner_kept = line, True
            kept.append(line)
            continue
        if not line.startswith("  "):
            owner_kept = _own_line(section, line, functions, globals_)
        if owner_kept and not line.strip().startswith("__"):
            kept.append(line)
    text = "\n".join(_without_empty_headers(kept))
    return text + "\n" if text else ""


def _own_line(section: str, line: str, functions: set[str], globals_: set[str]) -> bool:
    if section == "# global embedded code":
        return False
    if section == "# functions":
        return line.split(":")[0] in functions
    if section == "# globals":
        return re.split(r"[%\[:]", line)[0] in globals_
    return True


def _without_empty_headers(lines: list[str]) -> list[str]:
    """Drop `# section` and `  # locals` headers whose contents were all left out."""
    out: list[str] = []
    for i, line in enumerate(lines):
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if line.startswith("# ") and (not following or following.startswith("# ")):
            continue
        if line == "  # locals" and not following.startswith("  ") or line == "  # locals" and following == "  # locals":
            continue
        out.append(line)
    return out
