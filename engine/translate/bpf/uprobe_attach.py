"""C for process(...) uprobes and kernel.tracepoint raw tracepoints (pass 3).

These probes are planned from DWARF, SDT notes or BTF by
engine.elaborate.capture_bpf.plan_probe (record layout, capture program, the
companion entry program of a .return probe, the reads a handler makes, where to
attach). This module turns that plan into the tables the runtime attaches
(struct stp_bpf_probe with a struct stp_bpf_uprobe, runtime_c/bpf_uprobe.h) and
into the C a handler uses for each target expression. emit.KernelProbes keeps
these probes in its list next to the tracepoint ones, so records of both kinds
share the ring buffer, the probe numbering and the loss counters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.elaborate import capture_bpf as planner  # a module: capture_bpf imports this package
from engine.elaborate.dwarf_capture import Capture
from engine.elaborate.formats import user_memory_dumps
from engine.parse import ast
from engine.translate.bpf.disasm import disassemble
from engine.translate.bpf.stack import stack_captures

USER_STRING_FUNCTIONS = frozenset(
    {
        "user_string", "user_string2", "user_string_n", "user_string_n2", "user_string_quoted",
        "user_string_n_quoted", "user_string_warn", "user_string2_n_warn", "user_string_n_warn",
    }
)


def is_user_probe(derived: Any) -> bool:
    """True for probes planned here: uprobes (path + offset), raw tracepoints and
    process.begin/.end (process_tracking.py)."""
    data = derived.data
    return "raw_tracepoint" in data or "process_lifecycle" in data or ("path" in data and "offset" in data)


def _reads(derived: Any) -> list[ast.Node]:
    """The target expressions in the order plan_probe numbers its reads."""
    seen: dict[int, ast.Node] = {}
    for value in derived.targets:
        expr = getattr(value, "expr", None) or value
        seen.setdefault(id(expr), expr)
    return list(seen.values())


def target_expression(derived: Any, expr: ast.Node, context: str = "c") -> str:
    """C for `expr` in the handler: an int64_t for integer reads, a const char * otherwise.
    `@entry($x)` is `$x`: pass 2 resolved the operand to its entry value (but
    `@entry(user_string($p))` is a read of its own: the string at the entry)."""
    for number, (node, value) in enumerate(zip(_reads(derived), _values(derived))):
        if node is expr:
            function = "stp_bpf_long" if isinstance(value.capture, Capture) else "stp_bpf_string"
            return f"{function}({context}, {number})"
    if isinstance(expr, ast.EntryOp):
        return target_expression(derived, expr.operand, context)
    raise KeyError("target expression was not resolved for this probe")


def _values(derived: Any) -> list[Any]:
    seen: dict[int, Any] = {}
    for value in derived.targets:
        seen.setdefault(id(getattr(value, "expr", None) or value), value)
    return list(seen.values())


@dataclass
class UserProbe:
    """One uprobe or raw-tracepoint probe of the script, planned and assembled."""

    index: int
    derived: Any
    capture: planner.ProbeCapture
    user_strings: list[int]  # string slots copied for user_string() of a captured pointer

    @property
    def c_name(self) -> str:
        return f"stp_bpf_probe_{self.index}"

    @property
    def program(self):
        return self.capture.program

    def listing(self) -> str:
        size = self.capture.layout.record_size()
        parts = [f"/* capture program for {self.derived.point} (probe {self.index}, {size}-byte records) */",
                 disassemble(self.capture.program)]
        if self.capture.entry_program is not None:
            parts += [f"/* entry program for {self.derived.point} (stashes @entry values) */",
                      disassemble(self.capture.entry_program)]
        return "\n".join(parts)

    def tables(self) -> str:
        name = self.c_name
        lines = program_tables(name, self.capture.program)
        if self.capture.entry_program is not None:
            lines += program_tables(f"{name}_entry", self.capture.entry_program)
        fields, targets = self._target_tables()
        lines += [f"static const struct stp_bpf_field {name}_fields[] = {{", *(fields or ["\t{0},"]), "};"]
        lines += [f"static const struct stp_bpf_target {name}_targets[] = {{", *(targets or ["\t{0},"]), "};"]
        strings = [self._field(slot, "") for slot in self.user_strings]
        lines += [f"static const struct stp_bpf_field {name}_user_strings[] = {{", *(strings or ["\t{0},"]), "};"]
        lines += [self._uprobe(), self._spec()]
        return "\n".join(lines) + "\n"

    def _target_tables(self) -> tuple[list[str], list[str]]:
        fields: list[str] = []
        targets = []
        for read in self.capture.reads:
            first = len(fields)
            if read.form == "long":
                fields.append(self._field(read.slots[0], "", size=read.size, signed=read.signed))
                targets.append(f"\t{{STP_BPF_LONG, &{self.c_name}_fields[{first}], 1, NULL}},")
            elif read.form == "string":
                fields.append(self._field(read.slots[0], ""))
                targets.append(f"\t{{STP_BPF_STRING, &{self.c_name}_fields[{first}], 1, NULL}},")
            elif read.form == "pretty":
                values, trailing = self._template_fields(read)
                fields += values
                start = f"&{self.c_name}_fields[{first}]" if len(fields) > first else "NULL"
                targets.append(f"\t{{STP_BPF_TEMPLATE, {start}, {len(fields) - first}, {c_string(trailing)}}},")
            else:
                targets.append(f"\t{{STP_BPF_CONST, NULL, 0, {c_string(read.text)}}},")
        return fields, targets

    def _template_fields(self, read: planner.Read) -> tuple[list[str], str]:
        """One field per value, named by the text printed before it; and the text after the last."""
        fields, text = [], ""
        for item in read.template:
            if isinstance(item, str):
                text += item
                continue
            slot, fmt = item
            fields.append(self._field(slot, text, decimal=fmt == "%d"))
            text = ""
        return fields, text

    def _field(self, index: int, name: str, size: int = 0, signed: bool = False, decimal: bool = False) -> str:
        slot = self.capture.layout.slots[index]
        offset = self.capture.layout.offset(index)
        user = int(slot.string and slot.capture.memory != "kernel")
        if not slot.string:
            size, signed = size or slot.capture.size, signed or slot.capture.signed
        return (f"\t{{.name = {c_string(name)}, .offset = {offset}, .is_string = {int(slot.string)}, .size = {size}, "
                f".is_signed = {int(signed)}, .is_user = {user}, .is_buffer = {int(slot.dump)}, "
                f".is_decimal = {int(decimal)}}},")

    def _uprobe(self) -> str:
        attach = self.capture.attach
        name = self.c_name
        if attach["kind"] != "uprobe":
            return ""
        entry = self.capture.entry_program
        entry_fields = (
            f".entry_insns = {name}_entry_insns, .n_entry_insns = {len(entry.insns)}, "
            f".entry_relocs = {name}_entry_relocs, .n_entry_relocs = {len(entry.relocations)}, "
            f".entry_offset = {attach['entry_offset']}ULL, "
            if entry is not None else ""
        )
        strings = self.capture.layout.entry_strings()
        if strings:  # the runtime sizes the maps of strings read at entry by this
            entry_fields += f".entry_string_bytes = {planner.MAX_ENTRY_STRINGS * self.capture.layout.slots[strings[0]].size()}, "
        build_id = c_string(attach["build_id"]) if attach.get("build_id") else "NULL"
        return (f"static const struct stp_bpf_uprobe {name}_uprobe = {{.offset = {attach['offset']}ULL, "
                f".ref_ctr_offset = {attach['ref_ctr_offset']}ULL, .retprobe = {int(attach['retprobe'])}, "
                f".pid = {attach['pid']}, "
                f"{entry_fields}.build_id = {build_id}}};")

    def _spec(self) -> str:
        attach = self.capture.attach
        name = self.c_name
        if attach["kind"] == "uprobe":
            where = f".attach = STP_BPF_UPROBE, .target = {c_string(attach['path'])}, .uprobe = &{name}_uprobe"
        else:
            where = f".attach = STP_BPF_RAW_TRACEPOINT, .target = {c_string(attach['name'])}"
        program = self.capture.program
        return (
            f"static const struct stp_bpf_probe {name} = {{\n\t.probe_point = {c_string(self.derived.point)}, {where},\n"
            f"\t.insns = {name}_insns, .n_insns = {len(program.insns)}, .relocs = {name}_relocs, "
            f".n_relocs = {len(program.relocations)},\n"
            f"\t.targets = {name}_targets, .n_targets = {len(self.capture.reads)}, "
            f".user_strings = {name}_user_strings, .n_user_strings = {len(self.user_strings)}\n}};"
        )


def plan_user_probe(index: int, derived: Any, body: ast.Node | None, maxstringlen: int) -> UserProbe:
    """Plan `derived` with capture_bpf, adding a probe-time copy of every string the
    handler reads with user_string() & co from a captured pointer and of the memory its
    printf %#m/%#M prints (the process may have exited, or changed the memory, by the
    time the handler runs), and the stacks its backtrace functions print."""
    if "process_lifecycle" in derived.data:
        from engine.translate.bpf.process_tracking import plan_process_probe  # it builds on UserProbe

        return plan_process_probe(index, derived)
    pointers, dumps = _user_string_pointers(derived, body), _memory_dumps(derived, body)
    stacks = stack_captures(body) if body is not None else []
    capture = planner.plan_probe(derived, index, maxstringlen, extra_strings=pointers, dumps=dumps, stacks=stacks)
    slots = capture.layout.slots
    strings = [slots.index(planner.Slot(c, string=True, buffer=maxstringlen)) for c in pointers]
    strings += [slots.index(planner.Slot(c, string=True, buffer=size, dump=True)) for c, size in dumps]
    return UserProbe(index, derived, capture, strings)


def _memory_dumps(derived: Any, body: ast.Node | None) -> list[tuple[Capture, int]]:
    """(pointer recipe, bytes) for each printf/sprintf %#m/%#M with a written precision
    whose argument is a captured pointer: the bytes are copied with the event, so they
    print as they were at the probe even after the process changed them or exited."""
    if body is None:
        return []
    longs = _pointer_reads(derived)
    found = []
    for node in ast.walk(body):
        if isinstance(node, ast.PrintFormat) and node.name in ("printf", "sprintf") and node.format is not None:
            for at, size in user_memory_dumps(node.format.value):
                pointer = node.args[at] if at < len(node.args) else None
                pointer = pointer.operand if isinstance(pointer, ast.EntryOp) else pointer  # $x in .return
                recipe = longs.get(id(pointer))
                if recipe is not None and (recipe, size) not in found:
                    found.append((recipe, size))
    return found


def _pointer_reads(derived: Any) -> dict[int, Capture]:
    """Target expressions read as 8-byte user-memory integers (pointers), by node id."""
    return {id(node): value.capture for node, value in zip(_reads(derived), _values(derived))
            if isinstance(value.capture, Capture) and value.capture.size == 8 and value.capture.memory != "kernel"}


def _user_string_pointers(derived: Any, body: ast.Node | None) -> list[Any]:
    """Integer recipes passed straight to user_string() & co in the handler (in a return
    probe, entry values: their strings are read at the return, capture_bpf.late_strings)."""
    if body is None:
        return []
    longs = _pointer_reads(derived)
    at_entry = {id(node.operand) for node in ast.walk(body) if isinstance(node, ast.EntryOp)}  # read there
    found = []
    for node in ast.walk(body):
        if isinstance(node, ast.FunctionCall) and node.name in USER_STRING_FUNCTIONS and node.args and id(node) not in at_entry:
            pointer = node.args[0].operand if isinstance(node.args[0], ast.EntryOp) else node.args[0]
            recipe = longs.get(id(pointer))
            if recipe is not None and recipe not in found:
                found.append(recipe)
    return found


def program_tables(name: str, program: Any) -> list[str]:
    """The instructions and relocations of `program` as C arrays `name`_insns, `name`_relocs."""
    lines = [f"static const struct bpf_insn {name}_insns[] = {{"]
    lines += [f"\t{{0x{i.opcode:02x}, {i.dst}, {i.src}, {i.off}, {i.imm}}}," for i in program.insns]
    lines += ["};", f"static const struct stp_bpf_reloc {name}_relocs[] = {{"]
    lines += [f'\t{{{slot}, "{map_name}"}},' for slot, map_name in program.relocations] or ["\t{0},"]
    lines.append("};")
    return lines


def c_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
