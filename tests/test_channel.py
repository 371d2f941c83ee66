"""The relay channel end to end: a C writer (tests/test_channel_writer.c, built against
runtime_c/relay.c and records.c only) and the Python reader (engine/run/channel.py)."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from engine.run.channel import Channel, ChannelError, LostCounts
from engine.run.records import (
    HIST_LINEAR,
    HIST_LOG,
    LOST_KERNEL,
    LOST_LIVE_DATA,
    LOST_RING_FULL,
    V_LONG,
    V_STAT,
    V_STRING,
    ArrayValue,
    Exit,
    Histogram,
    Lost,
    Output,
    ProbeStat,
    RunError,
    RunWarning,
    Snapshot,
    Stat,
)
from tests.support import REPO, require

SMALL = 16 * 1024  # the smallest sub-buffer
LINE = re.compile(rb"line (\d+)\n")


def build_writer(directory: Path) -> Path:
    """Compile the test writer; -Werror so a warning in relay.c/records.c fails the tests."""
    require(shutil.which("gcc") is not None, "gcc (apt-get install gcc)")
    exe = directory / "channel-writer"
    sources = ["tests/test_channel_writer.c", "runtime_c/relay.c", "runtime_c/records.c"]
    flags = ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-Iruntime_c"]
    subprocess.run(["gcc", *flags, "-o", str(exe), *sources], cwd=REPO, check=True)
    return exe


@pytest.fixture(scope="module")
def writer(tmp_path_factory) -> Path:
    return build_writer(tmp_path_factory.mktemp("channel"))


def run(writer: Path, *args: str, **create) -> tuple[list, Channel, int]:
    """Run the writer to completion on a fresh channel; all records, the channel, exit code."""
    channel = Channel.create(**create)
    proc = channel.popen([str(writer), *args])
    records = list(channel.records(timeout=60))
    assert channel.finished
    return records, channel, proc.wait(timeout=60)


def output_of(records: list) -> bytes:
    return b"".join(r.data for r in records if isinstance(r, Output))


def line_numbers(data: bytes) -> list[int]:
    numbers = [int(m) for m in LINE.findall(data)]
    assert len(data) == sum(len(b"line %d\n" % n) for n in numbers), "a malformed or partial line"
    return numbers


def lines_filling(n_subbufs: int, subbuf_size: int) -> int:
    """How many "line %d" lines fill n sub-buffers (one output record each)."""
    count = 0
    for _ in range(n_subbufs):
        room = subbuf_size - 16 - 8  # sub-buffer header, record header
        while room >= len(b"line %d\n" % count):
            room -= len(b"line %d\n" % count)
            count += 1
    return count


def expected_lines(first: int, end: int) -> bytes:
    return b"".join(b"line %d\n" % i for i in range(first, end))


def test_every_record_type_decodes_exactly(writer):
    log = [0] * 128
    log[64], log[65], log[67] = 2, 1, 4
    records, channel, code = run(writer, "records")
    assert code == 3
    assert records == [
        Output(b"hello world\n"),
        RunWarning("careful"),
        Output(b"after warning\n"),
        RunError("division by 0 near operator '/' at x.stp:1:2"),
        Snapshot(
            seq=1,
            time_ns=123456789,
            globals={
                "count": -42,
                "name": "héllo",
                "latency": Stat(7, 70, 0, 20, 10, 49, Histogram(HIST_LOG, tuple(log))),
                "sizes": Stat(7, 95, -5, 40, 13, 200, Histogram(HIST_LINEAR, (1, 0, 3, 2, 1), 0, 30, 10)),
                "calls": ArrayValue((V_STRING, V_LONG), V_LONG, 2, ((("bash", 17), 5), (("sshd", -1), 9))),
                "stats": ArrayValue((V_LONG,), V_STAT, 1, (((3,), Stat(2, 3, 1, 2, 1, 0)),)),
            },
            probes=(ProbeStat(0, "begin", 1, 100, 150, 200),),
        ),
        ProbeStat(2, "timer.ms(10)", 300, 1000, 2000, 9000),
        Lost(LOST_KERNEL, 17, 2, "syscall.openat"),
        Exit(3),
    ]
    assert channel.exit_status == 3
    assert channel.writer_closed and not channel.writer_died
    assert channel.lost == LostCounts(kernel=17)


def test_without_channel_options_the_writer_prints_plain_text(writer):
    proc = subprocess.run([str(writer), "records"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 3
    assert proc.stdout == "hello world\nafter warning\n"
    assert proc.stderr == (
        RunWarning("careful").line()
        + RunError("division by 0 near operator '/' at x.stp:1:2").line()
        + Lost(LOST_KERNEL, 17, 2, "syscall.openat").line()
    )
    assert proc.stderr.splitlines()[-1] == "WARNING: 17 events lost in the kernel ring buffer for probe syscall.openat"


def test_relay_options_are_removed_from_the_runtime_arguments(writer):
    records, _, code = run(writer, "argv", "-x", "two words", "--other")
    assert (code, records) == (0, [Output(b"-x two words --other\n")])
    proc = subprocess.run([str(writer), "argv", "a", "b"], capture_output=True, text=True, timeout=30)
    assert proc.stdout == "a b\n"


def test_bad_relay_options_are_reported(writer):
    proc = subprocess.run([str(writer), "--relay-fd", "x7", "--wake-fd", "1", "lines", "1"],
                          capture_output=True, text=True, timeout=30)
    assert (proc.returncode, proc.stderr) == (2, "ERROR: relay: bad --relay-fd value 'x7'\n")
    proc = subprocess.run([str(writer), "--relay-fd", "0", "--wake-fd", "1", "lines", "1"],
                          capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2
    assert proc.stderr.startswith("ERROR: relay: ")
    proc = subprocess.run([str(writer), "--wake-fd", "1", "lines", "1"], capture_output=True, text=True, timeout=30)
    assert proc.stderr == "ERROR: relay: --relay-fd and --wake-fd must be given together\n"


def test_a_million_lines_arrive_in_order_with_none_lost(writer):
    records, channel, code = run(writer, "lines", "1000000")
    assert code == 0
    assert output_of(records) == expected_lines(0, 1_000_000)
    assert channel.lost == LostCounts()
    assert not any(isinstance(r, Lost) for r in records)


def test_a_partial_sub_buffer_is_flushed_on_the_timer(writer):
    channel = Channel.create()
    proc = channel.popen([str(writer), "partial"], stdin=subprocess.PIPE)
    first = []
    for record in channel.records(timeout=30):
        first.append(record)
        break
    # The writer is still alive, blocked on stdin: only relay_tick() can have published "hello".
    assert first == [Output(b"hello\n")]
    assert proc.poll() is None
    proc.stdin.write(b"go\n")
    proc.stdin.close()
    assert list(channel.records(timeout=30)) == [Output(b"bye\n")]
    assert proc.wait(timeout=30) == 0 and channel.writer_closed


def test_overwrite_mode_keeps_the_newest_data(writer):
    channel = Channel.create(subbuf_size=SMALL, n_subbufs=4, overwrite=True)
    proc = channel.popen([str(writer), "lines", "100000"])
    assert proc.wait(timeout=60) == 0  # the flight recorder is read after the run
    numbers = line_numbers(output_of(channel.records(timeout=30)))
    per_subbuf = (SMALL - 16 - 8) // len(b"line 99999\n")
    assert numbers == list(range(numbers[0], 100_000))
    assert 3 * per_subbuf < len(numbers) <= 4 * per_subbuf  # the last 4 sub-buffers, the newest partial
    assert channel.lost.overwritten > 0 and channel.lost.ring_full == 0


def test_overwrite_mode_read_live_never_delivers_torn_data(writer):
    channel = Channel.create(subbuf_size=SMALL, n_subbufs=4, overwrite=True)
    proc = channel.popen([str(writer), "lines", "300000"])
    numbers = line_numbers(output_of(channel.records(timeout=60)))
    assert proc.wait(timeout=60) == 0
    assert numbers == sorted(set(numbers)) and numbers[-1] == 299_999


def test_a_slow_reader_loses_counted_lines_and_is_told(writer):
    total = 20_000
    channel = Channel.create(subbuf_size=SMALL, n_subbufs=2, wait_ms=0)
    proc = channel.popen([str(writer), "lossy", str(total)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout.readline() == b"ready\n"  # all written, nothing read yet
    delivered = line_numbers(output_of(channel.poll()))
    lost = channel.lost.ring_full
    proc.stdin.write(b"go\n")
    proc.stdin.close()
    rest = list(channel.records(timeout=30))
    assert proc.wait(timeout=30) == 0
    assert delivered == list(range(len(delivered)))
    assert len(delivered) == lines_filling(2, SMALL) == 3383  # whole lines only, never split
    assert len(delivered) + lost - 3 == total  # the 3 records of the snapshot were dropped too
    assert rest == [Lost(LOST_RING_FULL, lost - 3), Lost(LOST_LIVE_DATA, 3), Output(b"after\n")]


def test_a_killed_writer_ends_the_reader_cleanly(writer):
    channel = Channel.create(subbuf_size=SMALL, n_subbufs=8)
    proc = channel.popen([str(writer), "forever"])
    data = []
    for record in channel.records(timeout=60):
        data.append(record.data)
        if sum(map(len, data)) > 1_000_000:
            break
    proc.send_signal(signal.SIGKILL)
    data.extend(r.data for r in channel.records(timeout=60))
    assert proc.wait(timeout=30) == -signal.SIGKILL
    assert channel.finished and channel.writer_died
    numbers = line_numbers(b"".join(data))
    assert numbers == list(range(len(numbers)))
    assert channel.exit_status is None


def test_a_writer_outliving_its_reader_finishes_normally(writer):
    channel = Channel.create(subbuf_size=SMALL, n_subbufs=2, wait_ms=60_000)
    proc = channel.popen([str(writer), "lines", "200000"])
    channel.wait(30)
    channel.close()  # the writer, blocked on the full ring, must notice and carry on
    assert proc.wait(timeout=60) == 0


def test_a_large_array_spans_records_and_is_joined(writer):
    records, _, code = run(writer, "bigarray", "5000", subbuf_size=SMALL, n_subbufs=16)
    assert code == 0
    [snapshot] = records
    big = snapshot.globals["big"]
    assert (snapshot.seq, big.key_types, big.value_type, big.total_rows) == (7, (V_LONG, V_STRING), V_LONG, 5000)
    assert big.rows == tuple(((i, f"key{i}"), i * i) for i in range(5000))
    assert big.as_dict()[(4999, "key4999")] == 4999 * 4999


def test_a_write_larger_than_a_sub_buffer_is_split_and_rejoined(writer):
    size = 10 * SMALL + 123
    records, channel, code = run(writer, "big", str(size), subbuf_size=SMALL, n_subbufs=4)
    assert code == 0 and channel.lost == LostCounts()
    assert output_of(records) == bytes(ord("a") + i % 26 for i in range(size))


def test_the_reader_asks_the_writer_for_snapshots(writer):
    channel = Channel.create()
    proc = channel.popen([str(writer), "monitor"])
    channel.set_monitor(250)
    assert list(channel.records(timeout=30)) == [Output(b"monitor 250\n")]
    assert proc.wait(timeout=30) == 0


def test_the_wakeup_descriptor_is_pollable(writer):
    channel = Channel.create()
    assert channel.wait(0) is False  # nothing yet, nobody writing
    proc = channel.popen([str(writer), "lines", "3"])
    assert channel.wait(30) is True
    assert output_of(channel.records(timeout=30)) == expected_lines(0, 3)
    assert proc.wait(timeout=30) == 0
    channel.close()
    assert channel.fileno() == -1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"subbuf_size": 1000}, "sub-buffer size must be a multiple of 8 from 16384 bytes"),
        ({"subbuf_size": SMALL + 4}, "sub-buffer size must be a multiple of 8 from 16384 bytes"),
        ({"n_subbufs": 1}, "a relay ring needs at least 2 sub-buffers"),
    ],
)
def test_bad_geometry_is_refused(kwargs, message):
    with pytest.raises(ChannelError) as err:
        Channel.create(**kwargs)
    assert str(err.value) == message
