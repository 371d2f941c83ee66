"""Capture plans: what a kernel probe's BPF program copies into each record.

Pass 2 decides what a handler needs at probe time (tracepoint fields, strings behind
user pointers, ...); pass 3 turns the plan into a capture program (capture.py) and
into C that decodes the record (emit.py). The plan fixes the record layout, so both
sides agree on every offset.

Record layout: the 64-byte header (`struct stp_bpf_record` in runtime_c/bpf_runtime.h:
probe index, cpu, pid_tgid, uid_gid, time, comm, ppid, euid, egid, flags), then one slot per capture in plan
order: integers take 8 bytes; strings take a 16-byte header (address, status) and
their buffer, rounded up to 8 bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

HEADER_SIZE = 64
STRING_HEADER = 16  # u64 address, s32 status, u32 reserved (struct stp_bpf_string)

INT = "int"  # an integer field of the tracepoint record
USER_STRING = "user_string"  # a NUL-terminated string behind a user pointer field
DATA_LOC = "data_loc"  # a __data_loc char[] field: the string lives in the record
CHAR_ARRAY = "char_array"  # a fixed char[N] field of the record
USER_BUFFER = "user_buffer"  # bytes behind a user pointer field, as many as a length field says
KERNEL_STACK = "kernel_stack"  # return addresses of the kernel stack (bpf_get_stack)
USER_STACK = "user_stack"  # return addresses of the task's user stack (BPF_F_USER_STACK)
USER_MODULES = "user_modules"  # the same frames' files, by build-id and file offset (BPF_F_USER_BUILD_ID)
KINDS = (INT, USER_STRING, DATA_LOC, CHAR_ARRAY, USER_BUFFER, KERNEL_STACK, USER_STACK, USER_MODULES)
STACK_FRAMES = 20  # stap's MAXBACKTRACE
STACK_SLOT = 8 + 8 * STACK_FRAMES  # s64 bytes written (or -errno), then the addresses
MODULE_FRAME = 32  # struct bpf_stack_build_id: status, 20-byte build-id, file offset
MODULE_SLOT = 8 + MODULE_FRAME * STACK_FRAMES  # s64 bytes written (or -errno), then the frames


@dataclass(frozen=True)
class Capture:
    """One value to copy at probe time.

    `ctx_offset`/`size` locate the field in the tracepoint record (for USER_STRING and
    USER_BUFFER the 8-byte pointer); `buffer` is the string buffer size (MAXSTRINGLEN)
    for strings and the most bytes copied for USER_BUFFER, whose length is the field at
    `length_offset` (exactly `buffer` bytes, a structure, when there is none).
    """

    name: str
    kind: str
    ctx_offset: int
    size: int
    signed: bool = False
    buffer: int = 0
    length_offset: int = -1
    length_size: int = 8  # bytes of the length field (an int length is 4)

    def slot_size(self) -> int:
        if self.kind == INT:
            return 8
        if self.kind in (KERNEL_STACK, USER_STACK):
            return STACK_SLOT
        if self.kind == USER_MODULES:
            return MODULE_SLOT
        return STRING_HEADER + _round8(self.buffer)


@dataclass
class CapturePlan:
    """The captures of one probe, in record order, deduplicated by (kind, field)."""

    captures: list[Capture] = field(default_factory=list)

    def add(self, capture: Capture) -> Capture:
        """Add `capture` unless an identical one is planned; return the planned one."""
        for planned in self.captures:
            if planned == capture:
                return planned
        self.captures.append(capture)
        return capture

    def offset_of(self, capture: Capture) -> int:
        """Byte offset of `capture`'s slot in the record."""
        offset = HEADER_SIZE
        for planned in self.captures:
            if planned == capture:
                return offset
            offset += planned.slot_size()
        raise KeyError(capture.name)

    def record_size(self) -> int:
        return HEADER_SIZE + sum(c.slot_size() for c in self.captures)


def _round8(n: int) -> int:
    return (n + 7) & ~7


LONG_READ = "long"  # one INT capture, sign-extended from its size when signed
STRING_READ = "string"  # one string capture
VARS_READ = "vars"  # several captures formatted `name=0x1 name="text"` ($$vars, $$parms)
PRETTY_READ = "pretty"  # one capture formatted as in VARS_READ, without its name (`$field$`)
CONST_READ = "const"  # a string known at translate time ($$name, $$system)


@dataclass(frozen=True)
class TargetRead:
    """How a handler obtains one target expression from its probe's record.

    Providers return this as `TargetValue.capture`; the emitter adds its captures to
    the probe's plan and emits the matching read.
    """

    form: str
    captures: tuple[Capture, ...] = ()
    names: tuple[str, ...] = ()  # VARS_READ: the field names, in order
    text: str = ""  # CONST_READ
