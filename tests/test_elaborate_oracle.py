"""Differential test of pass 2 against stap 4.8 on the begin/end/timer/procfs corpus.

For every script in tests/elaborate_cases (accepted and rejected ones), `pystap -p2`
and `stap -p2` must both accept or both reject it; when both accept, they must agree
on the script's own globals, functions and probes (see own_parts: tapset internals
differ by design).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from engine.cli import main
from tests.support import stap_oracle
from tests.test_elaborate_cases import ACCEPT, ERRORS, own_parts

SCRIPTS = ERRORS + ACCEPT
# stap's answers depend only on the script text (the installed stap is fixed): cache them across runs
ORACLE_CACHE = Path(tempfile.gettempdir()) / "stapui-oracle-p2"


@pytest.fixture(scope="module")
def oracle() -> dict[Path, tuple[int, str]]:
    """stap's exit status and -p2 output for every corpus script, four at a time."""
    def run(script: Path) -> tuple[int, str]:
        cached = ORACLE_CACHE / hashlib.sha256(script.read_bytes()).hexdigest()
        if cached.exists():
            code, _, out = cached.read_text().partition("\n")
            return int(code), out
        proc = stap_oracle("-p2", str(script))
        ORACLE_CACHE.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.{threading.get_ident()}")
        partial.write_text(f"{proc.returncode}\n{proc.stdout}")
        partial.replace(cached)  # atomic: parallel test runs never read half a file
        return proc.returncode, proc.stdout

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(SCRIPTS, pool.map(run, SCRIPTS)))


def ours(script: Path) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["-p2", str(script)])
    return code, out.getvalue()


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_agrees_with_stap(script: Path, oracle):
    stap_code, stap_out = oracle[script]
    our_code, our_out = ours(script)
    assert (our_code == 0) == (stap_code == 0)
    if our_code == 0:
        source = script.read_text()
        assert own_parts(our_out, source) == own_parts(stap_out, source)
