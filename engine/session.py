"""The Session: runs the five passes in a row and tells observers what happens.

This is the only engine API the workbench and the CLI use. Each pass package exposes
one entry point with the same shape, `run(session, previous_artifact) -> PassResult`:

    engine.parse.run      (session, None)            -> ParseArtifact
    engine.elaborate.run  (session, ParseArtifact)   -> ElaborateArtifact
    engine.translate.run  (session, ElaborateArtifact) -> TranslateArtifact
    engine.build.run      (session, TranslateArtifact) -> BuildArtifact
    engine.run.run        (session, BuildArtifact)   -> RunArtifact

Every artifact has `dump() -> str`, the text `pystap -pN` prints for it. Observers
receive `PassEvent`s (started, finished with timing and diagnostics) and can run the
passes one at a time (`step`) for teaching, or all at once (`run_all`).
"""

from __future__ import annotations

import importlib
import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from engine.diagnostics import Diagnostic, DiagnosticError, Severity
from engine.options import Options

TYPE_CHECKING = False  # typing costs every start-up ~2 ms; only a type checker needs Any
if TYPE_CHECKING:
    from typing import Any

PASS_NAMES = ("parse", "elaborate", "translate", "build", "run")
PASS_MODULES = ("engine.parse", "engine.elaborate", "engine.translate", "engine.build", "engine.run")


class PassState(Enum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass
class PassTiming:
    user_ms: int
    sys_ms: int
    real_ms: int

    def __str__(self) -> str:
        return f"{self.user_ms}usr/{self.sys_ms}sys/{self.real_ms}real ms"


@dataclass
class PassResult:
    """What one pass produced: its artifact (None on failure) and its diagnostics."""

    artifact: Any
    diagnostics: list[Diagnostic] = field(default_factory=list)
    suppressed_errors: int = 0  # similar ones left out of `diagnostics`, as stap does without -v
    suppressed_warnings: int = 0

    @property
    def ok(self) -> bool:
        return self.artifact is not None and not any(d.is_error for d in self.diagnostics)


@dataclass
class PassEvent:
    """Sent to observers when a pass starts and when it finishes."""

    number: int  # 1..5
    name: str
    state: PassState
    result: PassResult | None = None
    timing: PassTiming | None = None


class Session:
    """One script, its options, and the artifacts of the passes run so far."""

    def __init__(self, options: Options):
        self.options = options
        self.results: list[PassResult] = []
        self.timings: list[PassTiming] = []
        self.observers: list[Callable[[PassEvent], None]] = []
        self.states = [PassState.PENDING] * len(PASS_NAMES)

    # -- running passes ---------------------------------------------------------

    @property
    def next_pass(self) -> int:
        """1-based number of the pass `step` would run next."""
        return len(self.results) + 1

    @property
    def failed(self) -> bool:
        return bool(self.results) and not self.results[-1].ok

    def artifact(self, number: int) -> Any:
        """The artifact of pass `number` (1-based), or None if not run or failed."""
        if number <= len(self.results):
            return self.results[number - 1].artifact
        return None

    def step(self) -> PassResult:
        """Run just the next pass. A failed session does not step further."""
        if self.failed:
            return self.results[-1]
        number = self.next_pass
        if number > len(PASS_NAMES):
            raise RuntimeError("all passes have run")
        name = PASS_NAMES[number - 1]
        self.states[number - 1] = PassState.RUNNING
        self._emit(PassEvent(number, name, PassState.RUNNING))
        previous = self.results[-1].artifact if self.results else None
        clock = _Clock()
        result = self._run_pass(number, previous)
        timing = clock.stop()
        self.results.append(result)
        self.timings.append(timing)
        state = PassState.DONE if result.ok else PassState.FAILED
        self.states[number - 1] = state
        self._emit(PassEvent(number, name, state, result, timing))
        return result

    def run_all(self, last_pass: int | None = None) -> PassResult | None:
        """Run passes until `last_pass` (default: the -p option) or the first failure."""
        last = last_pass or self.options.last_pass
        result = self.results[-1] if self.results else None
        while self.next_pass <= last and not self.failed:
            result = self.step()
        return result

    def diagnostics(self) -> list[Diagnostic]:
        return [d for r in self.results for d in r.diagnostics]

    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics() if d.severity is Severity.WARNING]

    # -- internals --------------------------------------------------------------

    def _run_pass(self, number: int, previous: Any) -> PassResult:
        module = importlib.import_module(PASS_MODULES[number - 1])
        try:
            return module.run(self, previous)
        except DiagnosticError as error:
            return PassResult(None, error.diagnostics)

    def _emit(self, event: PassEvent) -> None:
        for observer in list(self.observers):
            observer(event)


class _Clock:
    """Measures user, system and real time the way stap's -v pass lines report them."""

    def __init__(self) -> None:
        self.start_real = time.perf_counter()
        self.start_usage = resource.getrusage(resource.RUSAGE_SELF)
        self.start_children = resource.getrusage(resource.RUSAGE_CHILDREN)

    def stop(self) -> PassTiming:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        user = (usage.ru_utime - self.start_usage.ru_utime) + (children.ru_utime - self.start_children.ru_utime)
        system = (usage.ru_stime - self.start_usage.ru_stime) + (children.ru_stime - self.start_children.ru_stime)
        real = time.perf_counter() - self.start_real
        return PassTiming(int(user * 1000), int(system * 1000), int(real * 1000))


def is_root() -> bool:
    return os.geteuid() == 0
