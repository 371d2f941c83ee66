"""Pass 5: run the built script and stream what it produces.

`run(session, BuildArtifact) -> PassResult(RunArtifact)` is pystap's pass 5: script
output to stdout (or -o FILE) as it arrives, warnings and errors to stderr, -T, and
SIGINT/SIGTERM forwarded (the first ends the run cleanly, a second SIGINT kills it).
The workbench uses `launch()` (launcher.py) directly from a worker thread.
"""

from __future__ import annotations

import _signal  # signal.py's enums (the enum module) are start-up time a cached rerun does without
import sys

from engine.run.launcher import RunHandle, launch, start
from engine.run.records import Lost, Output, Record, RunError, RunWarning, Slotted

TYPE_CHECKING = False  # engine.session (and its dataclasses) only for the pass entry point
if TYPE_CHECKING:
    from engine.session import PassResult

__all__ = ["RunArtifact", "RunHandle", "execute", "launch", "run"]


class RunArtifact(Slotted):
    """What pass 5 leaves: the script's exit status and the records the channel lost."""

    __slots__ = ("exit_status", "lost_records")

    def __init__(self, exit_status: int, lost_records: int = 0) -> None:
        self.exit_status = exit_status
        self.lost_records = lost_records

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
    previous = {sig: _signal.getsignal(sig) for sig in (_signal.SIGINT, _signal.SIGTERM)}

    def relay(signum, frame):
        handle.stop()

    try:
        for sig in previous:
            _signal.signal(sig, relay)
    except ValueError:  # not the main thread, where only the caller's own handling applies
        return lambda: None

    def restore():
        for sig, handler in previous.items():
            _signal.signal(sig, handler)

    return restore


def run(session, built) -> PassResult:
    """Pass 5's entry point (the Session's row of passes)."""
    from engine.diagnostics import Diagnostic
    from engine.session import PassResult

    status, lost, error = execute(session.options, built)
    if error is not None:
        return PassResult(None, [Diagnostic("ERROR", error)])
    return PassResult(RunArtifact(status, lost) if status == 0 else None)


def execute(options, built) -> tuple[int, int, str | None]:
    """Run `built` (anything with a `path`) to its end, writing what it sends as pystap does:
    (exit status, records lost in the channel, why it could not start or None). Needs no
    Session: a cached rerun (fastpath.py) calls it with the command line's options alone."""
    if options.verbose:
        sys.stderr.write("Pass 5: starting run.\n")
    out = open(options.output_file, "wb") if options.output_file else sys.stdout.buffer
    try:
        try:
            handle = start(options, built, _Printer(out, sys.stderr))
        except RuntimeError as error:
            return 1, 0, str(error)
        restore = _forward_signals(handle)
        try:
            handle.follow()
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
    return status, lost, None
