"""Record decoding (engine/run/records.py) on hand-built bytes: the edge cases a
well-behaved writer does not produce on demand (torn, unknown, incomplete records)."""

from __future__ import annotations

import struct

from engine.run.records import (
    HIST_LINEAR,
    HIST_LOG,
    LOST_KERNEL,
    LOST_LIVE_DATA,
    LOST_OTHER,
    LOST_RING_FULL,
    REC_ERROR,
    REC_EXIT,
    REC_GLOBAL,
    REC_OUTPUT,
    REC_SNAPSHOT_BEGIN,
    REC_SNAPSHOT_END,
    V_LONG,
    V_STRING,
    ArrayValue,
    Decoder,
    Exit,
    Histogram,
    Lost,
    Output,
    RunError,
    Snapshot,
)


def record(kind: int, payload: bytes, padded: bool = True) -> bytes:
    data = struct.pack("<HHI", kind, 0, len(payload)) + payload
    return data + b"\0" * (-len(data) % 8) if padded else data


def string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<H", len(raw)) + raw


def global_long(name: str, value: int) -> bytes:
    return record(REC_GLOBAL, string(name) + struct.pack("<Bq", V_LONG, value))


def decode(*chunks: bytes) -> list:
    decoder, out = Decoder(), []
    for chunk in chunks:
        decoder.decode(chunk, out)
    decoder.finish_batch(out)
    return out


def test_adjacent_output_is_joined_across_sub_buffers_until_another_record():
    out = decode(
        record(REC_OUTPUT, b"ab") + record(REC_OUTPUT, b"cd"),
        record(REC_OUTPUT, b"ef") + record(REC_ERROR, b"oops") + record(REC_OUTPUT, b"gh"),
    )
    assert out == [Output(b"abcdef"), RunError("oops"), Output(b"gh")]


def test_a_torn_output_record_yields_its_committed_bytes():
    # A killed writer: the length says 11 bytes, commit covers only the first 6.
    data = struct.pack("<HHI", REC_OUTPUT, 0, 11) + b"hello\n"
    assert decode(record(REC_EXIT, struct.pack("<i", 0)) + data) == [Exit(0), Output(b"hello\n")]


def test_a_torn_record_of_another_type_is_dropped():
    data = struct.pack("<HHI", REC_ERROR, 0, 40) + b"partial message"
    assert decode(record(REC_OUTPUT, b"x\n") + data) == [Output(b"x\n")]


def test_unknown_record_types_are_skipped():
    assert decode(record(999, b"future") + record(REC_OUTPUT, b"ok", padded=False)) == [Output(b"ok")]


def test_a_malformed_record_is_reported_as_lost():
    short = record(REC_GLOBAL, string("name") + b"\x00\x01")  # a long value cut to one byte
    out = decode(record(REC_SNAPSHOT_BEGIN, struct.pack("<QQ", 1, 0)) + short + record(REC_OUTPUT, b"ok\n"))
    assert out == [Lost(LOST_OTHER, 1, -1, f"malformed record of type {REC_GLOBAL}"), Output(b"ok\n")]


def test_an_incomplete_snapshot_is_discarded():
    out = decode(
        record(REC_SNAPSHOT_BEGIN, struct.pack("<QQ", 1, 10)),
        global_long("a", 1),  # snapshot 1 lost its end (dropped when the ring was full)
        record(REC_SNAPSHOT_BEGIN, struct.pack("<QQ", 2, 20)),
        global_long("b", 2),
        record(REC_SNAPSHOT_END, struct.pack("<Q", 2)),
        record(REC_SNAPSHOT_BEGIN, struct.pack("<QQ", 3, 30)),
        global_long("c", 3),
        record(REC_SNAPSHOT_END, struct.pack("<Q", 4)),  # not the one that began
        global_long("d", 4),  # outside any snapshot
    )
    assert out == [Snapshot(2, 20, {"b": 2})]


def test_log_histogram_buckets_follow_stap():
    hist = Histogram(HIST_LOG, (0,) * 128)
    assert [hist.bucket_low(i) for i in (64, 65, 66, 67, 70, 63, 62, 61)] == [0, 1, 2, 4, 32, -1, -3, -7]


def test_linear_histogram_buckets_have_underflow_and_overflow():
    hist = Histogram(HIST_LINEAR, (0,) * 5, start=0, stop=30, interval=10)
    assert [hist.bucket_low(i) for i in range(5)] == [-(2**63), 0, 10, 20, 30]


def test_array_rows_as_a_dict():
    one = ArrayValue((V_STRING,), V_LONG, 2, ((("a",), 1), (("b",), 2)))
    two = ArrayValue((V_STRING, V_LONG), V_LONG, 1, ((("a", 1), 5),))
    assert one.as_dict() == {"a": 1, "b": 2}
    assert two.as_dict() == {("a", 1): 5}


def test_lost_messages():
    assert Lost(LOST_RING_FULL, 5).line() == "WARNING: There were 5 transport failures.\n"
    assert Lost(LOST_KERNEL, 3, 1, "syscall.read").message() == (
        "3 events lost in the kernel ring buffer for probe syscall.read"
    )
    assert Lost(LOST_KERNEL, 3).message() == "3 events lost in the kernel ring buffer"
    assert Lost(LOST_OTHER, 2, -1, "procfs").message() == "2 records lost: procfs"
    assert Lost(LOST_LIVE_DATA, 4).message() == "4 snapshot records dropped: relay buffer full"
