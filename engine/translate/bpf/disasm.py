"""Print eBPF programs in the syntax of the kernel verifier log and bpftool.

    0: (bf) r6 = r1
    1: (18) r1 = map[events]
    3: (85) call bpf_ringbuf_reserve#131
    4: (15) if r0 == 0x0 goto pc+9

The engine panel shows capture programs this way, so the text follows what people
already read in `bpftool prog dump xlated` and verifier refusals.
"""

from __future__ import annotations

from engine.translate.bpf import isa
from engine.translate.bpf.asm import LOADED_VALUES, Program
from engine.translate.bpf.isa import Insn

_SIZE_NAMES = {isa.SIZE_B: "u8", isa.SIZE_H: "u16", isa.SIZE_W: "u32", isa.SIZE_DW: "u64"}


def disassemble(program: Program) -> str:
    """One line per instruction, numbered by slot; LD_IMM64 takes two slots."""
    maps = dict(program.relocations)
    lines = []
    index = 0
    while index < len(program.insns):
        insn = program.insns[index]
        if isa.is_ld_imm64(insn):
            high = program.insns[index + 1].imm if index + 1 < len(program.insns) else 0
            text = _ld_imm64(insn, high, maps.get(index))
            width = 2
        else:
            text = format_insn(insn)
            if maps.get(index) in LOADED_VALUES:
                text = text.replace("0x0", LOADED_VALUES[maps[index]])
            width = 1
        lines.append(f"{index:4}: ({insn.opcode:02x}) {text}")
        index += width
    return "\n".join(lines) + "\n"


def format_insn(insn: Insn) -> str:
    """The text of a one-slot instruction."""
    cls = isa.opclass(insn.opcode)
    if cls in (isa.ALU, isa.ALU64):
        return _alu(insn, cls)
    if cls in (isa.JMP, isa.JMP32):
        return _jump(insn, cls)
    if cls == isa.LDX:
        return f"r{insn.dst} = *({_size_name(insn)} *)(r{insn.src} {insn.off:+d})"
    if cls == isa.STX and insn.opcode & 0xE0 == isa.MODE_ATOMIC:
        return _atomic(insn)
    if cls == isa.STX:
        return f"*({_size_name(insn)} *)(r{insn.dst} {insn.off:+d}) = r{insn.src}"
    if cls == isa.ST:
        return f"*({_size_name(insn)} *)(r{insn.dst} {insn.off:+d}) = {insn.imm}"
    return f"(bad opcode 0x{insn.opcode:02x})"


def _ld_imm64(insn: Insn, high: int, map_name: str | None) -> str:
    if insn.src == isa.PSEUDO_MAP_FD:
        return f"r{insn.dst} = map[{map_name or f'fd:{insn.imm}'}]"
    value = ((high & 0xFFFFFFFF) << 32) | (insn.imm & 0xFFFFFFFF)
    return f"r{insn.dst} = 0x{value:x}"


def _alu(insn: Insn, cls: int) -> str:
    reg = "r" if cls == isa.ALU64 else "w"
    op = insn.opcode & 0xF0
    name = isa.ALU_NAMES.get(op)
    if name is None:
        return f"(bad ALU opcode 0x{insn.opcode:02x})"
    if name == "neg":
        return f"{reg}{insn.dst} = -{reg}{insn.dst}"
    if name == "end":
        order = "be" if insn.opcode & isa.SRC_X else "le"
        return f"r{insn.dst} = {order}{insn.imm} r{insn.dst}"
    operand = f"{reg}{insn.src}" if insn.opcode & isa.SRC_X else str(insn.imm)
    return f"{reg}{insn.dst} {name} {operand}"


def _jump(insn: Insn, cls: int) -> str:
    op = insn.opcode & 0xF0
    if op == isa.CALL:
        name = isa.HELPER_NAMES.get(insn.imm)
        return f"call bpf_{name}#{insn.imm}" if name else f"call #{insn.imm}"
    if op == isa.EXIT:
        return "exit"
    if op == isa.JA:
        return f"goto pc{insn.off:+d}"
    name = isa.JMP_NAMES.get(op)
    if name is None:
        return f"(bad jump opcode 0x{insn.opcode:02x})"
    reg = "r" if cls == isa.JMP else "w"
    operand = f"{reg}{insn.src}" if insn.opcode & isa.SRC_X else f"0x{insn.imm & 0xFFFFFFFF:x}"
    return f"if {reg}{insn.dst} {name} {operand} goto pc{insn.off:+d}"


def _atomic(insn: Insn) -> str:
    if insn.imm != isa.ATOMIC_ADD:
        return f"(unsupported atomic operation 0x{insn.imm:x})"
    return f"lock *({_size_name(insn)} *)(r{insn.dst} {insn.off:+d}) += r{insn.src}"


def _size_name(insn: Insn) -> str:
    return _SIZE_NAMES[insn.opcode & 0x18]
