"""A small eBPF assembler: instructions by method call, symbolic labels, map relocations.

Capture programs are straight-line code with forward jumps to an exit label, so the
assembler resolves labels in one pass at `assemble()` and records which LD_IMM64 slots
must receive a map's file descriptor when the runtime loads the program.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.translate.bpf import isa
from engine.translate.bpf.isa import Insn, Reg


RUNTIME_PID = "runtime_pid"  # relocation: the immediate becomes the loading process's pid
RING_QUARTER = "ring_quarter"  # relocation: the immediate becomes a quarter of the ring's bytes
LOADED_VALUES = {RUNTIME_PID: "<runtime pid>", RING_QUARTER: "<ring bytes / 4>"}  # as listings show them


class AsmError(Exception):
    """A program that cannot be encoded (unknown label, offset out of range, bad size)."""


@dataclass
class Program:
    """Encoded instructions plus the slots that need a map fd patched into `imm`."""

    insns: list[Insn]
    relocations: list[tuple[int, str]] = field(default_factory=list)  # (slot, map name or a LOADED_VALUES name)

    def encode(self) -> bytes:
        return b"".join(insn.encode() for insn in self.insns)

    def __len__(self) -> int:
        return len(self.insns)


@dataclass
class _PendingJump:
    opcode: int
    dst: int
    src: int
    imm: int
    label: str


class Assembler:
    """Build a program one instruction at a time; `assemble()` resolves labels."""

    def __init__(self) -> None:
        self._slots: list[Insn | _PendingJump] = []
        self._labels: dict[str, int] = {}
        self._relocations: list[tuple[int, str]] = []

    # -- data movement ------------------------------------------------------------

    def mov(self, dst: Reg, value: Reg | int, *, bits: int = 64) -> None:
        """dst = value (register or 32-bit signed immediate)."""
        self.alu("=", dst, value, bits=bits)

    def alu(self, op: str, dst: Reg, value: Reg | int, *, bits: int = 64) -> None:
        """dst op= value, e.g. alu("+=", R1, 8); `bits=32` uses the 32-bit (w) form."""
        if op not in isa.ALU_OPS or op in ("neg", "end"):
            raise AsmError(f"unknown ALU operation {op!r}")
        cls = isa.ALU64 if bits == 64 else isa.ALU
        if isinstance(value, Reg):
            self._emit(Insn(cls | isa.ALU_OPS[op] | isa.SRC_X, dst, value))
        else:
            self._emit(Insn(cls | isa.ALU_OPS[op] | isa.SRC_K, dst, 0, 0, _imm32(value)))

    def neg(self, dst: Reg) -> None:
        self._emit(Insn(isa.ALU64 | isa.ALU_OPS["neg"], dst))

    def load_imm64(self, dst: Reg, value: int) -> None:
        """dst = a full 64-bit constant (two slots)."""
        value &= (1 << 64) - 1
        self._emit(Insn(isa.LD | isa.SIZE_DW | isa.MODE_IMM, dst, 0, 0, _signed32(value & 0xFFFFFFFF)))
        self._emit(Insn(0, 0, 0, 0, _signed32(value >> 32)))

    def load_map(self, dst: Reg, name: str) -> None:
        """dst = the map called `name`; its fd is patched in when the program is loaded."""
        self._relocations.append((self._slot_count(), name))
        self._emit(Insn(isa.LD | isa.SIZE_DW | isa.MODE_IMM, dst, isa.PSEUDO_MAP_FD, 0, 0))
        self._emit(Insn(0))

    def load(self, dst: Reg, base: Reg, off: int, size: int) -> None:
        """dst = *(u<size*8> *)(base + off), zero-extended."""
        self._emit(Insn(isa.LDX | _size(size) | isa.MODE_MEM, dst, base, _off16(off)))

    def store(self, base: Reg, off: int, value: Reg | int, size: int) -> None:
        """*(u<size*8> *)(base + off) = value (register or immediate)."""
        if isinstance(value, Reg):
            self._emit(Insn(isa.STX | _size(size) | isa.MODE_MEM, base, value, _off16(off)))
        else:
            self._emit(Insn(isa.ST | _size(size) | isa.MODE_MEM, base, 0, _off16(off), _imm32(value)))

    def atomic_add(self, base: Reg, off: int, value: Reg, size: int) -> None:
        """lock *(u<size*8> *)(base + off) += value; counters shared by all CPUs."""
        if size not in (4, 8):
            raise AsmError(f"atomic add of {size} bytes (must be 4 or 8)")
        self._emit(Insn(isa.STX | _size(size) | isa.MODE_ATOMIC, base, value, _off16(off), isa.ATOMIC_ADD))

    # -- control flow -------------------------------------------------------------

    def call(self, helper: str) -> None:
        if helper not in isa.HELPERS:
            raise AsmError(f"unknown BPF helper {helper!r}")
        self._emit(Insn(isa.JMP | isa.CALL, 0, 0, 0, isa.HELPERS[helper]))

    def exit(self) -> None:
        self._emit(Insn(isa.JMP | isa.EXIT))

    def jump(self, label: str) -> None:
        self._slots.append(_PendingJump(isa.JMP | isa.JA, 0, 0, 0, label))

    def jump_if(self, op: str, reg: Reg, value: Reg | int, label: str, *, bits: int = 64) -> None:
        """if (reg op value) goto label; op is a C comparison, `s` prefix for signed."""
        if op not in isa.JMP_OPS:
            raise AsmError(f"unknown jump condition {op!r}")
        cls = isa.JMP if bits == 64 else isa.JMP32
        if isinstance(value, Reg):
            self._slots.append(_PendingJump(cls | isa.JMP_OPS[op] | isa.SRC_X, reg, value, 0, label))
        else:
            self._slots.append(_PendingJump(cls | isa.JMP_OPS[op] | isa.SRC_K, reg, 0, _imm32(value), label))

    def jump_if_loaded(self, op: str, reg: Reg, value: str, label: str, *, bits: int = 64) -> None:
        """if (reg op value) goto label, where `value` (one of LOADED_VALUES) is known only
        when the runtime loads the program: it patches the immediate in."""
        self._relocations.append((self._slot_count(), value))
        self.jump_if(op, reg, 0, label, bits=bits)

    def label(self, name: str) -> None:
        if name in self._labels:
            raise AsmError(f"label {name!r} defined twice")
        self._labels[name] = self._slot_count()

    def append(self, program: Program) -> None:
        """Continue with an assembled program as it is: its jumps are relative, so they
        still land inside it; its relocations move with it."""
        start = self._slot_count()
        self._relocations += [(start + slot, name) for slot, name in program.relocations]
        self._slots += program.insns

    # -- result -------------------------------------------------------------------

    def assemble(self) -> Program:
        insns: list[Insn] = []
        for slot in self._slots:
            if isinstance(slot, _PendingJump):
                slot = self._resolve(slot, len(insns))
            insns.append(slot)
        return Program(insns, list(self._relocations))

    def _resolve(self, jump: _PendingJump, index: int) -> Insn:
        if jump.label not in self._labels:
            raise AsmError(f"undefined label {jump.label!r}")
        return Insn(jump.opcode, jump.dst, jump.src, _off16(self._labels[jump.label] - index - 1), jump.imm)

    def _emit(self, insn: Insn) -> None:
        self._slots.append(insn)

    def _slot_count(self) -> int:
        return len(self._slots)


def _size(nbytes: int) -> int:
    if nbytes not in isa.SIZE_OF_BYTES:
        raise AsmError(f"memory access of {nbytes} bytes (must be 1, 2, 4 or 8)")
    return isa.SIZE_OF_BYTES[nbytes]


def _imm32(value: int) -> int:
    if not -(1 << 31) <= value < (1 << 31):
        raise AsmError(f"immediate {value} does not fit in a signed 32-bit field")
    return value


def _signed32(value: int) -> int:
    return value - (1 << 32) if value >= (1 << 31) else value


def _off16(value: int) -> int:
    if not -(1 << 15) <= value < (1 << 15):
        raise AsmError(f"offset {value} does not fit in 16 bits")
    return value
