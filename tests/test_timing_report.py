"""pystap -t: stap's probe hit report, in CPU cycles, with stap's location and derivation."""

from __future__ import annotations

import platform
import re
import subprocess
import sys

import pytest

from tests.support import REPO, stap_oracle

ENTRY = "import sys; sys.path.insert(0, %r); from engine.cli import entry; entry()" % str(REPO)
UNIT = "cycles" if platform.machine() in ("x86_64", "i686") else "nsecs"
LINE = re.compile(
    r"(?P<pp>.+), \((?P<location>[^()]+)\), hits: (?P<hits>\d+), " + UNIT
    + r": (?P<min>\d+)min/(?P<avg>\d+)avg/(?P<max>\d+)max, variance: (?P<variance>\d+),"
    r"(?P<derivation>( from: [^,]+)+), index: (?P<index>\d+)"
)  # fmt: skip


def pystap(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", ENTRY, *args], capture_output=True, text=True, timeout=120, cwd=REPO)


def report(script: str) -> tuple[list[str], list[re.Match]]:
    """The run's own output lines, and the hit report's probe lines (checked for shape)."""
    proc = pystap("-t", "-e", script)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    start = lines.index("----- probe hit report: ")
    assert lines[-1] == "----- refresh report:"  # stap's; this runtime refreshes no module symbols
    rows = [LINE.fullmatch(line) for line in lines[start + 1 : -1]]
    assert all(rows), lines[start + 1 : -1]
    for row in rows:
        assert int(row["min"]) <= int(row["avg"]) <= int(row["max"])
    return lines[:start], rows


def test_hit_report_counts_every_hit_in_cycles():
    output, rows = report("global n probe timer.ms(1) { if (++n == 3) exit() } probe end { println(n) }")
    assert output == ["3"]
    assert [(r["pp"], r["location"], r["hits"], r["derivation"], r["index"]) for r in rows] == [
        ("timer.ms(1)", "<input>:1:10", "3", " from: timer.ms(1)", "0"),
        ("end", "<input>:1:53", "1", " from: end", "1"),
    ]
    end = rows[1]
    assert end["min"] == end["avg"] == end["max"] and end["variance"] == "0"  # one sample


def test_probes_that_never_ran_are_left_out():
    output, rows = report("probe begin { exit() } probe timer.s(1000) { println(1) } probe end { println(2) }")
    assert output == ["2"]
    assert [(r["pp"], r["hits"], r["index"]) for r in rows] == [("begin", "1", "0"), ("end", "1", "2")]


def test_without_t_there_is_no_report():
    proc = pystap("-e", "probe begin { println(1) exit() }")
    assert (proc.stdout, proc.returncode) == ("1\n", 0)


ORACLE_SCRIPTS = [
    "probe begin, timer.ms(1) { if (++n == 2) exit() } global n probe end { println(n) }",
    "probe b = timer.ms(1) { x = 1 } probe a = b { y = 2 } probe a { println(x + y); exit() }",
    "probe foo1 = timer.ms(1) {} probe foo2 = timer.ms(2) {}\n"
    "global seen probe fo* { seen[pp()] = 1; if (++n == 6) exit() } global n probe end { println(n) }",  # displays seen
    "probe foo = begin {} probe foo, end { println(pp()); exit() }",
]


def _stap_rows(script: str) -> list[tuple[str, str, str]]:
    """(pp, location, derivation) of every probe in the probe table of stap's -t -p3 C."""
    proc = stap_oracle("-t", "-p3", "-e", script)
    assert proc.returncode == 0, proc.stderr
    init = re.compile(r'STAP_PROBE_INIT\(\d+, &\w+, "(.*?)", ".*?", "(.*?)", "(.*?)"\),')
    return sorted(init.findall(proc.stdout))


@pytest.mark.parametrize("script", ORACLE_SCRIPTS)
def test_location_and_derivation_are_stap_s(script):
    """Aliases, wildcards and several points: stap names the innermost alias reference (or
    the `probe` keyword) and the chain of aliases down from the probe's first point."""
    _, rows = report(script)
    assert sorted((r["pp"], r["location"], r["derivation"]) for r in rows) == _stap_rows(script)
