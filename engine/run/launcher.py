"""Starting a built script and following it: the reusable run API.

`launch(session, build_artifact, on_record)` starts the executable with a relay
channel and a reader thread that hands every decoded record (engine/run/records.py)
to `on_record`, in order; pystap uses `start(options, ...)` and `follow()`, which read in
the calling thread (no Session, no thread: start-up time). The RunHandle stops the run (`stop()`: end probes run;
a second `stop()` kills), waits for it, and knows its exit status. The runtime
runs in its own session so a terminal's Ctrl-C reaches only us; we forward it once.
A crash, kill or hang of the runtime never blocks the reader: end-of-file on the
channel ends the thread, and the process status says what happened.
"""

from __future__ import annotations

import _signal  # signal.py's enums (the enum module) are start-up time a cached rerun does without

from engine.run.channel import Channel
from engine.run.process import Process

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from engine.run.records import Record

# Extra seconds granted after -T before the runtime is killed.
TIMEOUT_GRACE = 5.0


def runtime_argv(options, executable: str) -> list[str]:
    argv = [executable]
    if options.timeout is not None:
        argv += ["--timeout", str(int(options.timeout * 1000))]
    if options.timing:
        argv.append("--timing")
    if options.target_pid is not None:
        argv += ["--target", str(options.target_pid)]
    if options.command:
        argv += ["--command", options.command]
    if options.verbose:
        argv += ["--verbose", str(options.verbose)]
    if options.buffer_mb:
        argv += ["--buffer-mb", str(options.buffer_mb)]
    return argv


def _channel_for(options) -> Channel:
    if options.buffer_mb:
        n_subbufs = max(2, options.buffer_mb * 1024 * 1024 // (128 * 1024))
        return Channel.create(n_subbufs=n_subbufs, overwrite=options.flight_recorder)
    return Channel.create(overwrite=options.flight_recorder)


class RunHandle:
    """A running script: its process, its channel and the reader of its records, which is
    either a thread (`read_in_background()`, the workbench's way) or the caller (`follow()`)."""

    def __init__(self, proc: Process, channel: Channel, on_record: Callable[[Record], None], timeout: float | None):
        self.proc = proc
        self.channel = channel
        self.on_record = on_record
        self.stops = 0
        self.reader_error: BaseException | None = None
        self.output_closed = False  # the consumer's output went away: a quiet end
        self._thread = None
        self._watchdog = None
        if timeout is not None:
            import threading  # only for -T: a cached rerun's start-up does without its 3 ms

            self._watchdog = threading.Timer(timeout + TIMEOUT_GRACE, self.kill)
            self._watchdog.daemon = True
            self._watchdog.start()

    def read_in_background(self) -> None:
        """Deliver the records from a reader thread; wait() joins it."""
        import threading

        self._thread = threading.Thread(target=self._read, name="stapui-run-reader", daemon=True)
        self._thread.start()

    def follow(self) -> int | None:
        """Deliver the records from this thread until the run has ended; its exit status.
        pystap reads so: no thread to start (its import and scheduling cost start-up
        milliseconds), and signals still reach the main thread, which waits in poll()."""
        self._read()
        if self.reader_error is not None:
            raise self.reader_error
        return self.wait()

    def _read(self) -> None:
        try:
            for record in self.channel.records():
                self.on_record(record)
        except BrokenPipeError:  # nobody reads the output any more (`pystap ... | head`)
            self.output_closed = True
            self.kill()
        except BaseException as error:  # reported by wait(); the run is stopped
            self.reader_error = error
            self.kill()

    def stop(self) -> None:
        """First call: orderly stop (end probes run). Later calls: kill."""
        self.stops += 1
        if self.proc.poll() is not None:
            return
        self.proc.send_signal(_signal.SIGTERM if self.stops == 1 else _signal.SIGKILL)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()

    def set_monitor(self, interval_ms: int) -> None:
        """Ask for snapshots of globals and probe statistics every `interval_ms` (0: stop)."""
        self.channel.set_monitor(interval_ms)

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit status once the run ended and every record was delivered (None on timeout)."""
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                return None
        if self.proc.wait(max(TIMEOUT_GRACE, timeout or 0)) is None:  # channel closed but the process lingers
            self.kill()
            self.proc.wait()
        if self._watchdog is not None:
            self._watchdog.cancel()
        return self.exit_status

    @property
    def done(self) -> bool:
        return (self._thread is None or not self._thread.is_alive()) and self.proc.poll() is not None

    @property
    def exit_status(self) -> int | None:
        code = self.proc.returncode
        if code is None:
            return None
        if self.output_closed:
            return 0
        if code < 0 or self.channel.exit_status is None:
            return code if code > 0 else 1
        return self.channel.exit_status

    def failure(self) -> str | None:
        """Why the runtime ended abnormally, in stap's words, or None."""
        code = self.proc.returncode
        if code is None or self.output_closed or (code >= 0 and self.channel.exit_status is not None):
            return None
        if code < 0:
            import signal

            name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
            return f"the runtime was killed by signal {-code} ({name}) and its output may be incomplete"
        return f"the runtime exited with status {code} without finishing its run"

    def close(self) -> None:
        self.channel.close()
        self.proc.close()


def launch(session, build_artifact, on_record: Callable[[Record], None]) -> RunHandle:
    """Start `build_artifact` for `session`; records go to `on_record` from a reader thread."""
    handle = start(session.options, build_artifact, on_record)
    handle.read_in_background()
    return handle


def start(options, build_artifact, on_record: Callable[[Record], None]) -> RunHandle:
    """Start `build_artifact` with the options alone (a cached rerun has no Session); the
    caller reads: `follow()`, or `read_in_background()` as launch() does."""
    channel = _channel_for(options)
    if options.monitor:
        channel.set_monitor(1000)
    executable, *args = runtime_argv(options, str(build_artifact.path))
    try:
        proc = Process([executable, *channel.child_args, *args], channel.child_fds,
                       devnull_stdin=not options.command, new_session=True)
    except OSError as error:
        channel.close()
        raise RuntimeError(f"cannot start {build_artifact.path}: {error.strerror}") from error
    channel.child_started()
    return RunHandle(proc, channel, on_record, options.timeout)

