"""The run API for the workbench: launch(), snapshots of globals (scalars, arrays,
statistics with histograms), per-probe statistics, stop(); and procfs probes served
as named pipes."""

from __future__ import annotations

import os
import select
import threading
import time
from pathlib import Path

import pytest

from engine.run import launch
from engine.run.records import ArrayValue, Exit, Output, ProbeStat, RunWarning, Snapshot, Stat
from engine.session import Options, Session

MONITORED = """
global ticks, name = "monitored", counts, lat
probe timer.ms(5) {
  ticks++
  counts[ticks % 3] += 1
  lat <<< ticks
  if (ticks == 1) println("first")
}
probe end { println("end ", ticks > 0, " ", name) }
"""


def built(script: str, **options) -> tuple[Session, object]:
    session = Session(Options(script_text=script, last_pass=4, **options))
    result = session.run_all()
    assert result.ok, [d.format() for d in session.diagnostics()]
    return session, result.artifact


class Collector:
    def __init__(self) -> None:
        self.records: list = []
        self.changed = threading.Condition()

    def __call__(self, record) -> None:
        with self.changed:
            self.records.append(record)
            self.changed.notify_all()

    def wait_for(self, predicate, timeout: float = 60) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: any(predicate(r) for r in self.records), timeout)


def test_snapshots_and_stop():
    session, artifact = built(MONITORED)
    collector = Collector()
    handle = launch(session, artifact, collector)
    handle.set_monitor(50)

    def enough_ticks(record) -> bool:
        return isinstance(record, Snapshot) and record.globals.get("ticks", 0) >= 6

    collector.wait_for(enough_ticks)
    handle.stop()
    assert handle.wait(60) == 0
    handle.close()
    snapshot = next(r for r in collector.records if enough_ticks(r))
    ticks = snapshot.globals["ticks"]
    assert snapshot.globals["name"] == "monitored"
    counts = snapshot.globals["counts"]
    assert isinstance(counts, ArrayValue)
    assert sum(counts.as_dict().values()) == ticks
    assert sorted(counts.as_dict()) == [0, 1, 2]
    lat = snapshot.globals["lat"]
    assert isinstance(lat, Stat)
    assert (lat.count, lat.sum, lat.min, lat.max) == (ticks, ticks * (ticks + 1) // 2, 1, ticks)
    timer_stats = [p for p in snapshot.probes if p.point == "timer.ms(5)"]
    assert len(timer_stats) == 1 and isinstance(timer_stats[0], ProbeStat) and timer_stats[0].hits == ticks
    output = b"".join(r.data for r in collector.records if isinstance(r, Output))
    assert output.startswith(b"first\nend 1 monitored\n")  # then stap's display of unread globals
    assert isinstance(collector.records[-1], Exit) and collector.records[-1].status == 0


def test_histogram_in_snapshot():
    script = "global h probe begin { h <<< 1; h <<< 2; h <<< 3; h <<< 8; print(@hist_log(h)) } probe timer.ms(1) { }"
    session, artifact = built(script)
    collector = Collector()
    handle = launch(session, artifact, collector)
    handle.set_monitor(20)
    collector.wait_for(lambda r: isinstance(r, Snapshot) and "h" in r.globals)
    handle.stop()
    handle.wait(60)
    handle.close()
    stat = next(r for r in collector.records if isinstance(r, Snapshot)).globals["h"]
    assert (stat.count, stat.sum, stat.hist.kind) == (4, 14, 1)
    nonzero = {i: n for i, n in enumerate(stat.hist.buckets) if n}
    assert nonzero == {65: 1, 66: 2, 68: 1}


def _read_fifo(path: Path, timeout: float = 30) -> str:
    """What the runtime serves on a .read pipe, never blocking for more than `timeout`."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    data, deadline, served = b"", time.monotonic() + timeout, False
    try:
        while time.monotonic() < deadline:
            select.select([fd], [], [], 0.1)
            try:
                chunk = os.read(fd, 4096)
            except BlockingIOError:
                continue
            if chunk:
                data, served = data + chunk, True
            elif served:
                return data.decode()
            else:
                time.sleep(0.01)  # no writer yet: end-of-file until the runtime serves us
    finally:
        os.close(fd)
    raise AssertionError(f"nothing served on {path}")


def _write_fifo(path: Path, text: str) -> None:
    """Write to a .write pipe; ENXIO (no reader: the runtime is gone) instead of a hang."""
    fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def test_procfs_read_and_write(tmp_path):
    script = """
global stored = "initial"
probe procfs("state").read { $value = sprintf("stored=%s\\n", stored) }
probe procfs("state").write { stored = $value; if (stored == "quit\\n") exit() }
"""
    session, artifact = built(script)
    collector = Collector()
    os.environ["XDG_RUNTIME_DIR"] = str(tmp_path)
    try:
        handle = launch(session, artifact, collector)
        collector.wait_for(lambda r: isinstance(r, RunWarning) and r.text.startswith("procfs files in "))
    finally:
        del os.environ["XDG_RUNTIME_DIR"]
    directory = Path(next(r for r in collector.records if isinstance(r, RunWarning)).text.split(" in ", 1)[1])
    assert _read_fifo(directory / "state") == "stored=initial\n"
    _write_fifo(directory / "state.write", "changed")  # a name with both .read and .write probes
    deadline = time.monotonic() + 30
    while _read_fifo(directory / "state") != "stored=changed\n":
        assert time.monotonic() < deadline
    _write_fifo(directory / "state.write", "quit\n")
    assert handle.wait(60) == 0
    handle.close()
    assert not directory.exists()


@pytest.mark.parametrize("stops", [1, 2])
def test_stop_twice_kills(stops):
    session, artifact = built("probe begin { println(\"up\") } probe end { println(\"down\") }")
    collector = Collector()
    handle = launch(session, artifact, collector)
    collector.wait_for(lambda r: isinstance(r, Output))
    for _ in range(stops):
        handle.stop()
    status = handle.wait(60)
    handle.close()
    assert status is not None
