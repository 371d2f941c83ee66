"""BPF capture programs for uprobe and raw-tracepoint probes, from `Capture` recipes.

The tracepoint pipeline (engine/translate/bpf/capture.py) copies fields at fixed
offsets of a tracepoint record; probes planned from DWARF, SDT notes or BTF instead
start from a register (struct pt_regs) or a raw-tracepoint argument and follow
pointers. This module emits that, with the same assembler and the same record
header, so the runtime's ring-buffer consumer reads both alike:

    record = header (64 bytes) | one 8-byte slot per integer | string slots | stacks

An integer slot holds the recipe's final value (zero-extended; the reader sign-
extends from `size` when `signed`). A string slot is the runtime's struct
stp_bpf_string: address, status (length incl. NUL or -errno), then the bytes; a
memory dump (printf's %#m/%#M) is the same slot holding a fixed number of bytes
(status 0 or -errno, `reserved` the byte count), as the tracepoint pipeline's user
buffers. Memory reads go through bpf_probe_read_user/kernel into the slot itself,
which is zeroed first, so a failed read leaves 0 rather than stale bytes. Stacks
(bpf_get_stack, for the backtrace functions) end the record, kernel before user, as
in tracepoint records, so runtime_c/stack_record.c finds them from the end; the user
stack comes with its modules, as there (engine/translate/bpf/stack.py).

Entry values (`@entry($x)`, and every `$x` of a .return probe) are captured by a
companion program at the function's entry (`entry_program`) into the hash map
"entry", keyed by pid_tgid; the return probe's program copies them into its record
and deletes the key, so recursion deeper than one level keeps the innermost call's
values (as a per-thread stash does). Strings read at the entry
(`@entry(user_string($s))`) go the same way through "entry_strings", built in this
CPU's "entry_scratch" value (a string slot is too big for the stack).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.elaborate.dwarf_capture import Capture, EntryString, PrettyPlan
from engine.elaborate.elf import REGISTERS
from engine.translate.bpf import plan as P
from engine.translate.bpf.asm import Assembler, Program
from engine.translate.bpf.capture import (  # shared with tracepoint programs
    STACK_FLAGS,
    _skip_own_process,
    stack,
    reserve_record,
    stack_written,
    submit_record,
)
from engine.translate.bpf.isa import FP, R0, R1, R2, R3, R4, R6, R7, R8, R9, Reg
from engine.translate.bpf.plan import HEADER_SIZE, STRING_HEADER
from engine.translate.bpf.task import TaskOffsets, task_offsets

PROG_TYPE_KPROBE = 2  # uprobes and uretprobes run BPF_PROG_TYPE_KPROBE programs
PROG_TYPE_RAW_TRACEPOINT = 17
MAX_ENTRY_VALUES = 8  # the "entry" map's value: this many u64s
MAX_ENTRY_STRINGS = 2  # the "entry_strings" map's value: this many string slots
_KEY = -8  # stack offset of the pid_tgid key
_ENTRY_VALUES = _KEY - 8 * MAX_ENTRY_VALUES  # stack offset of the entry values being built


@dataclass(frozen=True)
class Slot:
    """One value in the record: an integer recipe, or a string (or, with `dump`, exactly
    `buffer` bytes) read at the recipe's value."""

    capture: Capture
    string: bool = False
    buffer: int = 0  # string bytes (MAXSTRINGLEN), or the bytes of a dump
    read_at_entry: bool = False  # a string of @entry(user_string(...)): read when the function is entered
    dump: bool = False  # bytes for printf's %#m/%#M, not a NUL-terminated string

    def size(self) -> int:
        return STRING_HEADER + ((self.buffer + 7) & ~7) if self.string else 8


@dataclass
class RecordLayout:
    slots: list[Slot] = field(default_factory=list)
    stacks: list[P.Capture] = field(default_factory=list)  # engine/translate/bpf/stack.py, after the slots

    def add(self, slot: Slot) -> int:
        """The slot's index (an identical slot is shared)."""
        if slot.string and slot.capture.at_entry and not slot.read_at_entry:
            self.add(Slot(slot.capture))  # the stashed pointer a late string is read from
        if slot not in self.slots:
            self.slots.append(slot)
        return self.slots.index(slot)

    def offset(self, index: int) -> int:
        return HEADER_SIZE + sum(s.size() for s in self.slots[:index])

    def record_size(self) -> int:
        return self.offset(len(self.slots)) + sum(s.slot_size() for s in self.stacks)

    def entry_slots(self) -> list[int]:
        """Indexes of the slots captured at function entry, in stash order."""
        return [i for i, s in enumerate(self.slots) if s.capture.at_entry and not s.string]

    def late_strings(self) -> list[int]:
        """Strings behind an entry value (user_string($s) in a return probe): stap reads
        them when the handler runs, at the return, so they are read then, from the
        stashed pointer (the integer slot of the same recipe)."""
        return [i for i, s in enumerate(self.slots) if s.capture.at_entry and s.string and not s.read_at_entry]

    def entry_strings(self) -> list[int]:
        """Strings read at the function's entry (@entry(user_string($s))), in stash order."""
        return [i for i, s in enumerate(self.slots) if s.read_at_entry]


class CaptureError(Exception):
    """A recipe this program generator cannot emit (the message says which part)."""


def capture_program(layout: RecordLayout, probe_index: int, probe_address: int | None = None,
                    skip_self: bool = False, task: TaskOffsets | None = None, in_target: bool = False,
                    user_regs: bool = False) -> Program:
    """Reserve a record, fill the header, run each slot's recipe, submit (or count a loss).

    `probe_address` is the probe's link-time address, for recipes relative to the load
    address (globals of position-independent files): at an entry uprobe the interrupted
    %rip is the probe's address in the process, so load base = rip - probe_address.
    `skip_self` ignores the runtime's own events (system-wide raw tracepoints, which
    its handlers would otherwise feed). `task` offsets let the header carry the parent
    pid and effective ids; with them, `in_target` captures only in the -x/-c target's
    process hierarchy when the runtime has one (`_in_target`). `user_regs`: the context
    holds the registers of user code (a uprobe), so the kernel stack is the task's."""
    a = Assembler()
    a.mov(R6, R1)  # the context: struct pt_regs * or the raw tracepoint's u64 args
    if skip_self:
        _skip_own_process(a)
    if task is not None and in_target:
        _in_target(a, task)
    reserve_record(a, layout.record_size(), probe_index, task)
    entry, late, strings = layout.entry_slots(), layout.late_strings(), layout.entry_strings()
    for index, slot in enumerate(layout.slots):
        if index not in entry and index not in late and index not in strings:
            _slot(a, slot, R7, layout.offset(index), probe_address)
    if entry:
        _unstash(a, "entry", [layout.offset(i) for i in entry], 8)
    if strings:
        _unstash(a, "entry_strings", [layout.offset(i) for i in strings], layout.slots[strings[0]].size())
    for index in late:
        slot = layout.slots[index]
        a.load(R1, R7, layout.offset(layout.slots.index(Slot(slot.capture))), 8)
        _bytes(a, slot, layout.offset(index))
    offset = layout.offset(len(layout.slots))
    for capture in layout.stacks:
        if capture.kind == P.KERNEL_STACK and user_regs:
            _kernel_stack_at_trap(a, offset)
        else:
            stack(a, capture, offset)
        offset += capture.slot_size()
    submit_record(a, probe_index, layout.record_size())
    return a.assemble()


TARGET_DEPTH = 16  # ancestors looked at for the target process (stap: its process hierarchy)


def _in_target(a: Assembler, task: TaskOffsets) -> None:
    """Go on only if the runtime's "target" map holds 0 (no -x/-c) or the tgid of the
    current task or of one of its TARGET_DEPTH nearest ancestors (0xffffffff: the -c
    command has not started yet, so nothing matches)."""
    a.store(FP, -4, 0, 4)
    a.load_map(R1, "target")
    a.mov(R2, FP)
    a.alu("+=", R2, -4)
    a.call("map_lookup_elem")
    a.jump_if("==", R0, 0, "out")
    a.load(R9, R0, 0, 4)
    a.jump_if("==", R9, 0, "in_target")
    a.call("get_current_task")
    a.mov(R8, R0)
    for _ in range(TARGET_DEPTH):
        _read_task_field(a, task.tgid, 4)
        a.load(R1, FP, -16, 4)
        a.jump_if("==", R1, R9, "in_target")
        _read_task_field(a, task.real_parent, 8)
        a.load(R8, FP, -16, 8)
        a.jump_if("==", R8, 0, "out")
    a.jump("out")
    a.label("in_target")


def _read_task_field(a: Assembler, offset: int, size: int) -> None:
    """*(fp - 16) = the `size`-byte field at `offset` of the task at r8 (zero if unreadable)."""
    a.store(FP, -16, 0, 8)
    a.mov(R1, FP)
    a.alu("+=", R1, -16)
    a.mov(R2, size)
    a.mov(R3, R8)
    a.alu("+=", R3, offset)
    a.call("probe_read_kernel")


def _kernel_stack_at_trap(a: Assembler, offset: int) -> None:
    """The kernel stack of a uprobe: the registers a uprobe program gets are the user
    ones, so bpf_get_stack finds no kernel frames; the task's own kernel stack, taken
    in the program, is the path from the breakpoint trap to this probe, what stap's
    backtrace() prints in a user-space probe (its handler's kernel stack)."""
    a.call("get_current_task_btf")
    a.mov(R1, R0)
    a.mov(R2, R7)
    a.alu("+=", R2, offset + 8)
    a.mov(R3, P.STACK_SLOT - 8)
    a.mov(R4, 0)
    a.call("get_task_stack")
    stack_written(a, STACK_FLAGS[P.KERNEL_STACK], offset)


def entry_program(layout: RecordLayout, probe_address: int | None = None) -> Program:
    """At the function's entry: compute the return probe's entry values, stash them by thread."""
    entry, strings = layout.entry_slots(), layout.entry_strings()
    if len(entry) > MAX_ENTRY_VALUES:
        raise CaptureError(f"at most {MAX_ENTRY_VALUES} integer entry values per return probe")
    if len(strings) > MAX_ENTRY_STRINGS:
        raise CaptureError(f"at most {MAX_ENTRY_STRINGS} @entry(user_string(...)) per return probe")
    a = Assembler()
    a.mov(R6, R1)
    _key(a)
    if entry:
        for position, index in enumerate(entry):
            _slot(a, layout.slots[index], FP, _ENTRY_VALUES + 8 * position, probe_address)
        _stash(a, "entry", FP, _ENTRY_VALUES)
    if strings:
        _stash_strings(a, [layout.slots[i] for i in strings], probe_address)
    a.label("out")
    a.mov(R0, 0)
    a.exit()
    return a.assemble()


def _stash(a: Assembler, map_name: str, base: Reg, offset: int) -> None:
    """map_name[this thread] = the value at base+offset."""
    a.mov(R3, base)
    a.alu("+=", R3, offset)
    a.mov(R4, 0)  # BPF_ANY
    _by_thread(a, map_name, "map_update_elem")


def _stash_strings(a: Assembler, slots: list[Slot], probe_address: int | None) -> None:
    """Read the strings into this CPU's "entry_scratch" value (too big for the stack),
    then stash that by thread in "entry_strings"; each as a record's string slot."""
    a.store(FP, _ENTRY_VALUES - 8, 0, 4)
    a.load_map(R1, "entry_scratch")
    a.mov(R2, FP)
    a.alu("+=", R2, _ENTRY_VALUES - 8)
    a.call("map_lookup_elem")
    a.jump_if("==", R0, 0, "out")
    a.mov(R7, R0)
    for position, slot in enumerate(slots):
        _slot(a, slot, R7, position * slot.size(), probe_address)
    _stash(a, "entry_strings", R7, 0)


def _key(a: Assembler) -> None:
    a.call("get_current_pid_tgid")
    a.store(FP, _KEY, R0, 8)


def _unstash(a: Assembler, map_name: str, offsets: list[int], size: int) -> None:
    """Copy this thread's values stashed at the entry in `map_name`, `size` bytes each,
    into the record at `offsets`, then drop them; if there are none, zeros (an integer
    0, an empty string slot)."""
    _key(a)
    _by_thread(a, map_name, "map_lookup_elem")
    a.jump_if("==", R0, 0, f"no_{map_name}")
    a.mov(R8, R0)
    for position, offset in enumerate(offsets):
        if size == 8:
            a.load(R1, R8, 8 * position, 8)
            a.store(R7, offset, R1, 8)
            continue
        a.mov(R1, R7)
        a.alu("+=", R1, offset)
        a.mov(R2, size)
        a.mov(R3, R8)
        a.alu("+=", R3, position * size)
        a.call("probe_read_kernel")
    _by_thread(a, map_name, "map_delete_elem")
    a.jump(f"{map_name}_done")
    a.label(f"no_{map_name}")
    for offset in offsets:
        for word in range(0, min(size, STRING_HEADER), 8):
            a.store(R7, offset + word, 0, 8)
    a.label(f"{map_name}_done")


def _by_thread(a: Assembler, map_name: str, helper: str) -> None:
    """helper(map_name, &this thread's key)."""
    a.load_map(R1, map_name)
    a.mov(R2, FP)
    a.alu("+=", R2, _KEY)
    a.call(helper)


def _slot(a: Assembler, slot: Slot, base: Reg, offset: int, probe_address: int | None) -> None:
    """Run the slot's recipe, leaving its value at base+offset (the record, or the stack)."""
    capture = slot.capture
    a.store(base, offset, 0, 8)
    _start(a, capture, probe_address)
    for step in capture.steps:
        if step.kind == "add":
            if step.amount:
                a.alu("+=", R1, step.amount)
        else:
            _read(a, capture.memory, base, offset, step.amount)
    if slot.string:
        _bytes(a, slot, offset)
    else:
        a.store(base, offset, R1, 8)


def _start(a: Assembler, capture: Capture, probe_address: int | None) -> None:
    """R1 = the recipe's starting value (register or raw-tracepoint argument) + offset."""
    if capture.load_base:
        if probe_address is None or capture.source != "pt_regs":
            raise CaptureError("a global of a position-independent file needs the probe's address "
                               "to find the load address (not available in return probes)")
        a.load(R1, R6, REGISTERS["rip"].pt_regs, 8)
        a.alu("+=", R1, capture.offset - probe_address)
        return
    if capture.register is None:
        a.mov(R1, 0)
    elif capture.source == "raw_tracepoint":
        a.load(R1, R6, 8 * int(capture.register[3:]), 8)
    else:
        a.load(R1, R6, REGISTERS[capture.register].pt_regs, 8)
    if capture.offset:
        a.alu("+=", R1, capture.offset)


def _read(a: Assembler, memory: str, base: Reg, offset: int, size: int) -> None:
    """R1 = *(u<size> *)R1 from user or kernel memory, through the zeroed slot at base+offset."""
    a.mov(R3, R1)
    a.store(base, offset, 0, 8)
    a.mov(R1, base)
    a.alu("+=", R1, offset)
    a.mov(R2, size)
    a.call("probe_read_kernel" if memory == "kernel" else "probe_read_user")
    a.load(R1, base, offset, size)


def _bytes(a: Assembler, slot: Slot, offset: int) -> None:
    """The string (or dump) slot at `offset` of the record, read at the address in R1:
    address, status (string length with its NUL, or 0 for a dump; -errno), bytes; a
    dump's reserved word holds its byte count (struct stp_bpf_string)."""
    user = slot.capture.memory != "kernel"
    a.store(R7, offset, R1, 8)
    a.mov(R3, R1)
    a.mov(R1, R7)
    a.alu("+=", R1, offset + STRING_HEADER)
    a.mov(R2, slot.buffer)
    if slot.dump:
        a.store(R7, offset + 12, slot.buffer, 4)
        a.call("probe_read_user" if user else "probe_read_kernel")
    else:
        a.call("probe_read_user_str" if user else "probe_read_kernel_str")
    a.store(R7, offset + 8, R0, 4)


# ---------------------------------------------------------------------------
# One derived probe, planned whole: what the pass-3 pipeline needs to attach and decode


@dataclass
class Read:
    """How a handler gets one target expression from the record.

    form "long": the integer in `slots[0]` (sign-extend from `size` when `signed`);
    "string": the string slot `slots[0]` (@entry(user_string(...)));
    "pretty": `template` items are text or (slot, format) with format "%d", "%#x" or
    "string" (the string slot, printed quoted); "const": `text` itself.
    """

    form: str
    slots: list[int] = field(default_factory=list)
    size: int = 8
    signed: bool = False
    template: list = field(default_factory=list)
    text: str = ""


@dataclass
class ProbeCapture:
    layout: RecordLayout
    program: Program
    entry_program: Program | None  # for .return probes with entry values
    reads: list[Read]  # one per target expression, in the order pass 2 resolved them
    attach: dict  # see `attach_spec`


def plan_probe(derived, probe_index: int, maxstringlen: int = 512, extra_strings: list[Capture] = (),
               dumps: list[tuple[Capture, int]] = (), stacks: list[P.Capture] = ()) -> ProbeCapture:
    """Lay out, assemble and describe `derived` (a process(...) or kernel.tracepoint probe)
    from the TargetValues pass 2 recorded in `derived.targets`; `extra_strings` are
    pointer recipes whose strings are copied too (user_string() of a target value),
    `dumps` (pointer recipe, bytes) the memory printf's %#m/%#M prints, and `stacks`
    the stacks the handler's backtrace functions need."""
    layout = RecordLayout(stacks=list(stacks))
    reads, seen = [], set()
    for value in derived.targets:
        key = id(getattr(value, "expr", None) or value)
        if key not in seen:
            seen.add(key)
            reads.append(_read_for(layout, value.capture, maxstringlen))
    for recipe in extra_strings:
        layout.add(Slot(recipe, string=True, buffer=maxstringlen))
    for recipe, size in dumps:
        layout.add(Slot(recipe, string=True, buffer=size, dump=True))
    attach = attach_spec(derived)
    address = attach.get("address") if not attach.get("retprobe") else None
    uprobe = attach["kind"] == "uprobe"
    program = capture_program(layout, probe_index, address, skip_self=True, task=task_offsets(),
                              in_target=uprobe, user_regs=uprobe)
    stashes = layout.entry_slots() or layout.entry_strings()
    entry = entry_program(layout, attach["entry_address"]) if stashes else None
    return ProbeCapture(layout, program, entry, reads, attach)


def _read_for(layout: RecordLayout, capture, maxstringlen: int) -> Read:
    if isinstance(capture, Capture):
        return Read("long", [layout.add(Slot(capture))], capture.size, capture.signed)
    if isinstance(capture, PrettyPlan):
        template = []
        for item in capture.items:
            if isinstance(item, str):
                template.append(item)
            else:
                recipe, fmt = item
                slot = Slot(recipe, string=True, buffer=maxstringlen) if fmt == "string" else Slot(recipe)
                template.append((layout.add(slot), fmt))
        return Read("pretty", template=template)
    if isinstance(capture, EntryString):
        return Read("string", [layout.add(Slot(capture.pointer, string=True, buffer=maxstringlen, read_at_entry=True))])
    return Read("const", text=str(capture))


def attach_spec(derived) -> dict:
    """Where and how to attach: a uprobe through the uprobe PMU, or a raw tracepoint by name.

    uprobe: path, offset (file offset), retprobe, pid (process(PID): only that
    process; 0 for every one), ref_ctr_offset (SDT semaphore, 0 if none), build_id
    (compare before attaching: elf.changed_since), address (link-time, for load-base
    recipes) and, for .return probes, entry_offset/entry_address where the companion
    entry program runs. raw_tracepoint: name."""
    data = derived.data
    if "raw_tracepoint" in data:
        return {"kind": "raw_tracepoint", "name": data["raw_tracepoint"]}
    spec = {
        "kind": "uprobe",
        "path": data["path"],
        "offset": data["offset"],
        "retprobe": bool(derived.is_return),
        "pid": data.get("pid", 0),
        "ref_ctr_offset": data.get("semaphore_offset", 0),
        "build_id": data.get("build_id"),
        "address": int(data["address"], 16),
    }
    if "entry_offset" in data:
        spec.update(entry_offset=data["entry_offset"], entry_address=int(data["entry_address"], 16))
    return spec
