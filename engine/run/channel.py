"""The reader side of the relay channel (the writer is runtime_c/relay.c).

The reader owns the channel: it creates the shared memory (a memfd holding a header
and a ring of fixed-size sub-buffers) and a wakeup socket pair, and starts the runtime
with the memfd and one end of the socket pair inherited and named on its command line:

    channel = Channel.create()
    proc = channel.popen([executable, *args])       # or: pass_fds=channel.child_fds,
                                                    # argv with channel.child_args, then
                                                    # channel.child_started()
    for record in channel.records():                # ends when the writer exits or dies
        ...

The writer publishes whole sub-buffers and sends one byte on the socket per publish;
`fileno()` is poll-able (selectors, asyncio), `wait()` blocks on it, so the reader never
busy-waits. When the writer exits (or is killed) the socket reports end-of-file and the
reader drains what is left, including the committed part of an unpublished sub-buffer.
The memory layout and protocol are documented in runtime_c/relay.h.

Memory ordering: the writer uses C11 release stores. The reader loads `produced`, then
copies sub-buffers, then stores `consumed`, each a single aligned 8-byte access (native
struct format, a plain load/store); on x86-64 (TSO) loads are not reordered with loads
nor stores with earlier loads, which is what the protocol needs. In overwrite mode a
sub-buffer's `seq` is re-read after the copy, seqlock fashion, to discard a torn copy.
"""

from __future__ import annotations

import _socket  # socket.py's wrapper classes (and their imports) are not needed for one socketpair
import mmap
import os
import select
import struct
import time

from engine.run.records import LOST_KERNEL, Decoder, Lost, Record, Slotted

TYPE_CHECKING = False  # pystap's cached rerun reads a channel: no typing, subprocess or collections
if TYPE_CHECKING:
    import subprocess
    from collections.abc import Iterator, Sequence

MAGIC = 0x4C525453
VERSION = 1
HEADER_SIZE = 256
SUBBUF_HEADER_SIZE = 16
F_OVERWRITE = 1
WRITER_CLOSED = 2
CTL_MONITOR = 1

# Header offsets (struct relay_shm_header in relay.h).
_OFF_PRODUCED = 64
_OFF_LOST_RECORDS = 72
_OFF_LOST_BYTES = 80
_OFF_WRITER_STATE = 88
_OFF_CONSUMED = 128
_OFF_CONTROL = 136
_OFF_MONITOR_MS = 140

_CONFIG = struct.Struct("<7I")  # magic, version, subbuf_size, n_subbufs, flags, flush_ms, wait_ms
_COUNTER = struct.Struct("Q")  # native: one aligned 8-byte load/store (see module docstring)
_WORD = struct.Struct("I")
_SUBBUF_HEADER = struct.Struct("QI")

DEFAULT_SUBBUF_SIZE = 128 * 1024
DEFAULT_N_SUBBUFS = 32
MIN_SUBBUF_SIZE = 16 * 1024  # an array-row batch (REC_ARRAY_BATCH in records.h) must fit


class LostCounts(Slotted):
    """What did not reach the reader, by cause."""

    __slots__ = ("ring_full", "ring_full_bytes", "overwritten", "kernel")

    def __init__(self, ring_full: int = 0, ring_full_bytes: int = 0, overwritten: int = 0, kernel: int = 0) -> None:
        self.ring_full = ring_full  # records the writer dropped: ring full (normal mode; output and live data)
        self.ring_full_bytes = ring_full_bytes
        self.overwritten = overwritten  # sub-buffers overwritten before they were read (overwrite mode)
        self.kernel = kernel  # kernel ring-buffer drops reported by the runtime

    @property
    def total(self) -> int:
        return self.ring_full + self.kernel


class ChannelError(Exception):
    """The channel could not be created (bad sizes, out of memory, no memfd)."""


class Channel:
    """A relay channel's reader: shared memory, wakeup socket, record decoder."""

    def __init__(self, mem: mmap.mmap, shm_fd: int, wake_fd: int, child_wake_fd: int) -> None:
        self._mem = mem
        self._shm_fd = shm_fd
        self._wake_fd = wake_fd
        self._child_wake_fd = child_wake_fd
        _magic, _version, self.subbuf_size, self.n_subbufs, flags, *_ = _CONFIG.unpack_from(mem, 0)
        self.overwrite = bool(flags & F_OVERWRITE)
        self._consumed = 0
        self._overwritten = 0
        self._kernel_lost = 0
        self._eof = False
        self.finished = False  # the writer is gone and everything it wrote was read
        self._decoder = Decoder()

    @classmethod
    def create(
        cls,
        subbuf_size: int = DEFAULT_SUBBUF_SIZE,
        n_subbufs: int = DEFAULT_N_SUBBUFS,
        overwrite: bool = False,
        flush_ms: int = 20,
        wait_ms: int = 1000,
    ) -> Channel:
        """Create the shared ring and wakeup socket.

        flush_ms: age at which the writer publishes a partial sub-buffer;
        wait_ms: longest wait of the writer for a slow reader (normal mode) before it
        counts output as lost; overwrite: flight-recorder mode, oldest data overwritten.
        """
        if subbuf_size % 8 or subbuf_size < MIN_SUBBUF_SIZE or subbuf_size >= 2**32:
            raise ChannelError(f"sub-buffer size must be a multiple of 8 from {MIN_SUBBUF_SIZE} bytes")
        if n_subbufs < 2:
            raise ChannelError("a relay ring needs at least 2 sub-buffers")
        size = HEADER_SIZE + subbuf_size * n_subbufs
        try:
            shm_fd = os.memfd_create("stapui-relay", os.MFD_CLOEXEC)
            os.ftruncate(shm_fd, size)
            mem = mmap.mmap(shm_fd, size)
        except OSError as err:
            raise ChannelError(f"cannot create the relay channel ({size} bytes): {err.strerror}") from err
        flags = F_OVERWRITE if overwrite else 0
        _CONFIG.pack_into(mem, 0, MAGIC, VERSION, subbuf_size, n_subbufs, flags, flush_ms, wait_ms)
        ours, theirs = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_STREAM)
        ours.setblocking(False)
        theirs.setblocking(False)
        return cls(mem, shm_fd, ours.detach(), theirs.detach())

    # --- starting the writer -------------------------------------------------------------

    @property
    def child_fds(self) -> tuple[int, ...]:
        """The descriptors the runtime must inherit (subprocess `pass_fds`)."""
        return (self._shm_fd, self._child_wake_fd)

    @property
    def child_args(self) -> list[str]:
        """The runtime's command-line options naming the inherited descriptors."""
        return ["--relay-fd", str(self._shm_fd), "--wake-fd", str(self._child_wake_fd)]

    def child_started(self) -> None:
        """Close the parent's copies of the child's descriptors (after the child started).

        Required: end-of-file on the wakeup socket, which tells the reader that the
        writer exited or died, only happens once no other process holds its end.
        """
        for fd in (self._shm_fd, self._child_wake_fd):
            if fd >= 0:
                os.close(fd)
        self._shm_fd = self._child_wake_fd = -1

    def popen(self, argv: Sequence[str], **kwargs) -> subprocess.Popen:
        """Start the runtime `argv[0]` with the channel options before its own arguments."""
        import subprocess

        pass_fds = tuple(kwargs.pop("pass_fds", ())) + self.child_fds
        proc = subprocess.Popen([argv[0], *self.child_args, *argv[1:]], pass_fds=pass_fds, **kwargs)
        self.child_started()
        return proc

    # --- reading -------------------------------------------------------------------------

    def fileno(self) -> int:
        """The wakeup descriptor: readable when a sub-buffer was published or the writer ended."""
        return self._wake_fd

    def wait(self, timeout: float | None = None) -> bool:
        """Block until there is something to read or the writer ended; False on timeout."""
        if self._eof:
            return True
        poller = select.poll()
        poller.register(self._wake_fd, select.POLLIN)
        ms = None if timeout is None else max(0, int(timeout * 1000 + 0.999))
        return bool(poller.poll(ms))

    def poll(self) -> list[Record]:
        """Decode everything published so far, without blocking."""
        out: list[Record] = []
        if not self._eof:
            self._drain_wakeups()
        self._read_published(out)
        if self._eof and not self.finished:
            if not self.writer_closed:
                self._salvage(out)
            self.finished = True
        self._decoder.finish_batch(out)
        self._kernel_lost += sum(r.count for r in out if isinstance(r, Lost) and r.source == LOST_KERNEL)
        return out

    def records(self, timeout: float | None = None) -> Iterator[Record]:
        """Yield records until the writer has ended and all is read, or `timeout` seconds pass."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            yield from self.poll()
            if self.finished:
                return
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return
            self.wait(remaining)

    def _drain_wakeups(self) -> None:
        while True:
            try:
                data = os.read(self._wake_fd, 65536)
            except BlockingIOError:
                return
            except ConnectionResetError:
                data = b""
            if not data:
                self._eof = True
                return

    def _slot_offset(self, index: int) -> int:
        return HEADER_SIZE + (index % self.n_subbufs) * self.subbuf_size

    def _read_published(self, out: list) -> None:
        mem = self._mem
        produced = _COUNTER.unpack_from(mem, _OFF_PRODUCED)[0]
        index = self._consumed
        if self.overwrite and produced - index > self.n_subbufs:
            # Older sub-buffers were overwritten; the oldest slot may be being reused
            # right now as index `produced`, which its seq check detects.
            first = produced - self.n_subbufs
            self._overwritten += first - index
            index = first
        while index < produced:
            data = self._copy_subbuf(index)
            index += 1
            if not self.overwrite:
                _COUNTER.pack_into(mem, _OFF_CONSUMED, index)  # free the slot before decoding
            if data is not None:
                self._decoder.decode(data, out)
        self._consumed = index
        _COUNTER.pack_into(mem, _OFF_CONSUMED, index)

    def _copy_subbuf(self, index: int) -> bytes | None:
        """The record bytes of sub-buffer `index`, or None when it was overwritten."""
        offset = self._slot_offset(index)
        seq, commit = _SUBBUF_HEADER.unpack_from(self._mem, offset)
        limit = self.subbuf_size - SUBBUF_HEADER_SIZE
        data = self._mem[offset + SUBBUF_HEADER_SIZE : offset + SUBBUF_HEADER_SIZE + min(commit, limit)]
        if seq != index or _COUNTER.unpack_from(self._mem, offset)[0] != index:
            self._overwritten += 1
            return None
        return data

    def _salvage(self, out: list) -> None:
        """After the writer died: the complete records of the sub-buffer it was filling."""
        produced = _COUNTER.unpack_from(self._mem, _OFF_PRODUCED)[0]
        seq = _COUNTER.unpack_from(self._mem, self._slot_offset(produced))[0]
        if seq == produced:
            data = self._copy_subbuf(produced)
            if data:
                self._decoder.decode(data, out)

    # --- state -----------------------------------------------------------------------------

    @property
    def writer_closed(self) -> bool:
        """The writer ended normally (relay_close), as opposed to crashing or being killed."""
        return _WORD.unpack_from(self._mem, _OFF_WRITER_STATE)[0] == WRITER_CLOSED

    @property
    def writer_died(self) -> bool:
        """The writer is gone without closing the channel (killed, crashed)."""
        return self.finished and not self.writer_closed

    @property
    def exit_status(self) -> int | None:
        """The status in the runtime's EXIT record, None if none arrived."""
        return self._decoder.exit_status

    @property
    def lost(self) -> LostCounts:
        records = _COUNTER.unpack_from(self._mem, _OFF_LOST_RECORDS)[0]
        nbytes = _COUNTER.unpack_from(self._mem, _OFF_LOST_BYTES)[0]
        return LostCounts(records, nbytes, self._overwritten, self._kernel_lost)

    def set_monitor(self, interval_ms: int) -> None:
        """Ask the runtime for a snapshot of its globals every `interval_ms` (0: stop)."""
        _WORD.pack_into(self._mem, _OFF_MONITOR_MS, interval_ms)
        _WORD.pack_into(self._mem, _OFF_CONTROL, CTL_MONITOR if interval_ms else 0)

    def close(self) -> None:
        """Release the memory and descriptors (the writer, if alive, sees end-of-file)."""
        self.child_started()
        if self._wake_fd >= 0:
            os.close(self._wake_fd)
            self._wake_fd = -1
        if not self._mem.closed:
            self._mem.close()

    def __enter__(self) -> Channel:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
