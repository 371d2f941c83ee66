"""Pass 2 over the example scripts shipped with SystemTap's documentation.

Each example is elaborated with the arguments and -I directory it needs. Every example
stap itself accepts must elaborate here too; the others must fail with the same kind
of reason (a missing probe family named in the message, no probes, bad arguments).
The counts are printed (run with -s to see them).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

from engine.cli import main
from tests.support import stap_oracle

ROOTS = [Path("/usr/share/systemtap/examples"), Path("/usr/share/doc/systemtap/examples")]
EXAMPLES = sorted(
    path for root in ROOTS if root.is_dir() for path in root.rglob("*.stp") if path.parent.name != "tapset"
)
ARGS = ["1", "2"]


def options_for(path: Path) -> list[str]:
    tapsets = path.parent / "tapset"
    return ["-p2", "-g"] + (["-I", str(tapsets)] if tapsets.is_dir() else []) + [str(path), *ARGS]


def elaborate(path: Path) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        code = main(options_for(path))
    return code, err.getvalue()


# Examples stap elaborates that we reject on purpose, each with the reason pystap gives.
KNOWN_EXCEPTIONS = {
    "sizeof_interactive.stp": "input.char/input.line read stap's stdin relay, which this runtime lacks",
    "switchfile.stp": "switch_file() rotates -S output files, which this runtime does not implement",
    "hw_watch_addr.stp": "kernel.data() hardware watchpoints: no perf breakpoint probe family yet",
    "hw_watch_sym.stp": "kernel.data() hardware watchpoints: no perf breakpoint probe family yet",
}


def family_named(stderr: str) -> bool:
    """A probe-point failure that says which family is missing and why."""
    return "while resolving probe point" in stderr and ("unavailable" in stderr or "not supported" in stderr)


@pytest.fixture(scope="module")
def outcomes() -> dict[Path, tuple[int, str, int]]:
    results = {}
    for path in EXAMPLES:
        code, stderr = elaborate(path)
        stap = stap_oracle(*options_for(path)).returncode
        results[path] = (code, stderr, stap)
    return results


def test_examples_exist():
    assert EXAMPLES, "SystemTap's example scripts are not installed (apt-get install systemtap-doc)"


def test_examples_elaborate_or_name_the_missing_family(outcomes):
    ok = [p for p, (code, _, _) in outcomes.items() if code == 0]
    family = [p for p, (code, err, _) in outcomes.items() if code != 0 and family_named(err)]
    other = [p for p in outcomes if p not in ok and p not in family]
    print(f"\nexamples: {len(outcomes)}, elaborate: {len(ok)}, missing probe family: {len(family)}, other: {len(other)}")
    for path in other:
        code, stderr, stap = outcomes[path]
        if path.name in KNOWN_EXCEPTIONS:
            print(f"  {path.name}: known exception: {KNOWN_EXCEPTIONS[path.name]}")
            continue
        assert stap != 0, f"{path.name} elaborates with stap but not here:\n{stderr}"
        print(f"  {path.name}: rejected by stap too: {stderr.splitlines()[0]}")
    assert all(outcomes[p][2] != 0 for p in family), "a family we lack was usable by stap here"


def test_everything_stap_accepts_elaborates(outcomes):
    accepted_by_stap = [p for p, (_, _, stap) in outcomes.items() if stap == 0]
    assert accepted_by_stap
    rejected = sorted(p.name for p in accepted_by_stap if outcomes[p][0] != 0)
    assert rejected == sorted(KNOWN_EXCEPTIONS)
