"""What a running script has sent so far, gathered from channel records.

The launcher's reader thread calls `add(record)` for every decoded record, at whatever
rate the script produces them; the run view reads the model on a timer (`changes()`)
and redraws only what changed. So a run producing 100 000 events/s costs the UI thread
one redraw per tick, not one per record, and output is bounded in memory (the newest
`max_lines` lines; the `-o` file, when given, receives everything). A snapshot also
wakes the UI at once (`on_snapshot`), so live tables do not wait for the next tick.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import IO, Callable

from engine.run.records import Exit, Lost, Output, ProbeStat, RunError, RunWarning, Snapshot

SPARK_POINTS = 30


@dataclass
class ProbeActivity:
    """Hits of one probe, and its recent hit rates for a sparkline."""

    point: str
    hits: int = 0
    avg_ns: int = 0
    rate: float = 0.0
    rates: deque = field(default_factory=lambda: deque(maxlen=SPARK_POINTS))
    _last: tuple[int, int] | None = None  # (hits, time_ns) at the previous snapshot

    def update(self, stat: ProbeStat, time_ns: int) -> None:
        if self._last is not None and time_ns > self._last[1]:
            self.rate = (stat.hits - self._last[0]) * 1e9 / (time_ns - self._last[1])
            self.rates.append(self.rate)
        self._last = (stat.hits, time_ns)
        self.hits, self.avg_ns = stat.hits, stat.avg_ns


class RunModel:
    """Thread-safe accumulation of one run's records; `version` counts changes."""

    def __init__(self, max_lines: int = 10_000, output_file: IO[bytes] | None = None,
                 on_snapshot: Callable[[], None] | None = None) -> None:  # fmt: skip
        self._lock = threading.Lock()
        self.on_snapshot = on_snapshot  # called (reader thread) after each snapshot: wake the UI
        self.max_lines = max_lines
        self.lines: deque[str] = deque(maxlen=max_lines)
        self.line_count = 0  # lines ever completed (the deque keeps the newest)
        self._partial = ""
        self.output_file = output_file
        self.snapshot: Snapshot | None = None
        self.snapshots = 0
        self.probes: dict[str, ProbeActivity] = {}
        self.probe_updates = 0
        self.warnings: list[str] = []
        self.errors: list[str] = []
        self.lost: dict[int, int] = {}
        self.exit_status: int | None = None
        self.started = time.monotonic()
        self.ended: float | None = None
        self.version = 0

    def add(self, record) -> None:
        """Called from the reader thread for each decoded record."""
        with self._lock:
            self._HANDLERS[type(record)](self, record)
            self.version += 1
        if self.on_snapshot is not None and type(record) is Snapshot:
            self.on_snapshot()

    def _output(self, record: Output) -> None:
        if self.output_file is not None:
            self.output_file.write(record.data)
        pieces = (self._partial + record.data.decode("utf-8", "replace")).split("\n")
        self._partial = pieces.pop()
        self._add_lines(pieces)

    def _add_lines(self, lines: list[str]) -> None:
        self.lines.extend(lines)
        self.line_count += len(lines)

    def _warning(self, record: RunWarning) -> None:
        """Messages go between the output lines, as stderr does on a terminal (not to -o)."""
        self.warnings.append(record.text)
        self._add_lines([record.line().rstrip("\n")])

    def _error(self, record: RunError) -> None:
        self.errors.append(record.text)
        self._add_lines([record.line().rstrip("\n")])

    def _exit(self, record: Exit) -> None:
        self.exit_status = record.status

    def _snapshot(self, record: Snapshot) -> None:
        self.snapshot = record
        self.snapshots += 1
        for stat in record.probes:
            self._probe_stat(stat, record.time_ns)

    def _probe_stat(self, stat: ProbeStat, time_ns: int | None = None) -> None:
        self.probe_updates += 1
        activity = self.probes.setdefault(stat.point, ProbeActivity(stat.point))
        activity.update(stat, time.monotonic_ns() if time_ns is None else time_ns)

    def _lost(self, record: Lost) -> None:
        self.lost[record.source] = self.lost.get(record.source, 0) + record.count
        self._add_lines([record.line().rstrip("\n")])

    _HANDLERS = {
        Output: _output,
        RunWarning: _warning,
        RunError: _error,
        Exit: _exit,
        Snapshot: _snapshot,
        ProbeStat: _probe_stat,
        Lost: _lost,
    }

    # -- reading, from the UI thread -------------------------------------------------

    def finish(self) -> None:
        """The run ended: a last line without a newline still counts as a line."""
        with self._lock:
            self.ended = time.monotonic()
            if self._partial:
                self._add_lines([self._partial])
                self._partial = ""
                self.version += 1

    def lines_since(self, count: int) -> tuple[list[str], int]:
        """Lines completed after the first `count` (as many as are still kept), and the new count."""
        with self._lock:
            new = self.line_count - count
            kept = list(self.lines)[-new:] if 0 < new else []
            return kept, self.line_count

    def all_lines(self) -> list[str]:
        with self._lock:
            return list(self.lines)

    @property
    def lost_total(self) -> int:
        return sum(self.lost.values())

    @property
    def elapsed(self) -> float:
        return (self.ended or time.monotonic()) - self.started
