"""Skipped probes: an event the capture program could not put into the full kernel ring
never runs its handler, and stap counts such probes as skipped. The run reports them
with the lost events, and once more than MAXSKIPPED (default 100) were skipped it stops
with stap's error: end probes do not run, error probes do, the status is 1."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.bpf_harness.util import build_workload, pystap, require_kernel_probes

SLOW = (  # handlers slower than the events: a 1 MB ring (-s 1) fills and events are lost
    "global handled, sums\n"
    'probe kernel.trace("syscalls:sys_enter_getpid") { if (pid() == target()) { handled++; for (i = 0; i < 200; i++) sums[i % 7] += i } }\n'
    'probe end { printf("end probe ran: %d\\n", handled > 0 && sums[0] > 0) }\n'
    'probe error { printf("error probe ran: %d\\n", handled > 0 && sums[0] > 0) }\n'
)
POINT = re.escape('kernel.trace("syscalls:sys_enter_getpid")')
TOO_MANY = "ERROR: Skipped too many probes, check MAXSKIPPED or try again with stap -t for more details."


@pytest.fixture(scope="module")
def workload(tmp_path_factory):
    require_kernel_probes()
    return build_workload(tmp_path_factory.mktemp("workload"))


def flood(workload, *options: str):
    return pystap("-s", "1", *options, "-e", SLOW, "-c", f"{workload} counts 0 0 1000000 0")


def counts(stderr: str) -> tuple[int, int]:
    """(events reported lost, probes reported skipped)."""
    lost = re.search(rf"^WARNING: (\d+) records lost \({POINT}\)$", stderr, re.M)
    skipped = re.search(r"^WARNING: Number of errors: 0, skipped probes: (\d+)$", stderr, re.M)
    assert lost and skipped, stderr
    return int(lost.group(1)), int(skipped.group(1))


def test_more_lost_events_than_maxskipped_stop_the_run_with_stap_s_error(workload):
    result = flood(workload, "-DMAXSKIPPED=10")
    assert result.returncode == 1, result.stderr
    assert result.stdout == "error probe ran: 1\n"
    assert result.stderr.splitlines().count(TOO_MANY) == 1, result.stderr
    lost, skipped = counts(result.stderr)
    # records still queued when the run stopped are reported lost too, but they were not skipped
    assert 10 < skipped <= lost
    assert result.stderr.splitlines()[-1] == "Pass 5: run failed.  [man error::pass5]"


def test_maxskipped_is_100_by_default_as_in_stap(workload):
    result = flood(workload)
    assert result.returncode == 1, result.stderr
    assert result.stdout == "error probe ran: 1\n"
    assert TOO_MANY in result.stderr.splitlines(), result.stderr
    lost, skipped = counts(result.stderr)
    assert 100 < skipped <= lost


@pytest.mark.parametrize("option", ["-DMAXSKIPPED=100000000", "--suppress-handler-errors"])
def test_skipped_probes_under_maxskipped_are_reported_and_the_run_ends_normally(workload, option):
    result = flood(workload, option)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "end probe ran: 1\n"
    assert TOO_MANY not in result.stderr
    lost, skipped = counts(result.stderr)
    assert 0 < skipped <= lost


def test_a_run_that_loses_nothing_skips_nothing(workload):
    script = (
        "global n\n"
        'probe kernel.trace("syscalls:sys_enter_getpid") { if (pid() == target()) n++ }\n'
        'probe end { printf("%d\\n", n) }\n'
    )
    result = pystap("-s", "1", "-DMAXSKIPPED=0", "-e", script, "-c", f"{workload} counts 0 0 1000 0")
    assert (result.returncode, result.stdout, result.stderr) == (0, "1000\n", "")


def test_events_after_exit_are_neither_handled_nor_reported_lost(workload):
    """A flood keeps the ring full of events that came after exit(): stap would not run
    their handlers (the session no longer runs), so they are not lost either."""
    flooder = subprocess.Popen([str(workload), "counts", "0", "0", "1000000000", "0"], stdout=subprocess.DEVNULL)
    try:
        script = f'probe syscall.getpid {{ if (pid() == {flooder.pid}) {{ println("first") exit() }} }}'
        for _ in range(3):
            result = pystap("-e", script)
            assert (result.stdout, result.stderr, result.returncode) == ("first\n", "", 0)
    finally:
        flooder.kill()
        flooder.wait()
