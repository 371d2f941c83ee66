"""The kernel capture pipeline end to end below the translator: capture programs
from the Python assembler, loaded, attached to real tracepoints and consumed by
runtime_c/bpf_*.c (through tests/bpf_harness/harness.c), with exact values."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import uuid

import pytest

from engine.elaborate.probes import tracefs
from engine.translate.bpf import plan as P
from engine.translate.bpf.asm import Assembler
from engine.translate.bpf.capture import capture_program
from engine.translate.bpf.isa import R0
from engine.translate.bpf.task import task_offsets
from tests.bpf_harness.util import Harness, build_harness, build_workload, loaded_programs, programs_held_by, require_kernel_probes, wait_until_unloaded
from tests.support import require


@pytest.fixture(scope="module")
def harness_exe(tmp_path_factory):
    require_kernel_probes()
    return build_harness(tmp_path_factory.mktemp("bpf"))


def _plan(system: str, event: str, *specs: tuple[str, str]) -> tuple[P.CapturePlan, list[P.Capture]]:
    """A plan capturing fields of SYSTEM:EVENT; each spec is (field name, capture kind)."""
    fmt = tracefs.event_format(system, event)
    plan = P.CapturePlan()
    captures = []
    for name, kind in specs:
        f = fmt.field(name)
        captures.append(plan.add(P.Capture(f"${name}", kind, f.offset, f.size, f.signed, buffer=512 if kind != P.INT else 0)))
    return plan, captures


def _run(harness_exe, tmp_path, program, target, workload, **kwargs):
    h = Harness(harness_exe, program, "tracepoint", target, tmp_path, **kwargs)
    assert h.attached, h.proc.stderr.read()
    child = subprocess.run(workload, capture_output=True)
    records, lost, err = h.finish()
    assert h.proc.returncode == 0, err
    return records, lost, child


def test_openat_filenames_are_read_at_probe_time(harness_exe, tmp_path):
    plan, (flags, filename) = _plan("syscalls", "sys_enter_openat", ("flags", P.INT), ("filename", P.USER_STRING))
    missing = f"/nonexistent-{uuid.uuid4().hex}"
    child = ["/bin/cat", "/etc/hostname", missing]
    records, lost, _ = _run(harness_exe, tmp_path, capture_program(plan, 0), "syscalls:sys_enter_openat", child)
    mine = [r for r in records if r.comm == "cat" and r.raw[plan.offset_of(filename) + 16 :].startswith(b"/")]
    opened = {r.string(plan.offset_of(filename))[2]: r for r in mine}
    assert lost == 0
    assert b"/etc/hostname" in opened and missing.encode() in opened
    record = opened[b"/etc/hostname"]
    assert record.u64(plan.offset_of(flags)) == os.O_RDONLY
    assert record.string(plan.offset_of(filename))[1] == len("/etc/hostname") + 1
    assert (record.probe, record.pid, record.tid, record.uid, record.gid) == (0, record.pid, record.pid, 0, 0)
    assert opened[b"/etc/ld.so.cache"].u64(plan.offset_of(flags)) == os.O_RDONLY | os.O_CLOEXEC
    assert len({r.pid for r in mine}) == 1


def test_strings_on_pages_not_yet_mapped_fail_in_the_kernel(harness_exe, tmp_path):
    """The case the runtime retries from user space: the kernel cannot fault pages in."""
    workload = build_workload(tmp_path)
    (tmp_path / "path").write_bytes(b"/etc/hostname\0")
    plan, (filename,) = _plan("syscalls", "sys_enter_openat", ("filename", P.USER_STRING))
    records, lost, _ = _run(harness_exe, tmp_path, capture_program(plan, 0), "syscalls:sys_enter_openat", [str(workload), "nonresident", str(tmp_path / "path")])
    mine = [r.string(plan.offset_of(filename)) for r in records if r.comm == "workload"]
    assert [(status, data) for _, status, data in mine] == [(len(str(tmp_path / "path")) + 1, str(tmp_path / "path").encode()), (-errno.EFAULT, b"")]


def test_data_loc_string_and_integer_fields(harness_exe, tmp_path):
    plan, (filename, pid) = _plan("sched", "sched_process_exec", ("filename", P.DATA_LOC), ("pid", P.INT))
    records, lost, _ = _run(harness_exe, tmp_path, capture_program(plan, 3), "sched:sched_process_exec", ["/bin/true"])
    mine = [r for r in records if r.string(plan.offset_of(filename))[2] == b"/bin/true"]
    assert len(mine) == 1 and lost == 0
    assert mine[0].probe == 3
    assert mine[0].u64(plan.offset_of(pid)) == mine[0].pid
    assert mine[0].comm == "true"  # exec has replaced the command name when the event fires


def test_parent_pid_and_effective_ids_from_btf_offsets(harness_exe, tmp_path):
    offsets = task_offsets()
    require(offsets is not None, "kernel BTF with task_struct and cred")
    plan, _ = _plan("syscalls", "sys_enter_getppid")
    h = Harness(harness_exe, capture_program(plan, 0, offsets), "tracepoint", "syscalls:sys_enter_getppid", tmp_path)
    assert h.attached
    child = subprocess.run(["setpriv", "--euid=1234", "--egid=4321", "--clear-groups", "/usr/bin/python3", "-c", "import os; os.getppid()"])
    records, lost, _ = h.finish()
    mine = [r for r in records if r.comm.startswith("python")]
    assert child.returncode == 0 and lost == 0 and mine
    assert {(r.ppid, r.uid, r.euid, r.gid, r.egid, r.flags) for r in mine} == {(os.getpid(), 0, 1234, 0, 4321, 1)}


def test_without_offsets_the_ids_are_left_for_user_space(harness_exe, tmp_path):
    plan, _ = _plan("syscalls", "sys_enter_getppid")
    records, _, _ = _run(harness_exe, tmp_path, capture_program(plan, 0), "syscalls:sys_enter_getppid", [sys.executable, "-c", "import os; os.getppid()"])
    assert records and {(r.ppid, r.euid, r.egid, r.flags) for r in records} == {(0, 0, 0, 0)}


def test_fork_parent_and_child(harness_exe, tmp_path):
    plan, (parent_comm, child_pid) = _plan("sched", "sched_process_fork", ("parent_comm", P.DATA_LOC), ("child_pid", P.INT))
    h = Harness(harness_exe, capture_program(plan, 0), "tracepoint", "sched:sched_process_fork", tmp_path)
    assert h.attached
    child = subprocess.Popen(["/bin/true"])
    child.wait()
    records, lost, _ = h.finish()
    mine = [r for r in records if r.u64(plan.offset_of(child_pid)) == child.pid]
    assert len(mine) == 1 and lost == 0
    comm = open(f"/proc/{os.getpid()}/comm").read().strip()
    assert mine[0].string(plan.offset_of(parent_comm))[2] == comm.encode()
    assert mine[0].pid == os.getpid()


def test_char_array_fields(harness_exe, tmp_path):
    plan, (prev_comm, prev_pid) = _plan("sched", "sched_switch", ("prev_comm", P.CHAR_ARRAY), ("prev_pid", P.INT))
    records, lost, child = _run(
        harness_exe, tmp_path, capture_program(plan, 0), "sched:sched_switch", ["/bin/sh", "-c", "echo $$; exec sleep 0.05"]
    )
    pid = int(child.stdout)
    mine = [r for r in records if r.u64(plan.offset_of(prev_pid)) == pid]
    assert mine and lost == 0
    # the switched-out task is the current one when the event fires
    assert all(r.string(plan.offset_of(prev_comm))[2] == r.comm.encode() and r.tid == pid for r in mine)
    assert b"sleep" in {r.string(plan.offset_of(prev_comm))[2] for r in mine}


def test_a_full_ring_counts_every_lost_record(harness_exe, tmp_path):
    """A one-page ring holds exactly 4096 // (616 + 8) = 6 records; the rest are counted."""
    plan, _ = _plan("syscalls", "sys_enter_getppid")
    plan.add(P.Capture("pad", P.CHAR_ARRAY, 8, 4, buffer=536))
    assert plan.record_size() == 616
    workload = [sys.executable, "-c", "import os\nfor _ in range(100): os.getppid()"]
    records, lost, _ = _run(
        harness_exe, tmp_path, capture_program(plan, 0), "syscalls:sys_enter_getppid", workload,
        ring_bytes=4096, env={"HARNESS_HOLD": "1"},
    )
    assert len(records) == 4096 // (616 + 8)
    assert lost >= 100 - len(records)


def test_verifier_refusal_shows_the_log(harness_exe, tmp_path):
    a = Assembler()
    a.exit()  # returns r0 without setting it
    h = Harness(harness_exe, a.assemble(), "tracepoint", "syscalls:sys_enter_getppid", tmp_path)
    records, lost, err = h.finish()
    assert h.proc.returncode == 1 and not h.attached
    first, *log = err.splitlines()
    assert first == "harness: cannot load the capture program for syscalls:sys_enter_getppid: Permission denied"
    assert log[0] == "verifier log:"
    assert "R0 !read_ok" in "\n".join(log)


def test_unknown_tracepoint_is_reported(harness_exe, tmp_path):
    a = Assembler()
    a.mov(R0, 0)
    a.exit()
    h = Harness(harness_exe, a.assemble(), "tracepoint", "syscalls:no_such_event", tmp_path)
    _, _, err = h.finish()
    assert h.proc.returncode == 1 and h.first_line == ""
    assert err == (
        f"harness: cannot open {tracefs.tracefs_dir()}/events/syscalls/no_such_event/id for tracepoint "
        "syscalls:no_such_event: No such file or directory\n"
    )


def test_format_digest_agrees_between_python_and_c(harness_exe, tmp_path):
    plan, _ = _plan("syscalls", "sys_enter_getppid")
    program = capture_program(plan, 0)
    digest = tracefs.event_format("syscalls", "sys_enter_getppid").digest
    good = Harness(harness_exe, program, "tracepoint", "syscalls:sys_enter_getppid", tmp_path, env={"HARNESS_DIGEST": digest})
    assert good.attached
    good.finish()
    bad = Harness(harness_exe, program, "tracepoint", "syscalls:sys_enter_getppid", tmp_path, env={"HARNESS_DIGEST": "0" * 16})
    _, _, err = bad.finish()
    assert err == (
        "harness: tracepoint syscalls:sys_enter_getppid for probe syscalls:sys_enter_getppid no longer has "
        "the format the script was translated against; translate the script again\n"
    )


def test_nothing_stays_attached_after_kill_9(harness_exe, tmp_path):
    enable = tracefs.tracefs_dir() / "events/syscalls/sys_enter_openat/enable"
    before = enable.read_text()
    plan, _ = _plan("syscalls", "sys_enter_openat", ("filename", P.USER_STRING))
    h = Harness(harness_exe, capture_program(plan, 0), "tracepoint", "syscalls:sys_enter_openat", tmp_path)
    assert h.attached
    held = programs_held_by(h.proc.pid)
    assert len(held) == 1 and loaded_programs()[next(iter(held))] == "stapui_capture"
    h.proc.send_signal(signal.SIGKILL)
    h.proc.wait()
    assert wait_until_unloaded(held) == set()
    assert enable.read_text() == before
