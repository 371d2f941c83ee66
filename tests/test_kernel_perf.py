"""perf.sw.* sampling and timer.profile end to end, cross-checked against what the
sampled process measures itself (CPU time, page faults from getrusage)."""

from __future__ import annotations

import os
import re

import pytest

from tests.bpf_harness.util import build_workload, pystap, require_kernel_probes
from tests.support import require


@pytest.fixture(scope="module")
def workload(tmp_path_factory):
    require_kernel_probes()
    require(os.path.exists("/sys/bus/event_source/devices/software"), "software perf events")
    return build_workload(tmp_path_factory.mktemp("workload"))


def _run(workload, script: str, ms: int) -> tuple[dict[str, int], int, int]:
    result = pystap("-e", script, "-c", f"{workload} spin {ms}")
    assert result.returncode == 0, result.stderr
    cpu_ns, faults = map(int, re.search(r"cpu_ns (\d+) faults (\d+)", result.stdout).groups())
    counts = {name: int(value) for name, value in re.findall(r"^(\w+)=(\d+)$", result.stdout, re.M)}
    return counts, cpu_ns, faults


def test_cpu_clock_samples_and_page_faults_match_the_process(workload):
    script = (
        "global samples, faults\n"
        "probe perf.sw.cpu_clock.sample(1000000) { if (pid() == target()) samples++ }\n"
        "probe perf.sw.page_faults.sample(1) { if (pid() == target()) faults++ }\n"
        'probe end { printf("samples=%d\\nfaults=%d\\n", samples, faults) }\n'
    )
    counts, cpu_ns, faults = _run(workload, script, 300)
    expected = cpu_ns / 1_000_000  # one sample per millisecond of the process's CPU time
    assert 0.6 * expected <= counts["samples"] <= 1.5 * expected, (counts, cpu_ns)
    assert abs(counts["faults"] - faults) <= 3, (counts, faults)  # every fault, seen by both sides


def test_timer_profile_ticks_with_the_interrupted_context(workload):
    script = (
        "global ticks, named\n"
        'probe timer.profile { if (pid() == target()) { ticks++; if (execname() == "workload" && tid() == pid()) named++ } }\n'
        'probe end { printf("ticks=%d\\nnamed=%d\\n", ticks, named) }\n'
    )
    counts, cpu_ns, _ = _run(workload, script, 400)
    expected = cpu_ns / 4_000_000  # HZ=250
    assert 0.6 * expected <= counts["ticks"] <= 1.5 * expected, (counts, cpu_ns)
    assert counts["named"] == counts["ticks"]


def test_hardware_events_without_a_pmu_fail_in_pass_2():
    if os.path.exists("/sys/bus/event_source/devices/cpu"):
        pytest.skip("this machine has a PMU")  # the message is for machines without one
    result = pystap("-p2", "-e", "probe perf.hw.cpu_cycles { println(1) }")
    assert result.returncode == 1
    assert (
        "semantic error: perf.hw.cpu_cycles needs a hardware performance-monitoring unit, and this machine has "
        "none (/sys/bus/event_source/devices/cpu is missing; virtual machines usually hide it)"
    ) in result.stderr


def test_listing_names_the_software_events():
    listed = pystap("-l", "perf.sw.*").stdout.split()
    assert listed == sorted(
        f"perf.sw.{name}"
        for name in (
            "cpu_clock task_clock page_faults context_switches cpu_migrations page_faults_min "
            "page_faults_maj alignment_faults emulation_faults"
        ).split()
    )
