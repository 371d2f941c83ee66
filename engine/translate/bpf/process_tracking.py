"""Capture programs of process.begin/.end probes: stap's task finder, from three tracepoints.

stap fires process.begin for every matching process running when the script starts,
for each process forked from a matching one (not under -c/-x, where a child matches
only once it execs) and for each exec of a matching image; process.end when a
matching process ends: its last thread exits, or it execs another image (an exec of
the same image is an end and a new begin). A process matches process("PATH") when it
runs that executable, process(PID) when it is that process as the script starts.

Matching needs the image a process runs, which only the kernel knows for a process
that is gone by the time the runtime reads its record: so each such probe attaches
three programs, to the raw tracepoints sched_process_fork, sched_process_exec and
sched_process_exit, and each writes one record, after the usual header:

    kind (FORK, EXEC, EXIT) | tgid | tid | ppid | dev | ino | live

tgid, tid and ppid are those of the process the event is about (the child of a
fork, which the header, written in the parent, does not describe); dev and ino
identify its executable (task->mm->exe_file's inode), live is how many of its
threads are still alive at exit (0: the process ends). runtime_c/bpf_process.c
keeps the matching processes and decides whether the handler runs, with which
process's context; it also scans /proc for the processes running at start-up.
Field offsets come from the kernel's BTF.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from engine.elaborate.capture_bpf import ProbeCapture, RecordLayout, Slot, capture_program
from engine.elaborate.dwarf_capture import Capture, Step
from engine.translate.bpf.asm import Program
from engine.translate.bpf.disasm import disassemble
from engine.translate.bpf.task import task_offsets
from engine.translate.bpf.uprobe_attach import UserProbe, c_string, program_tables

FORK, EXEC, EXIT = 1, 2, 3
FIELDS = ("kind", "tgid", "tid", "ppid", "dev", "ino", "live")  # struct stp_bpf_process_event
# (kind, raw tracepoint, which argument is the task the record describes)
EVENTS = ((FORK, "sched_process_fork", "arg1"), (EXEC, "sched_process_exec", "arg0"), (EXIT, "sched_process_exit", "arg0"))
_CHAINS = {  # the task_struct member paths each field follows
    "tgid": ("tgid",),
    "tid": ("pid",),
    "ppid": ("real_parent", "tgid"),
    "dev": ("mm", "exe_file", "f_inode", "i_sb", "s_dev"),
    "ino": ("mm", "exe_file", "f_inode", "i_ino"),
    "live": ("signal", "live", "counter"),
}
_UNUSED = {FORK: ("live",), EXEC: ("live",), EXIT: ("dev", "ino")}  # exit_mm() ran before sched_process_exit


class TrackingUnavailable(Exception):
    """This kernel's BTF does not describe what process tracking reads (the message says what)."""


def unavailable() -> str | None:
    """Why process.begin/.end cannot be tracked on this kernel, or None."""
    try:
        _recipes()
    except TrackingUnavailable as problem:
        return str(problem)
    return None


@lru_cache(maxsize=1)
def _recipes() -> dict[str, tuple[Step, ...]]:
    """Per field, the steps from a task_struct pointer to the value."""
    from engine.elaborate.btf import BtfProblem, kernel_btf

    try:
        btf = kernel_btf()
    except (BtfProblem, OSError) as problem:
        raise TrackingUnavailable(f"process tracking needs the kernel's BTF: {problem}") from None
    return {name: _member_steps(btf, chain) for name, chain in _CHAINS.items()}


def _member_steps(btf, chain: tuple[str, ...]) -> tuple[Step, ...]:
    """Add each member's offset; load through pointers and at the final integer."""
    struct = next((t for t in btf.by_name("task_struct") if btf.type(t).kind == "struct"), None)
    if struct is None:
        raise TrackingUnavailable("process tracking needs struct task_struct in the kernel's BTF")
    type_id, steps = struct, []
    for name in chain:
        found = btf.find_member(type_id, name)
        if found is None:
            raise TrackingUnavailable(f"process tracking: the kernel's {btf.type_name(type_id)} has no member '{name}'")
        offset, member = found
        steps.append(Step("add", offset))
        stripped = btf.strip(member.type)
        if stripped.kind == "ptr":
            steps.append(Step("load", 8))
            type_id = stripped.type
        elif stripped.kind in ("struct", "union"):
            type_id = member.type
        else:
            steps.append(Step("load", btf.size_of(member.type)))
    return tuple(steps)


def tracking_layout(kind: int, task_arg: str) -> RecordLayout:
    """The record of one event: FIELDS in order, each read from the task in `task_arg`."""
    recipes = _recipes()
    slots = [Slot(Capture(None, kind))]
    for name in FIELDS[1:]:
        if name in _UNUSED[kind]:
            slots.append(Slot(Capture(None)))
        else:
            slots.append(Slot(Capture(task_arg, steps=recipes[name], source="raw_tracepoint", memory="kernel")))
    return RecordLayout(slots)


@dataclass
class ProcessProbe(UserProbe):
    """A process.begin/.end probe: the exec program is the probe's own, fork and exit its companions."""

    companions: tuple[tuple[str, Program], ...] = ()

    def listing(self) -> str:
        size = self.capture.layout.record_size()
        parts = []
        for tracepoint, program in (("sched_process_exec", self.program), *self.companions):
            parts += [f"/* {tracepoint} program for {self.derived.point} (probe {self.index}, {size}-byte records) */",
                      disassemble(program)]
        return "\n".join(parts)

    def tables(self) -> str:
        name = self.c_name
        data = self.derived.data
        lines = program_tables(name, self.program)
        for tracepoint, program in self.companions:
            lines += program_tables(f"{name}_{tracepoint}", program)
        companions = [f"\t\t{{{c_string(t)}, {name}_{t}_insns, {len(p.insns)}, {name}_{t}_relocs, {len(p.relocations)}}},"
                      for t, p in self.companions]
        path = c_string(data["path"]) if data.get("path") else "NULL"
        lines += [f"static const struct stp_bpf_process {name}_process = {{",
                  f"\t.probe = {self.index}, .end = {int(data['process_lifecycle'] == 'end')}, .path = {path}, "
                  f".pid = {data.get('pid', 0)},",
                  "\t.companions = {", *companions, "\t},", "};",
                  f"static const struct stp_bpf_uprobe {name}_uprobe = {{.process = &{name}_process}};",
                  f"static const struct stp_bpf_probe {name} = {{\n\t.probe_point = {c_string(self.derived.point)}, "
                  f".attach = STP_BPF_RAW_TRACEPOINT, .target = \"sched_process_exec\", .uprobe = &{name}_uprobe,\n"
                  f"\t.insns = {name}_insns, .n_insns = {len(self.program.insns)}, .relocs = {name}_relocs, "
                  f".n_relocs = {len(self.program.relocations)}\n}};"]
        return "\n".join(lines) + "\n"


def plan_process_probe(index: int, derived) -> ProcessProbe:
    """The three programs of `derived` (a process.begin/.end probe), writing records of probe `index`.
    They run only in the -x/-c target's hierarchy when there is one, as stap's task finder."""
    planned = {}
    for kind, tracepoint, task_arg in EVENTS:
        layout = tracking_layout(kind, task_arg)
        planned[tracepoint] = layout, capture_program(layout, index, skip_self=True, task=task_offsets(), in_target=True)
    layout, program = planned.pop("sched_process_exec")
    companions = tuple((tracepoint, program) for tracepoint, (_, program) in planned.items())
    return ProcessProbe(index, derived, ProbeCapture(layout, program, None, [], {"kind": "process"}), [], companions)
