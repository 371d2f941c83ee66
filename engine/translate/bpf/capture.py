"""Generate a probe's capture program from its capture plan.

The program reserves one ring-buffer record of the plan's fixed size, fills the
header from BPF helpers, copies each planned value, and submits. When the ring is
full it counts the loss in the per-probe `lost` array instead. Registers: r6 holds
the program context (the tracepoint record), r7 the reserved record. The runtime's
own pid is patched in at load time (relocation RUNTIME_PID).
"""

from __future__ import annotations

from engine.translate.bpf import plan as P
from engine.translate.bpf.asm import RING_QUARTER, RUNTIME_PID, Assembler, Program
from engine.translate.bpf.isa import FP, R0, R1, R2, R3, R4, R6, R7, R8
from engine.translate.bpf.task import TASK_REGISTER, CurrentTask, TaskOffsets, copy_comm

_HEADER_HELPERS = (  # (helper, record offset, store size)
    ("get_smp_processor_id", 4, 4),
    ("get_current_pid_tgid", 8, 8),
    ("get_current_uid_gid", 16, 8),
    ("ktime_get_ns", 24, 8),
)
_COMM_OFFSET = 32
_PPID_OFFSET, _EUID_OFFSET, _EGID_OFFSET, _FLAGS_OFFSET = 48, 52, 56, 60
TASK_IDS_CAPTURED = 1  # header flag: ppid/euid/egid were read from the task
# header flags: the record ends in that stack slot (the modules precede the stacks)
STACK_FLAGS = {P.KERNEL_STACK: 2, P.USER_STACK: 4, P.USER_MODULES: 8}
_BPF_F_USER_STACK, _BPF_F_USER_BUILD_ID = 1 << 8, 1 << 11
_STACK_HELPER_FLAGS = {
    P.KERNEL_STACK: 0,
    P.USER_STACK: _BPF_F_USER_STACK,
    P.USER_MODULES: _BPF_F_USER_STACK | _BPF_F_USER_BUILD_ID,
}
_BPF_RB_NO_WAKEUP, _BPF_RB_FORCE_WAKEUP = 1, 2  # bpf_ringbuf_submit flags
_BPF_RB_AVAIL_DATA = 0  # bpf_ringbuf_query flag
_RINGBUF_HEADER = 8  # the kernel's header before each record (BPF_RINGBUF_HDR_SZ)


def capture_program(plan: P.CapturePlan, probe_index: int, task: TaskOffsets | None = None,
                    current: CurrentTask | None = None) -> Program:
    """The straight-line BPF program that captures one record for probe `probe_index`;
    with `task` offsets it also reads the parent pid and effective ids of the task.
    With `current`, a prologue has left the task in TASK_REGISTER (task.py): the header
    is read from it."""
    a = Assembler()
    a.mov(R6, R1)
    _skip_own_process(a, current)
    reserve_record(a, plan.record_size(), probe_index, task, current)
    for capture in plan.captures:
        _CAPTURERS[capture.kind](a, capture, plan.offset_of(capture))
    submit_record(a, probe_index, plan.record_size())
    return a.assemble()


def reserve_record(a: Assembler, size: int, probe_index: int, task: TaskOffsets | None,
                   current: CurrentTask | None = None) -> None:
    """Reserve a `size`-byte record in R7 and write its header; a full ring jumps to
    `lost` (see `submit_record`)."""
    a.load_map(R1, "events")
    a.mov(R2, size)
    a.mov(R3, 0)
    a.call("ringbuf_reserve")
    a.jump_if("==", R0, 0, "lost")
    a.mov(R7, R0)
    if current is None:
        _header(a, probe_index, task)
    else:
        _header_from_task(a, probe_index, task, current)


def submit_record(a: Assembler, probe_index: int, record_size: int) -> None:
    """Submit the `record_size`-byte record reserved in R7 and return 0; the `lost` path
    (reserve failed) counts the loss for this probe instead.

    A wakeup per record would cost the consumer a context switch per event, so records
    go in without one (the runtime drains the ring on a short timer), except the one that
    takes the ring's fill across a quarter of its size: a burst is drained at once,
    long before the ring is full, and a backlog above the mark wakes nobody again.
    The quarter is patched in at load time (-s sets the ring's size): one query per event."""
    footprint = (record_size + _RINGBUF_HEADER + 7) & ~7
    a.load_map(R1, "events")
    a.mov(R2, _BPF_RB_AVAIL_DATA)  # bytes reserved and not yet consumed, this record's included
    a.call("ringbuf_query")
    a.mov(R2, _BPF_RB_NO_WAKEUP)
    a.jump_if_loaded("<", R0, RING_QUARTER, "submit")
    a.alu("-=", R0, footprint)
    a.jump_if_loaded(">=", R0, RING_QUARTER, "submit")
    a.mov(R2, _BPF_RB_FORCE_WAKEUP)
    a.label("submit")
    a.mov(R1, R7)
    a.call("ringbuf_submit")
    a.jump("out")
    a.label("lost")
    _count_loss(a, probe_index)
    a.label("out")
    a.mov(R0, 0)
    a.exit()


def _skip_own_process(a: Assembler, current: CurrentTask | None = None) -> None:
    """Ignore events of the runtime itself: its handlers make system calls (getpid,
    writes to the channel), which would otherwise feed its own probes forever."""
    if current is None:
        a.call("get_current_pid_tgid")
        a.alu(">>=", R0, 32)
    else:
        a.load(R0, TASK_REGISTER, current.tgid, 4)
    a.jump_if_loaded("==", R0, RUNTIME_PID, "out", bits=32)


def _header(a: Assembler, probe_index: int, task: TaskOffsets | None = None) -> None:
    """The whole 64-byte header of the record at r7 (reserved ring memory is not zeroed)."""
    a.store(R7, 0, probe_index, 4)
    for helper, offset, size in _HEADER_HELPERS:
        a.call(helper)
        a.store(R7, offset, R0, size)
    _pointer_into_record(a, R1, _COMM_OFFSET)
    a.mov(R2, 16)
    a.call("get_current_comm")
    _task_ids(a, task)


def _header_from_task(a: Assembler, probe_index: int, task: TaskOffsets | None, current: CurrentTask) -> None:
    """The header as `_header` writes it, but ids, comm and the task's parent and
    credentials loaded from the task in TASK_REGISTER: only three helper calls."""
    a.store(R7, 0, probe_index, 4)
    a.call("get_smp_processor_id")
    a.store(R7, 4, R0, 4)
    a.load(R1, TASK_REGISTER, current.tgid, 4)
    a.store(R7, 12, R1, 4)
    a.load(R1, TASK_REGISTER, current.pid, 4)
    a.store(R7, 8, R1, 4)
    a.call("get_current_uid_gid")
    a.store(R7, 16, R0, 8)
    a.call("ktime_get_ns")
    a.store(R7, 24, R0, 8)
    copy_comm(a, current, R7, _COMM_OFFSET)
    _task_ids(a, task, from_register=True)


def _task_ids(a: Assembler, task: TaskOffsets | None, from_register: bool = False) -> None:
    """ppid = current->real_parent->tgid; euid/egid = current->cred->euid/egid: loads
    through the task in TASK_REGISTER (`from_register`), else bpf_probe_read_kernel()s."""
    if task is None:
        a.store(R7, _PPID_OFFSET, 0, 8)
        a.store(R7, _EGID_OFFSET, 0, 8)
        return
    if from_register:
        a.load(R1, TASK_REGISTER, task.real_parent, 8)
        a.load(R1, R1, task.tgid, 4)
        a.store(R7, _PPID_OFFSET, R1, 4)
        a.load(R1, TASK_REGISTER, task.cred, 8)
        a.load(R2, R1, task.euid, 4)
        a.store(R7, _EUID_OFFSET, R2, 4)
        a.load(R2, R1, task.egid, 4)
        a.store(R7, _EGID_OFFSET, R2, 4)
    else:
        a.call("get_current_task")
        a.mov(R8, R0)
        _read_kernel_pointer(a, task.real_parent)
        _read_kernel_field(a, task.tgid, _PPID_OFFSET)
        _read_kernel_pointer(a, task.cred)
        _read_kernel_field(a, task.euid, _EUID_OFFSET)
        _read_kernel_pointer(a, task.cred)
        _read_kernel_field(a, task.egid, _EGID_OFFSET)
    a.store(R7, _FLAGS_OFFSET, TASK_IDS_CAPTURED, 4)


def _read_kernel_pointer(a: Assembler, offset: int) -> None:
    """*(fp - 8) = *(u64 *)(task + offset); zero if unreadable."""
    a.mov(R1, FP)
    a.alu("+=", R1, -8)
    a.mov(R2, 8)
    a.mov(R3, R8)
    a.alu("+=", R3, offset)
    a.call("probe_read_kernel")


def _read_kernel_field(a: Assembler, offset: int, record_offset: int) -> None:
    """record[record_offset] = *(u32 *)(*(fp - 8) + offset)."""
    a.load(R3, FP, -8, 8)
    a.alu("+=", R3, offset)
    _pointer_into_record(a, R1, record_offset)
    a.mov(R2, 4)
    a.call("probe_read_kernel")


def _int(a: Assembler, capture: P.Capture, offset: int) -> None:
    """Integer fields are naturally aligned in tracepoint records: load and store raw."""
    a.load(R1, R6, capture.ctx_offset, capture.size)
    a.store(R7, offset, R1, 8)


def _user_string(a: Assembler, capture: P.Capture, offset: int) -> None:
    a.load(R3, R6, capture.ctx_offset, 8)
    a.store(R7, offset, R3, 8)
    _read_string(a, "probe_read_user_str", capture, offset)


def _data_loc(a: Assembler, capture: P.Capture, offset: int) -> None:
    """A __data_loc field holds (length << 16 | offset) of a string inside the record."""
    a.load(R3, R6, capture.ctx_offset, 4)
    a.alu("&=", R3, 0xFFFF)
    a.alu("+=", R3, R6)
    a.store(R7, offset, 0, 8)
    _read_string(a, "probe_read_kernel_str", capture, offset)


def _char_array(a: Assembler, capture: P.Capture, offset: int) -> None:
    a.mov(R3, R6)
    a.alu("+=", R3, capture.ctx_offset)
    a.store(R7, offset, 0, 8)
    _read_string(a, "probe_read_kernel_str", capture, offset, limit=min(capture.size + 1, capture.buffer))


def _user_buffer(a: Assembler, capture: P.Capture, offset: int) -> None:
    """min(length field, buffer) bytes behind the pointer (`buffer` bytes without a length
    field: a structure); the slot's reserved word keeps how many were asked for, the
    status is 0 or -errno (struct stp_bpf_string)."""
    if capture.length_offset < 0:
        a.mov(R2, capture.buffer)
    else:
        a.load(R2, R6, capture.length_offset, capture.length_size)
        a.jump_if("<=", R2, capture.buffer, f"length_{offset}")
        a.mov(R2, capture.buffer)
        a.label(f"length_{offset}")
    a.store(R7, offset + 12, R2, 4)
    a.load(R3, R6, capture.ctx_offset, 8)
    a.store(R7, offset, R3, 8)
    _pointer_into_record(a, R1, offset + P.STRING_HEADER)
    a.call("probe_read_user")
    a.store(R7, offset + 8, R0, 4)


def _read_string(a: Assembler, helper: str, capture: P.Capture, offset: int, limit: int | None = None) -> None:
    """helper(record + offset + 16, buffer, r3); the result (length or -errno) is the status."""
    _pointer_into_record(a, R1, offset + P.STRING_HEADER)
    a.mov(R2, limit if limit is not None else capture.buffer)
    a.call(helper)
    a.store(R7, offset + 8, R0, 4)


def stack(a: Assembler, capture: P.Capture, offset: int) -> None:
    """bpf_get_stack(ctx, record + offset + 8, slot - 8, flags): the slot's first word
    is the number of bytes written or -errno; the header flag tells the runtime the
    record ends in this stack (stacks are planned last: modules, kernel, user)."""
    a.mov(R1, R6)
    _pointer_into_record(a, R2, offset + 8)
    a.mov(R3, capture.slot_size() - 8)
    a.mov(R4, _STACK_HELPER_FLAGS[capture.kind])
    a.call("get_stack")
    stack_written(a, STACK_FLAGS[capture.kind], offset)


def stack_written(a: Assembler, flag: int, offset: int) -> None:
    """Keep the stack helper's result (R0) as the slot's first word; set the header `flag`."""
    a.store(R7, offset, R0, 8)
    a.load(R1, R7, _FLAGS_OFFSET, 4)
    a.alu("|=", R1, flag)
    a.store(R7, _FLAGS_OFFSET, R1, 4)


def _pointer_into_record(a: Assembler, reg, offset: int) -> None:
    a.mov(reg, R7)
    a.alu("+=", reg, offset)


def _count_loss(a: Assembler, probe_index: int) -> None:
    a.store(FP, -4, probe_index, 4)
    a.load_map(R1, "lost")
    a.mov(R2, FP)
    a.alu("+=", R2, -4)
    a.call("map_lookup_elem")
    a.jump_if("==", R0, 0, "out")
    a.mov(R1, 1)
    a.atomic_add(R0, 0, R1, 8)


_CAPTURERS = {
    P.INT: _int,
    P.USER_STRING: _user_string,
    P.DATA_LOC: _data_loc,
    P.CHAR_ARRAY: _char_array,
    P.USER_BUFFER: _user_buffer,
    P.KERNEL_STACK: stack,
    P.USER_STACK: stack,
    P.USER_MODULES: stack,
}
