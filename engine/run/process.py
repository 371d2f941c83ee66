"""The runtime's process: started with os.posix_spawn, followed through a pidfd.

What RunHandle needs of subprocess.Popen (poll, wait with a timeout, signals, the exit
code in Popen's convention) without importing subprocess, whose imports (signal's enums,
selectors, threading, locale) cost a cached rerun of pystap about 7 ms of its start-up.
As Popen does by default, the child keeps only its standard descriptors and `pass_fds`,
and gets the default action back for the signals Python ignores.
"""

from __future__ import annotations

import _signal  # signal.py adds enums (and imports enum) to these same functions and numbers
import _thread
import os
import select

# Python ignores these at start-up; an exec'd program expects their default actions.
_RESET_SIGNALS = (_signal.SIGPIPE, _signal.SIGXFSZ)


class Process:
    """A child process; `returncode` is None while it runs, then its exit status, or
    minus the number of the signal that ended it."""

    def __init__(self, argv: list[str], pass_fds: tuple[int, ...] = (), devnull_stdin: bool = False,
                 new_session: bool = False) -> None:
        actions = [(os.POSIX_SPAWN_CLOSE, fd) for fd in _inherited_fds(pass_fds)]
        if devnull_stdin:
            actions.append((os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0))
        # Inheritable only for the spawn; another thread spawning meanwhile through subprocess
        # (the workbench's) closes them in its child, as Popen closes every other descriptor.
        for fd in pass_fds:
            os.set_inheritable(fd, True)
        try:
            self.pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions, setsid=new_session,
                                      setsigdef=_RESET_SIGNALS)
        finally:
            for fd in pass_fds:
                os.set_inheritable(fd, False)
        self.returncode: int | None = None
        self._pidfd = os.pidfd_open(self.pid)  # this process, even once reaped; see close()
        self._reaping = _thread.allocate_lock()  # the reader thread and the waiter both reap

    def poll(self) -> int | None:
        """The exit status if the process has ended (it is then reaped), else None. Never
        blocks: while another caller reaps (a signal handler may interrupt the main thread
        in wait()), it answers what is known, as Popen.poll does."""
        if not self._reaping.acquire(False):
            return self.returncode
        try:
            return self._reap(os.WNOHANG)
        finally:
            self._reaping.release()

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait up to `timeout` seconds (None: for ever); the exit status, or None if it still runs."""
        if self.returncode is None:  # the pidfd is readable once it has ended: reaping will not block
            poller = select.poll()
            poller.register(self._pidfd, select.POLLIN)
            if not poller.poll(None if timeout is None else max(0, int(timeout * 1000 + 0.999))):
                return None
        with self._reaping:
            return self._reap(0)

    def send_signal(self, signum: int) -> None:
        """Signal the process unless it has ended (through its pidfd: never another process
        that reuses its pid after it was reaped)."""
        if self.returncode is None and self._pidfd >= 0:
            try:
                _signal.pidfd_send_signal(self._pidfd, signum)
            except ProcessLookupError:  # ended, not reaped yet
                pass

    def kill(self) -> None:
        self.send_signal(_signal.SIGKILL)

    def _reap(self, flags: int) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, flags)
            if pid == self.pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def close(self) -> None:
        """Release the pidfd: not when the process is reaped, as another thread may be
        polling it then; once its owner is done with the process."""
        if self._pidfd >= 0:
            os.close(self._pidfd)
            self._pidfd = -1


def _inherited_fds(keep: tuple[int, ...]) -> list[int]:
    """Our descriptors above stderr a child would inherit (not close-on-exec), except `keep`."""
    found = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                if os.get_inheritable(fd):
                    found.append(fd)
            except OSError:  # the listing's own descriptor, closed since
                pass
    return found
