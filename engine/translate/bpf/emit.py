"""C for a script's kernel probes: capture programs, record layouts, target reads.

The C emitter (engine/translate) calls this module for every derived probe whose
provider captures in the kernel (`is_kernel_probe`):

- `KernelProbes.add(index, derived, ctx)` plans the probe's record (its `targets`,
  resolved by pass 2, plus strings behind user pointers passed to user_string()),
  assembles its capture program, and returns the C name of its `struct stp_bpf_probe`
  for the `event_spec` of script probe `index` (the index its records carry);
- `target_expression(derived, expr)` is the C expression a handler uses for one target
  expression (`stp_bpf_long(c, 0)`, `stp_bpf_string(c, 2)`); numbering follows the
  order pass 2 resolved them, identical for every derived probe of one handler;
- `declarations()` is every table, to place after `#include "bpf_runtime.h"`;
  `stp_script.start_events`/`stop_events` are `START_EVENTS`/`STOP_EVENTS`;
- `disassembly()` lists each capture program for the engine panel and -p3 -v.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.elaborate.formats import user_memory_dumps
from engine.parse import ast
from engine.translate.bpf import plan as P
from engine.translate.bpf.aggregate_bpf import AggMap, aggregate_program
from engine.translate.bpf.asm import Program
from engine.translate.bpf.capture import capture_program
from engine.translate.bpf.disasm import disassemble
from engine.translate.bpf.stack import stack_captures
from engine.translate.bpf.syscall_btf import SyscallAttach, plan_attach, prologue
from engine.translate.bpf.task import current_task, prepend, task_offsets, task_prologue
from engine.translate.bpf.uprobe_attach import UserProbe, is_user_probe, plan_user_probe
from engine.translate.bpf.uprobe_attach import target_expression as user_target_expression

INCLUDE = '#include "bpf_runtime.h"\n#include "bpf_agg.h"'
START_EVENTS = "stp_bpf_start_events"
STOP_EVENTS = "stp_bpf_stop_events"

# user_string() and friends: their pointer argument's string is copied at probe time.
USER_STRING_FUNCTIONS = frozenset(
    {
        "user_string", "user_string2", "user_string_n", "user_string_n2", "user_string_quoted",
        "user_string_n_quoted", "user_string_warn", "user_string2_n_warn", "user_string_n_warn",
    }
)

# Functions reading a user buffer (pointer argument, length argument): copied at probe time.
USER_BUFFER_FUNCTIONS = {"__sc_buffer_quoted": (1, 2), "_struct_sockaddr_u": (0, 1), "_stp_xattr_val_str": (0, 1)}
# Functions reading a fixed-size structure (pointer argument, bytes): copied at probe time.
USER_STRUCT_FUNCTIONS = {
    "_struct_timespec_u": (0, 16), "_struct_timeval_u": (0, 16), "_stp_sigset_u": (0, 8),
    "_struct_sigaction_u": (0, 32), "_struct_rlimit_u": (0, 16), "_struct_itimerval_u": (0, 32),
    "_struct_itimerspec_u": (0, 32), "_struct_timezone_u": (0, 8),
}
BUFFER_BYTES = 64  # enough for argstr's 50 characters (syscall_string_trunc) and the "..." test

_FORMS = {
    P.LONG_READ: "STP_BPF_LONG",
    P.STRING_READ: "STP_BPF_STRING",
    P.VARS_READ: "STP_BPF_VARS",
    P.PRETTY_READ: "STP_BPF_PRETTY",
    P.CONST_READ: "STP_BPF_CONST",
}


def is_kernel_probe(derived: Any) -> bool:
    """True for derived probes captured by a BPF program (tracepoints, syscalls, perf,
    uprobes and raw tracepoints)."""
    return "tracepoint" in derived.data or "perf_config" in derived.data or is_user_probe(derived)


def target_reads(derived: Any) -> list[tuple[ast.Node, P.TargetRead]]:
    """The probe's target expressions in resolution order, each once."""
    seen: dict[int, tuple[ast.Node, P.TargetRead]] = {}
    for value in derived.targets:
        if id(value.expr) not in seen:
            seen[id(value.expr)] = (value.expr, value.capture)
    return list(seen.values())


def target_expression(derived: Any, expr: ast.Node, context: str = "c") -> str:
    """C for reading `expr` in the handler of `derived` (a long or a const char *)."""
    if is_user_probe(derived):
        return user_target_expression(derived, expr, context)
    for number, (node, read) in enumerate(target_reads(derived)):
        if node is expr:
            function = "stp_bpf_long" if read.form == P.LONG_READ else "stp_bpf_string"
            return f"{function}({context}, {number})"
    raise KeyError("target expression was not resolved for this probe")


@dataclass
class KernelProbe:
    index: int
    derived: Any
    plan: P.CapturePlan
    program: Program
    reads: list[P.TargetRead]
    user_strings: list[P.Capture]
    syscall: SyscallAttach | None = None  # attached to a BTF raw tracepoint (syscall_btf.py)

    @property
    def c_name(self) -> str:
        return f"stp_bpf_probe_{self.index}"


@dataclass
class KernelProbes:
    """The kernel probes of one script, in the order the emitter adds them."""

    maxstringlen: int = 512
    defines: dict[str, str] = field(default_factory=dict)
    crowded: set[str] = field(default_factory=set)  # syscall directions left to perf tracepoints
    probes: list[KernelProbe | UserProbe] = field(default_factory=list)
    attach_notes: list[str] = field(default_factory=list)  # -v: how each syscall probe attaches

    def add(self, index: int, derived: Any, body: ast.Node | None = None, maps: list[AggMap] = ()) -> str:
        """Plan, assemble and remember probe `index`; return `&its_spec` for event_spec.
        With aggregation `maps` its program aggregates in the kernel (aggregate_bpf.py)."""
        if is_user_probe(derived):
            probe = plan_user_probe(index, derived, body or derived.origin, self.maxstringlen)
            if maps:
                probe.capture.program = aggregate_program(derived, index, list(maps), probe.capture.program)
            self.probes.append(probe)
            return "&" + probe.c_name
        plan = P.CapturePlan()
        reads = [read for _, read in target_reads(derived)]
        for read in reads:
            for capture in read.captures:
                plan.add(capture)
        user_strings = [plan.add(c) for c in self._user_strings(derived, body or derived.origin)]
        plan.captures += stack_captures(body or derived.origin)  # last: the runtime finds them from the end
        syscall, note = plan_attach(derived, plan, self.crowded, self.defines)
        if note:
            self.attach_notes.append(note)
        current = current_task() if self.holds_task(derived) else None
        start = prologue(syscall) if syscall else task_prologue() if current else None
        program = capture_program(plan, index, task_offsets(), current)
        if maps:
            program = aggregate_program(derived, index, list(maps), program, start, current)
        elif start:
            program = prepend(start, program)
        probe = KernelProbe(index, derived, plan, program, reads, user_strings, syscall)
        self.probes.append(probe)
        return "&" + probe.c_name

    def holds_task(self, derived: Any) -> bool:
        """Whether the programs of `derived` keep the task in TASK_REGISTER (task.py):
        tracepoints' do, where the kernel has bpf_get_current_task_btf()."""
        return "tracepoint" in derived.data and current_task() is not None

    def _user_strings(self, derived: Any, body: ast.Node | None) -> list[P.Capture]:
        """Pointer fields passed straight to user_string() & co (and buffer readers, and
        printf's %#m/%#M): copy what they point at too."""
        if body is None:
            return []
        longs = {id(node): read.captures[0] for node, read in target_reads(derived) if read.form == P.LONG_READ}
        captures = []
        for node in ast.walk(body):
            if isinstance(node, ast.PrintFormat) and node.name in ("printf", "sprintf") and node.format is not None:
                for at, size in user_memory_dumps(node.format.value):
                    pointer = longs.get(id(node.args[at])) if at < len(node.args) else None
                    if pointer is not None and pointer.size == 8:
                        captures.append(P.Capture(pointer.name, P.USER_BUFFER, pointer.ctx_offset, 8, buffer=size))
            if not isinstance(node, ast.FunctionCall):
                continue
            if node.name in USER_STRING_FUNCTIONS and node.args:
                pointer = longs.get(id(node.args[0]))
                if pointer is not None and pointer.size == 8:
                    captures.append(P.Capture(pointer.name, P.USER_STRING, pointer.ctx_offset, 8, buffer=self.maxstringlen))
            if node.name in USER_BUFFER_FUNCTIONS and len(node.args) > max(USER_BUFFER_FUNCTIONS[node.name]):
                at, length_at = USER_BUFFER_FUNCTIONS[node.name]
                pointer, length = longs.get(id(node.args[at])), longs.get(id(node.args[length_at]))
                if pointer is not None and length is not None and pointer.size == 8 and length.size in (4, 8):
                    captures.append(
                        P.Capture(
                            pointer.name, P.USER_BUFFER, pointer.ctx_offset, 8, buffer=BUFFER_BYTES,
                            length_offset=length.ctx_offset, length_size=length.size,
                        )
                    )
            if node.name in USER_STRUCT_FUNCTIONS and len(node.args) > USER_STRUCT_FUNCTIONS[node.name][0]:
                at, size = USER_STRUCT_FUNCTIONS[node.name]
                pointer = longs.get(id(node.args[at]))
                if pointer is not None and pointer.size == 8:
                    captures.append(P.Capture(pointer.name, P.USER_BUFFER, pointer.ctx_offset, 8, buffer=size))
        return captures

    def declarations(self) -> str:
        return "\n".join(p.tables() if isinstance(p, UserProbe) else _probe_tables(p) for p in self.probes)

    def disassembly(self) -> str:
        parts = []
        for probe in self.probes:
            if isinstance(probe, UserProbe):
                parts.append(probe.listing())
                continue
            size = probe.plan.record_size()
            attach = f", {probe.syscall.direction} syscall {probe.syscall.number}" if probe.syscall else ""
            parts.append(f"/* capture program for {probe.derived.point} (probe {probe.index}, {size}-byte records{attach}) */")
            parts.append(disassemble(probe.program))
        return "\n".join(parts)


def _probe_tables(probe: KernelProbe) -> str:
    name = probe.c_name
    lines = [f"static const struct bpf_insn {name}_insns[] = {{"]
    lines += [f"\t{{0x{i.opcode:02x}, {i.dst}, {i.src}, {i.off}, {i.imm}}}," for i in probe.program.insns]
    lines.append("};")
    lines.append(f"static const struct stp_bpf_reloc {name}_relocs[] = {{")
    lines += [f'\t{{{slot}, "{map_name}"}},' for slot, map_name in probe.program.relocations]
    lines.append("};")
    fields, targets = _target_tables(probe)
    lines.append(f"static const struct stp_bpf_field {name}_fields[] = {{")
    lines += fields or ["\t{0},"]
    lines.append("};")
    lines.append(f"static const struct stp_bpf_target {name}_targets[] = {{")
    lines += targets or ["\t{0},"]
    lines.append("};")
    lines.append(f"static const struct stp_bpf_field {name}_user_strings[] = {{")
    lines += [_field(probe.plan, c, c.name, user=True) for c in probe.user_strings] or ["\t{0},"]
    lines.append("};")
    lines.append(_spec(probe))
    return "\n".join(lines) + "\n"


def _target_tables(probe: KernelProbe) -> tuple[list[str], list[str]]:
    fields, targets = [], []
    for read in probe.reads:
        first = len(fields)
        names = read.names or tuple(c.name.lstrip("$") for c in read.captures)
        fields += [_field(probe.plan, c, n) for c, n in zip(read.captures, names)]
        text = _c_string(read.text) if read.form == P.CONST_READ else "NULL"
        start = f"&{probe.c_name}_fields[{first}]" if read.captures else "NULL"
        targets.append(f"\t{{{_FORMS[read.form]}, {start}, {len(read.captures)}, {text}}},")
    return fields, targets


def _field(plan: P.CapturePlan, capture: P.Capture, name: str, user: bool = False) -> str:
    is_string = int(capture.kind != P.INT)
    size = capture.size if capture.kind == P.INT else 0
    return (
        f"\t{{{_c_string(name)}, {plan.offset_of(capture)}, {is_string}, {size}, {int(capture.signed)}, "
        f"{int(user or capture.kind == P.USER_STRING)}, {int(capture.kind == P.USER_BUFFER)}}},"
    )


def _spec(probe: KernelProbe) -> str:
    data = probe.derived.data
    name = probe.c_name
    syscall = ""
    if probe.syscall:
        attach = f'STP_BPF_SYSCALL_BTF, {_c_string(data["tracepoint"])}, {_c_string(data["format digest"])}, 0, 0, 0'
        syscall = f", NULL, {probe.syscall.btf_id}, {_c_string(probe.syscall.kernel)}"
    elif "tracepoint" in data:
        attach = f'STP_BPF_TRACEPOINT, {_c_string(data["tracepoint"])}, {_c_string(data["format digest"])}, 0, 0, 0'
    else:
        attach = f'STP_BPF_PERF_EVENT, NULL, NULL, {data["perf_config"]}, {data["perf_period"]}, {data["perf_type"]}'
    counts = (
        f"{name}_insns, {len(probe.program.insns)}, {name}_relocs, {len(probe.program.relocations)}, "
        f"{name}_targets, {len(probe.reads)}, {name}_user_strings, {len(probe.user_strings)}{syscall}"
    )
    return f"static const struct stp_bpf_probe {name} = {{\n\t{_c_string(probe.derived.point)}, {attach},\n\t{counts}\n}};"


def _c_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
