"""The conformance suite: scripts run end to end through pystap (all five passes),
stdout, stderr and exit status compared with hand-written expectations
(tests/conformance/*.cases, format in tests/conformance_cases.py).

The runtime library is built once up front; the cases then run four at a time.
The cases of kernel.cases need root and tracefs: without them they fail in CI
(tests/support.py's require) instead of comparing an error with their output.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.conformance_cases import Case, load_all, run_cases
from tests.support import require_root, require_tracefs

CASES = load_all()


@pytest.fixture(scope="module")
def results() -> dict[str, tuple[Case, subprocess.CompletedProcess]]:
    bound = [case.bind() for case in CASES]
    return {case.name: (case, proc) for case, proc in zip(bound, run_cases(bound))}


def test_suite_size() -> None:
    assert len(CASES) >= 150
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Case, results) -> None:
    if case.needs_kernel:
        require_root()
        require_tracefs()
    bound, proc = results[case.name]
    assert (proc.stdout, proc.stderr, proc.returncode) == (bound.stdout, bound.stderr, bound.expected_status)
