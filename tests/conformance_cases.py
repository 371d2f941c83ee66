"""The conformance suite's case files (tests/conformance/*.cases), and their runner.

A case file holds many cases, each a script with its hand-written expected results:

    === name [pystap options...] [-- script arguments...]
    script lines (passed with -e, so locations read <input>:LINE:COL)
    --- stdout
    expected output
    --- stderr
    expected diagnostics (omitted: must be empty)
    --- status N          (omitted: 0 when stderr is empty, else 1)

Lines of expected output are exact; a trailing "$" marks the end of a line whose
trailing spaces matter (it is removed before comparing).

The cases of kernel.cases probe the kernel (they need root and tracefs) and drive a
workload with -c. Two placeholders, replaced in a case's options, script and expected
output by `bind` just before it runs, keep their counts exact:

    @WORKLOAD@  the path of tests/programs/workload.c, built (its steps are listed there)
    @COMM@      a process name unique to this run of the case: the case gives it to the
                workload as its name and filters on execname() == "@COMM@", so it counts
                this run's workload only, whatever else runs meanwhile (other cases too)

A -c command's own output is not compared (the worker sends it to its stderr).

`run_cases` runs bound cases in WORKERS processes (tests/conformance_worker.py) at once.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import secrets
import shlex
import subprocess
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from tests.programs import build
from tests.support import REPO

CASES_DIR = Path(__file__).parent / "conformance"
KERNEL_CASES = "kernel.cases"
PLACEHOLDERS = ("@WORKLOAD@", "@COMM@")
WORKERS = 4
CASE_SECONDS = 60


@dataclass
class Case:
    name: str
    options: list[str]
    script: str
    stdout: str = ""
    stderr: str = ""
    status: int | None = None
    source: str = ""
    bound: dict[str, str] = field(default_factory=dict)  # placeholder -> its value in this run

    @property
    def argv(self) -> list[str]:
        """pystap's arguments: options, -e script, then the script's own arguments."""
        if "--" in self.options:
            cut = self.options.index("--")
            return [*self.options[:cut], "-e", self.script, *self.options[cut + 1 :]]
        return [*self.options, "-e", self.script]

    @property
    def expected_status(self) -> int:
        if self.status is not None:
            return self.status
        return 1 if "ERROR:" in self.stderr else 0

    @property
    def needs_kernel(self) -> bool:
        return self.source == KERNEL_CASES

    def bind(self) -> Case:
        """This case with its placeholders replaced (a fresh @COMM@ on every call)."""
        if not any(p in text for p in PLACEHOLDERS for text in (self.script, *self.options)):
            return self
        values = {"@WORKLOAD@": str(build("workload")), "@COMM@": "w" + secrets.token_hex(6)}

        def fill(text: str) -> str:
            for placeholder, value in values.items():
                text = text.replace(placeholder, value)
            return text

        return replace(self, options=[fill(o) for o in self.options], script=fill(self.script),
                       stdout=fill(self.stdout), stderr=fill(self.stderr), bound=values)

    def unbind(self, text: str) -> str:
        """`text` (from a run of this bound case) with its placeholders put back."""
        for placeholder, value in self.bound.items():
            text = text.replace(value, placeholder)
        return text


@dataclass
class _Reader:
    current: Case | None = None
    section: str = "script"
    lines: dict[str, list[str]] = field(default_factory=dict)


def _text(lines: list[str]) -> str:
    while lines and lines[-1] == "":
        lines = lines[:-1]  # blank lines separating cases are not expected output
    return "".join(line[:-1] + "\n" if line.endswith("$") else line + "\n" for line in lines)


def _finish(reader: _Reader, out: list[Case]) -> None:
    case = reader.current
    if case is None:
        return
    case.script = "\n".join(reader.lines.get("script", [])).strip("\n")
    case.stdout = _text(reader.lines.get("stdout", []))
    case.stderr = _text(reader.lines.get("stderr", []))
    out.append(case)


def load_file(path: Path) -> list[Case]:
    cases: list[Case] = []
    reader = _Reader()
    for raw in path.read_text().split("\n"):
        if raw.startswith("=== "):
            _finish(reader, cases)
            words = shlex.split(raw[4:])
            reader = _Reader(Case(f"{path.stem}/{words[0]}", words[1:], "", source=path.name), "script", {})
        elif raw.startswith("--- ") and reader.current is not None:
            words = raw[4:].split()
            if words[0] == "status":
                reader.current.status = int(words[1])
            else:
                reader.section = words[0]
        elif reader.current is not None:
            reader.lines.setdefault(reader.section, []).append(raw)
    _finish(reader, cases)
    return cases


def load_all() -> list[Case]:
    return [case for path in sorted(CASES_DIR.glob("*.cases")) for case in load_file(path)]


def run_batch(batch: list[Case]) -> list[subprocess.CompletedProcess]:
    """Run the bound cases of `batch` one after another in one worker process
    (tests/conformance_worker.py)."""
    if not batch:
        return []
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


def run_cases(cases: list[Case]) -> list[subprocess.CompletedProcess]:
    """Run bound cases, WORKERS worker processes at a time (the runtime library is
    built once up front); the results in the cases' order."""
    from engine.build.compiler import find_compiler
    from engine.build.runtime_lib import runtime_library

    runtime_library(find_compiler())
    batches = [cases[i::WORKERS] for i in range(WORKERS)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=WORKERS) as pool:
        done = list(pool.map(run_batch, batches))
    return [done[i % WORKERS][i // WORKERS] for i in range(len(cases))]
