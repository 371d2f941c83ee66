"""The conformance suite: scripts run end to end through pystap (all five passes),
stdout, stderr and exit status compared with hand-written expectations
(tests/conformance/*.cases, format in tests/conformance_cases.py).

The runtime library is built once up front; the cases then run four at a time.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import subprocess
import sys

import pytest

from tests.conformance_cases import Case, load_all
from tests.support import REPO

CASES = load_all()
WORKERS = 4
CASE_SECONDS = 60


def run_batch(batch: list[Case]) -> list[subprocess.CompletedProcess]:
    """Run `batch` in one worker process (tests/conformance_worker.py)."""
    # -T first: a case that never exits is stopped (and fails) instead of hanging the
    # worker; a case's own -T comes later and wins.
    requests = "".join(json.dumps({"argv": ["-T", str(CASE_SECONDS), *c.argv]}) + "\n" for c in batch)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    worker = subprocess.run(
        [sys.executable, str(REPO / "tests" / "conformance_worker.py")],
        input=requests, capture_output=True, text=True, timeout=(CASE_SECONDS + 60) * len(batch), env=env, cwd=REPO,
    )
    replies = [json.loads(line) for line in worker.stdout.splitlines()]
    if len(replies) != len(batch):
        raise RuntimeError(f"conformance worker failed: {worker.stderr[-2000:]}")
    return [subprocess.CompletedProcess([], r["status"], r["stdout"], r["stderr"]) for r in replies]


@pytest.fixture(scope="module")
def results() -> dict[str, subprocess.CompletedProcess]:
    from engine.build.compiler import find_compiler
    from engine.build.runtime_lib import runtime_library

    runtime_library(find_compiler())  # once, before the parallel workers
    batches = [CASES[i::WORKERS] for i in range(WORKERS)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=WORKERS) as pool:
        done = list(pool.map(run_batch, batches))
    return {case.name: proc for batch, procs in zip(batches, done) for case, proc in zip(batch, procs)}


def test_suite_size() -> None:
    assert len(CASES) >= 150
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Case, results) -> None:
    proc = results[case.name]
    assert (proc.stdout, proc.stderr, proc.returncode) == (case.stdout, case.stderr, case.expected_status)
