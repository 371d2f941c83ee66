"""Decoded relay-channel records: what the runtime sends to pystap and the workbench.

The byte layouts are defined in runtime_c/records.h (the C encoders); this module is
their reader. `Decoder` turns the record bytes of whole sub-buffers into objects,
batching as it goes: adjacent output records become one `Output`, and the records
between a snapshot's begin and end become one `Snapshot`, delivered only when complete.
Records are small slotted classes, not frozen (construction is the reader's per-record
cost, and frozen doubles it), compared by value; consumers treat them as values.
"""

from __future__ import annotations

import struct

# Record types (enum rec_type in records.h).
REC_OUTPUT = 1
REC_WARNING = 2
REC_ERROR = 3
REC_EXIT = 4
REC_SNAPSHOT_BEGIN = 16
REC_GLOBAL = 17
REC_ARRAY = 18
REC_SNAPSHOT_END = 19
REC_PROBE_STAT = 32
REC_LOST = 48

# Value types (enum rec_value_type), histogram kinds, lost sources.
V_LONG, V_STRING, V_STAT = 0, 1, 2
HIST_NONE, HIST_LOG, HIST_LINEAR = 0, 1, 2
LOST_RING_FULL, LOST_KERNEL, LOST_OTHER, LOST_LIVE_DATA = 1, 2, 3, 4

LOG_BUCKET0 = 64  # the log histogram bucket that holds 0

_RECORD_HEADER = struct.Struct("<HHI")
_U16 = struct.Struct("<H")
_I64 = struct.Struct("<q")
_STAT_HEAD = struct.Struct("<6qB3qH")
_SNAPSHOT_BEGIN = struct.Struct("<QQ")
_ARRAY_COUNTS = struct.Struct("<BII")
_PROBE_STAT = struct.Struct("<IQQQQ")
_LOST = struct.Struct("<HHiQ")
_U8 = struct.Struct("<B")
_U64 = struct.Struct("<Q")
_I32 = struct.Struct("<i")


class Slotted:
    """Equality and repr from the `__slots__` of a class and its bases, as the slotted
    dataclasses these records were: pystap's cached rerun decodes them, and the dataclasses
    module costs it 15 ms."""

    __slots__ = ()
    __hash__ = None  # mutable values
    _fields: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls._fields = tuple(name for c in reversed(cls.__mro__) for name in c.__dict__.get("__slots__", ()))

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(getattr(self, n) == getattr(other, n) for n in self._fields)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({fields})"


class Output(Slotted):
    """Script output bytes, in order (adjacent records joined)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class _Message(Slotted):
    """A message of the runtime; `line()` is the text stap prints."""

    __slots__ = ("text",)
    prefix = ""

    def __init__(self, text: str) -> None:
        self.text = text

    def line(self) -> str:
        return f"{self.prefix}: {self.text}\n"


class RunWarning(_Message):
    """A run-time warning."""

    __slots__ = ()
    prefix = "WARNING"


class RunError(_Message):
    """A run-time error."""

    __slots__ = ()
    prefix = "ERROR"


class Exit(Slotted):
    """The runtime's exit status, sent as its last record."""

    __slots__ = ("status",)

    def __init__(self, status: int) -> None:
        self.status = status


class Histogram(Slotted):
    """A statistic's histogram, buckets laid out as stap lays them out."""

    __slots__ = ("kind", "buckets", "start", "stop", "interval")

    def __init__(self, kind: int, buckets: tuple[int, ...], start: int = 0, stop: int = 0, interval: int = 0) -> None:
        self.kind = kind  # HIST_LOG or HIST_LINEAR
        self.buckets = buckets
        self.start = start
        self.stop = stop
        self.interval = interval

    def bucket_low(self, index: int) -> int:
        """The smallest value bucket `index` holds (underflow: the smallest int64)."""
        if self.kind == HIST_LINEAR:
            return -(2**63) if index == 0 else self.start + (index - 1) * self.interval
        k = index - LOG_BUCKET0
        if k == 0:
            return 0
        return 1 << (k - 1) if k > 0 else -((1 << -k) - 1)


class Stat(Slotted):
    """An aggregate (`<<<`) as extracted by @count, @sum, @min, @max, @avg, @variance."""

    __slots__ = ("count", "sum", "min", "max", "avg", "variance", "hist")

    def __init__(self, count: int, sum: int, min: int, max: int, avg: int, variance: int,
                 hist: Histogram | None = None) -> None:
        self.count = count
        self.sum = sum
        self.min = min
        self.max = max
        self.avg = avg
        self.variance = variance
        self.hist = hist


Value = int | str | Stat


class ArrayValue(Slotted):
    """A global array in a snapshot: typed keys, rows in the runtime's order."""

    __slots__ = ("key_types", "value_type", "total_rows", "rows")

    def __init__(self, key_types: tuple[int, ...], value_type: int, total_rows: int,
                 rows: tuple[tuple[tuple[int | str, ...], Value], ...]) -> None:
        self.key_types = key_types
        self.value_type = value_type
        self.total_rows = total_rows
        self.rows = rows

    def as_dict(self) -> dict:
        """Rows as a dict; a one-key array is keyed by the key itself, not a 1-tuple."""
        if len(self.key_types) == 1:
            return {keys[0]: value for keys, value in self.rows}
        return dict(self.rows)


class ProbeStat(Slotted):
    """Per-probe statistics as `stap -t` reports them."""

    __slots__ = ("index", "point", "hits", "min_ns", "avg_ns", "max_ns")

    def __init__(self, index: int, point: str, hits: int, min_ns: int, avg_ns: int, max_ns: int) -> None:
        self.index = index
        self.point = point
        self.hits = hits
        self.min_ns = min_ns
        self.avg_ns = avg_ns
        self.max_ns = max_ns


class Snapshot(Slotted):
    """One consistent snapshot of the globals (and probe statistics sent with it)."""

    __slots__ = ("seq", "time_ns", "globals", "probes")

    def __init__(self, seq: int, time_ns: int, globals: dict[str, Value | ArrayValue],
                 probes: tuple[ProbeStat, ...] = ()) -> None:
        self.seq = seq
        self.time_ns = time_ns
        self.globals = globals
        self.probes = probes


class Lost(Slotted):
    """Records lost at some source (the relay ring, a kernel ring buffer, ...)."""

    __slots__ = ("source", "count", "probe_index", "label")

    def __init__(self, source: int, count: int, probe_index: int = -1, label: str = "") -> None:
        self.source = source
        self.count = count
        self.probe_index = probe_index
        self.label = label

    def message(self) -> str:
        """The warning text, as the runtime prints it in stand-alone mode (records.c)."""
        if self.source == LOST_RING_FULL:
            return f"There were {self.count} transport failures."
        if self.source == LOST_KERNEL:
            where = f" for probe {self.label}" if self.label else ""
            return f"{self.count} events lost in the kernel ring buffer{where}"
        if self.source == LOST_LIVE_DATA:
            return f"{self.count} snapshot records dropped: relay buffer full"
        return f"{self.count} records lost: {self.label}"

    def line(self) -> str:
        return f"WARNING: {self.message()}\n"


Record = Output | RunWarning | RunError | Exit | Snapshot | ProbeStat | Lost

_MESSAGES = {REC_WARNING: RunWarning, REC_ERROR: RunError}


class _Reader:
    """A cursor over one payload; small methods, one per encoded kind."""

    __slots__ = ("buf", "pos")

    def __init__(self, buf: memoryview, pos: int = 0) -> None:
        self.buf = buf
        self.pos = pos

    def unpack(self, fmt: struct.Struct) -> tuple:
        values = fmt.unpack_from(self.buf, self.pos)
        self.pos += fmt.size
        return values

    def string(self) -> str:
        (n,) = self.unpack(_U16)
        text = bytes(self.buf[self.pos : self.pos + n]).decode("utf-8", "replace")
        self.pos += n
        return text

    def value(self, kind: int) -> Value:
        if kind == V_LONG:
            return self.unpack(_I64)[0]
        if kind == V_STRING:
            return self.string()
        return self.stat()

    def stat(self) -> Stat:
        count, total, lo, hi, avg, var, kind, start, stop, interval, n = self.unpack(_STAT_HEAD)
        buckets = struct.unpack_from(f"<{n}q", self.buf, self.pos)
        self.pos += 8 * n
        hist = Histogram(kind, buckets, start, stop, interval) if kind != HIST_NONE else None
        return Stat(count, total, lo, hi, avg, var, hist)


class _PendingSnapshot:
    """A snapshot whose records are still arriving."""

    def __init__(self, seq: int, time_ns: int) -> None:
        self.seq = seq
        self.time_ns = time_ns
        self.globals: dict = {}
        self.arrays: dict = {}  # name -> (key_types, value_type, total, rows)
        self.probes: list = []

    def finish(self) -> Snapshot:
        for name, (key_types, value_type, total, rows) in self.arrays.items():
            self.globals[name] = ArrayValue(key_types, value_type, total, tuple(rows))
        return Snapshot(self.seq, self.time_ns, self.globals, tuple(self.probes))


class Decoder:
    """Decodes record bytes into objects; keeps snapshot state across sub-buffers."""

    def __init__(self) -> None:
        self.snapshot: _PendingSnapshot | None = None
        self.exit_status: int | None = None
        self._out: list = []
        self._text: list[bytes] = []

    def decode(self, data: bytes, out: list) -> None:
        """Append the records in `data` (records padded to 8, the last may be unpadded) to `out`.

        Output bytes are held back and joined with the next ones, so call
        `finish_batch(out)` after the last sub-buffer of a batch. The loop is the
        reader's hot path: messages are built inline, other kinds dispatched.
        """
        end = len(data)
        pos = 0
        text = self._text
        unpack = _RECORD_HEADER.unpack_from
        self._out = out
        while pos + 8 <= end:
            kind, _flags, length = unpack(data, pos)
            start = pos + 8
            stop = start + length
            if stop > end:
                # Only in a sub-buffer salvaged from a killed writer: an output record
                # whose length ran ahead of `commit`; its committed bytes are whole writes.
                if kind == REC_OUTPUT:
                    text.append(data[start:end])
                break
            if kind == REC_OUTPUT:
                text.append(data[start:stop])
            else:
                if text:
                    self._flush_text()
                message = _MESSAGES.get(kind)
                if message is not None:
                    out.append(message(data[start:stop].decode("utf-8", "replace")))
                else:
                    self._decode_one(kind, memoryview(data)[start:stop])
            pos = (stop + 7) & ~7

    def finish_batch(self, out: list) -> None:
        """Emit held-back output bytes as one `Output` record."""
        self._out = out
        self._flush_text()

    def _flush_text(self) -> None:
        if self._text:
            self._out.append(Output(b"".join(self._text)))
            self._text.clear()

    def _decode_one(self, kind: int, payload: memoryview) -> None:
        handler = self._HANDLERS.get(kind)
        if handler is None:
            return  # unknown types are skipped: newer runtimes may add some
        try:
            handler(self, _Reader(payload))
        except (struct.error, IndexError, ValueError):
            # A writer bug, never a traceback for the user: counted like any loss.
            self._out.append(Lost(LOST_OTHER, 1, -1, f"malformed record of type {kind}"))

    def _exit(self, r: _Reader) -> None:
        (status,) = _I32.unpack_from(r.buf)
        self.exit_status = status
        self._out.append(Exit(status))

    def _snapshot_begin(self, r: _Reader) -> None:
        seq, time_ns = r.unpack(_SNAPSHOT_BEGIN)
        self.snapshot = _PendingSnapshot(seq, time_ns)

    def _global(self, r: _Reader) -> None:
        name = r.string()
        (kind,) = r.unpack(_U8)
        if self.snapshot is not None:
            self.snapshot.globals[name] = r.value(kind)

    def _array(self, r: _Reader) -> None:
        name = r.string()
        nkeys = r.buf[r.pos]
        key_types = tuple(r.buf[r.pos + 1 : r.pos + 1 + nkeys])
        r.pos += 1 + nkeys
        value_type, total, nrows = r.unpack(_ARRAY_COUNTS)
        if self.snapshot is None:
            return
        entry = self.snapshot.arrays.setdefault(name, (key_types, value_type, total, []))
        rows = entry[3]
        for _ in range(nrows):
            keys = tuple(r.value(k) for k in key_types)
            rows.append((keys, r.value(value_type)))

    def _snapshot_end(self, r: _Reader) -> None:
        (seq,) = r.unpack(_U64)
        if self.snapshot is not None and self.snapshot.seq == seq:
            self._out.append(self.snapshot.finish())
        self.snapshot = None  # an incomplete snapshot (records dropped) is discarded

    def _probe_stat(self, r: _Reader) -> None:
        index, hits, lo, avg, hi = r.unpack(_PROBE_STAT)
        stat = ProbeStat(index, r.string(), hits, lo, avg, hi)
        if self.snapshot is not None:
            self.snapshot.probes.append(stat)
        else:
            self._out.append(stat)

    def _lost(self, r: _Reader) -> None:
        source, _zero, probe, count = r.unpack(_LOST)
        self._out.append(Lost(source, count, probe, r.string()))

    _HANDLERS = {
        REC_EXIT: _exit,
        REC_SNAPSHOT_BEGIN: _snapshot_begin,
        REC_GLOBAL: _global,
        REC_ARRAY: _array,
        REC_SNAPSHOT_END: _snapshot_end,
        REC_PROBE_STAT: _probe_stat,
        REC_LOST: _lost,
    }
