"""Relay channel throughput (not a test): the C writer alone, and end to end into the
Python reader.

    python3 bench/channel.py [--records N]

Prints one line per measurement. Goals (issue 4): at least 1 million small records/s
end to end into the Python reader; the C writer alone over 1 GB/s.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.run.channel import Channel  # noqa: E402
from engine.run.records import Output, RunWarning  # noqa: E402
from tests.test_channel import build_writer  # noqa: E402

RECORD = 32  # bytes per output write in the writer's bench mode


def writer_alone(writer: Path, n: int) -> tuple[float, float]:
    """Seconds for n 32-byte writes into a flight-recorder ring nobody reads (no waiting)."""
    channel = Channel.create(overwrite=True)
    proc = channel.popen([str(writer), "bench", str(n)], stderr=subprocess.PIPE, text=True)
    seconds = float(proc.communicate(timeout=600)[1])
    channel.close()
    return seconds, n * RECORD / seconds


def end_to_end(writer: Path, mode: str, n: int) -> tuple[float, int, int]:
    """Seconds from start to the last record read; records and bytes the reader counted."""
    start = time.perf_counter()
    channel = Channel.create()
    proc = channel.popen([str(writer), mode, str(n)], stderr=subprocess.DEVNULL)
    records = nbytes = 0
    for record in channel.records():
        if isinstance(record, Output):
            nbytes += len(record.data)
        elif isinstance(record, RunWarning):
            records += 1
            nbytes += len(record.text)
    seconds = time.perf_counter() - start
    proc.wait()
    lost = channel.lost.total
    channel.close()
    if lost:
        print(f"  ({lost} records lost)")
    return seconds, records, nbytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5_000_000)
    n = parser.parse_args().records
    with tempfile.TemporaryDirectory() as tmp:
        writer = build_writer(Path(tmp))
        seconds, rate = writer_alone(writer, n)
        print(f"C writer alone: {n} x {RECORD}-byte writes in {seconds:.3f} s: "
              f"{n / seconds / 1e6:.1f} M records/s, {rate / 1e9:.2f} GB/s")
        seconds, _, nbytes = end_to_end(writer, "bench", n)
        print(f"end to end, output: {n} x {RECORD}-byte writes in {seconds:.3f} s: "
              f"{n / seconds / 1e6:.2f} M records/s, {nbytes / seconds / 1e6:.0f} MB/s "
              f"({nbytes} bytes counted)")
        m = n // 5
        seconds, records, nbytes = end_to_end(writer, "warnings", m)
        print(f"end to end, warning records (decoded one by one): {records} of {m} in {seconds:.3f} s: "
              f"{records / seconds / 1e6:.2f} M records/s, {nbytes / seconds / 1e6:.1f} MB/s of text")


if __name__ == "__main__":
    main()
