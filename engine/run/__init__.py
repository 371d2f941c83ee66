"""Pass 5: run the built script and stream what it produces.

`run(session, BuildArtifact) -> PassResult(RunArtifact)` is pystap's pass 5: script
output to stdout (or -o FILE) as it arrives, warnings and errors to stderr, -T, and
SIGINT/SIGTERM forwarded (the first ends the run cleanly, a second SIGINT kills it).
The workbench uses `launch()` (launcher.py) directly from a worker thread.
"""

from __future__ import annotations

import signal
import sys
import threading
from dataclasses import dataclass

from engine.diagnostics import Diagnostic
from engine.run.launcher import RunHandle, launch
from engine.run.records import Lost, Output, Record, RunError, RunWarning
from engine.session import PassResult

__all__ = ["RunArtifact", "RunHandle", "launch", "run"]


@dataclass
class RunArtifact:
    exit_status: int
    lost_records: int = 0

    def dump(self) -> str:
        return ""

    def verbose_summary(self) -> str:
        return "run completed"


class _Printer:
    """Writes records the way stap's staprun does: output to a stream, messages to stderr."""

    def __init__(self, out, err):
        self.out = out
        self.err = err

    def __call__(self, record: Record) -> None:
        if isinstance(record, Output):
            self.out.write(record.data)
            self.out.flush()
        elif isinstance(record, (RunWarning, RunError)):
            self.out.flush()
            self.err.write(record.line())
            self.err.flush()
        elif isinstance(record, Lost):
            self.err.write(f"WARNING: {record.count} records lost ({record.label or 'relay channel full'})\n")


def _forward_signals(handle: RunHandle):
    """Install handlers relaying SIGINT/SIGTERM to the run; returns a restore function."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def relay(signum, frame):
        handle.stop()

    for sig in previous:
        signal.signal(sig, relay)

    def restore():
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


def run(session, built) -> PassResult:
    options = session.options
    if options.verbose:
        sys.stderr.write("Pass 5: starting run.\n")
    out = open(options.output_file, "wb") if options.output_file else sys.stdout.buffer
    try:
        try:
            handle = launch(session, built, _Printer(out, sys.stderr))
        except RuntimeError as error:
            return PassResult(None, [Diagnostic("ERROR", str(error))])
        restore = _forward_signals(handle)
        try:
            while handle.wait(0.2) is None:
                pass
        finally:
            restore()
        failure = handle.failure()
        status = handle.exit_status or 0
        lost = handle.channel.lost.ring_full
        handle.close()
    finally:
        if out is not sys.stdout.buffer:
            out.close()
    if failure:
        sys.stderr.write(f"ERROR: {failure}\n")
    if lost:
        sys.stderr.write(f"WARNING: {lost} records lost in the relay channel\n")
    artifact = RunArtifact(status, lost)
    return PassResult(artifact if status == 0 else None)
