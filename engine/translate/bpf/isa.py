"""The eBPF instruction set: opcodes, registers, helper ids and one encoded instruction.

Values follow the kernel's UAPI (linux/bpf.h, linux/bpf_common.h). Only data lives here;
the assembler (asm.py) builds instructions and the disassembler (disasm.py) prints them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

# Instruction classes (low 3 bits of the opcode).
LD, LDX, ST, STX, ALU, JMP, JMP32, ALU64 = range(8)

# Memory access size and mode (LD/LDX/ST/STX).
SIZE_W, SIZE_H, SIZE_B, SIZE_DW = 0x00, 0x08, 0x10, 0x18
SIZE_BYTES = {SIZE_B: 1, SIZE_H: 2, SIZE_W: 4, SIZE_DW: 8}
SIZE_OF_BYTES = {n: code for code, n in SIZE_BYTES.items()}
MODE_IMM, MODE_MEM, MODE_ATOMIC = 0x00, 0x60, 0xC0
ATOMIC_ADD = 0x00  # imm of an atomic instruction: lock *(size *)(dst + off) += src

# Operand source (ALU/JMP): immediate or register.
SRC_K, SRC_X = 0x00, 0x08

# ALU operations (high 4 bits), with the C-like operator the disassembler prints.
ALU_OPS = {
    "+=": 0x00, "-=": 0x10, "*=": 0x20, "/=": 0x30, "|=": 0x40, "&=": 0x50, "<<=": 0x60,
    ">>=": 0x70, "neg": 0x80, "%=": 0x90, "^=": 0xA0, "=": 0xB0, "s>>=": 0xC0, "end": 0xD0,
}
ALU_NAMES = {code: name for name, code in ALU_OPS.items()}

# Jump operations (high 4 bits), with the comparison the disassembler prints.
JMP_OPS = {
    "==": 0x10, ">": 0x20, ">=": 0x30, "&": 0x40, "!=": 0x50, "s>": 0x60, "s>=": 0x70,
    "<": 0xA0, "<=": 0xB0, "s<": 0xC0, "s<=": 0xD0,
}
JMP_NAMES = {code: name for name, code in JMP_OPS.items()}
JA, CALL, EXIT = 0x00, 0x80, 0x90

# src_reg of a two-slot LD_IMM64 that carries a map file descriptor instead of a number.
PSEUDO_MAP_FD = 1



class Reg(int):
    """A register number, kept apart from immediates so operands say which they are."""


R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10 = (Reg(n) for n in range(11))
FP = R10  # the read-only frame pointer; the stack is 512 bytes below it
STACK_SIZE = 512

# Helper function ids (enum bpf_func_id) for the helpers capture programs use.
HELPERS = {
    "map_lookup_elem": 1,
    "map_update_elem": 2,
    "map_delete_elem": 3,
    "probe_read": 4,
    "ktime_get_ns": 5,
    "trace_printk": 6,
    "get_smp_processor_id": 8,
    "get_current_pid_tgid": 14,
    "get_current_uid_gid": 15,
    "get_current_comm": 16,
    "perf_event_output": 25,
    "get_stackid": 27,
    "get_current_task": 35,
    "probe_read_str": 45,
    "get_stack": 67,
    "get_task_stack": 141,
    "probe_read_user": 112,
    "probe_read_kernel": 113,
    "probe_read_user_str": 114,
    "probe_read_kernel_str": 115,
    "ringbuf_output": 130,
    "ringbuf_reserve": 131,
    "ringbuf_submit": 132,
    "ringbuf_discard": 133,
    "ringbuf_query": 134,
    "task_storage_get": 156,
    "get_current_task_btf": 158,
    "get_func_ip": 173,
    "get_attach_cookie": 174,
}
HELPER_NAMES = {number: name for name, number in HELPERS.items()}


def opclass(opcode: int) -> int:
    return opcode & 0x07


@dataclass(frozen=True)
class Insn:
    """One 8-byte instruction slot: opcode, dst and src registers, offset, immediate."""

    opcode: int
    dst: int = 0
    src: int = 0
    off: int = 0
    imm: int = 0

    def encode(self) -> bytes:
        """The slot as the kernel reads it (struct bpf_insn, little-endian)."""
        return struct.pack("<BBhi", self.opcode, (self.src << 4) | self.dst, self.off, self.imm)

    @classmethod
    def decode(cls, data: bytes) -> "Insn":
        opcode, regs, off, imm = struct.unpack("<BBhi", data)
        return cls(opcode, regs & 0x0F, regs >> 4, off, imm)


def is_ld_imm64(insn: Insn) -> bool:
    """LD_IMM64 (opcode 0x18) occupies two slots; the second holds the high 32 bits."""
    return insn.opcode == (LD | SIZE_DW | MODE_IMM)
