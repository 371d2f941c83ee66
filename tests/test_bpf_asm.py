"""The eBPF assembler and disassembler: exact encodings and the printed syntax."""

from __future__ import annotations

import pytest

from engine.translate.bpf import isa
from engine.translate.bpf.asm import Assembler, AsmError
from engine.translate.bpf.disasm import disassemble
from engine.translate.bpf.isa import FP, R0, R1, R2, R3, R6, Insn


def _hex(program) -> str:
    return program.encode().hex(" ")


def test_return_zero_encodes_like_llvm():
    a = Assembler()
    a.mov(R0, 0)
    a.exit()
    assert _hex(a.assemble()) == "b7 00 00 00 00 00 00 00 95 00 00 00 00 00 00 00"


@pytest.mark.parametrize(
    "emit, expected",
    [
        (lambda a: a.mov(R6, R1), "bf 16 00 00 00 00 00 00"),
        (lambda a: a.mov(R1, -1, bits=32), "b4 01 00 00 ff ff ff ff"),
        (lambda a: a.alu("+=", R2, -8), "07 02 00 00 f8 ff ff ff"),
        (lambda a: a.alu("-=", R3, R1), "1f 13 00 00 00 00 00 00"),
        (lambda a: a.alu(">>=", R0, 32), "77 00 00 00 20 00 00 00"),
        (lambda a: a.alu("s>>=", R0, 32), "c7 00 00 00 20 00 00 00"),
        (lambda a: a.alu("&=", R1, 0xFF, bits=32), "54 01 00 00 ff 00 00 00"),
        (lambda a: a.neg(R1), "87 01 00 00 00 00 00 00"),
        (lambda a: a.store(FP, -8, R1, 8), "7b 1a f8 ff 00 00 00 00"),
        (lambda a: a.store(R0, 4, R1, 4), "63 10 04 00 00 00 00 00"),
        (lambda a: a.store(FP, -16, 0, 8), "7a 0a f0 ff 00 00 00 00"),
        (lambda a: a.store(R0, 2, 7, 2), "6a 00 02 00 07 00 00 00"),
        (lambda a: a.load(R1, R6, 16, 8), "79 61 10 00 00 00 00 00"),
        (lambda a: a.load(R1, R6, 8, 4), "61 61 08 00 00 00 00 00"),
        (lambda a: a.load(R2, R6, 3, 1), "71 62 03 00 00 00 00 00"),
        (lambda a: a.load(R2, R6, 2, 2), "69 62 02 00 00 00 00 00"),
        (lambda a: a.call("ringbuf_reserve"), "85 00 00 00 83 00 00 00"),
        (lambda a: a.call("probe_read_user_str"), "85 00 00 00 72 00 00 00"),
        (lambda a: a.call("get_current_pid_tgid"), "85 00 00 00 0e 00 00 00"),
        (lambda a: a.load_imm64(R1, 0x1122334455667788), "18 01 00 00 88 77 66 55 00 00 00 00 44 33 22 11"),
        (lambda a: a.atomic_add(R0, 0, R1, 8), "db 10 00 00 00 00 00 00"),
        (lambda a: a.atomic_add(R2, 4, R3, 4), "c3 32 04 00 00 00 00 00"),
        (lambda a: a.load_map(R1, "events"), "18 11 00 00 00 00 00 00 00 00 00 00 00 00 00 00"),
    ],
)
def test_single_instruction_encodings(emit, expected):
    a = Assembler()
    emit(a)
    assert _hex(a.assemble()) == expected


def test_forward_and_backward_jumps_count_ld_imm64_as_two_slots():
    a = Assembler()
    a.label("top")
    a.jump_if("==", R0, 0, "out")  # slot 0 -> out at slot 4: off = +3
    a.load_imm64(R1, 1)  # slots 1-2
    a.jump("top")  # slot 3 -> top at 0: off = -4
    a.label("out")
    a.exit()
    program = a.assemble()
    assert [(i.opcode, i.off) for i in program.insns] == [(0x15, 3), (0x18, 0), (0x00, 0), (0x05, -4), (0x95, 0)]
    assert _hex(program).split(" ")[:8] == "15 00 03 00 00 00 00 00".split()


def test_register_and_32bit_conditional_jumps():
    a = Assembler()
    a.jump_if("s<", R0, R1, "end")
    a.jump_if("!=", R2, -2, "end", bits=32)
    a.label("end")
    a.exit()
    assert _hex(a.assemble()) == (
        "cd 10 01 00 00 00 00 00 56 02 00 00 fe ff ff ff 95 00 00 00 00 00 00 00"
    )


def test_map_relocations_name_the_first_slot_of_each_load():
    a = Assembler()
    a.mov(R6, R1)
    a.load_map(R1, "events")
    a.load_map(R2, "stacks")
    a.exit()
    assert a.assemble().relocations == [(1, "events"), (3, "stacks")]


@pytest.mark.parametrize(
    "emit, message",
    [
        (lambda a: a.jump("nowhere"), "undefined label 'nowhere'"),
        (lambda a: a.load(R1, R6, 0, 3), "memory access of 3 bytes (must be 1, 2, 4 or 8)"),
        (lambda a: a.mov(R1, 1 << 31), "immediate 2147483648 does not fit in a signed 32-bit field"),
        (lambda a: a.load(R1, R6, 1 << 15, 8), "offset 32768 does not fit in 16 bits"),
        (lambda a: a.call("no_such_helper"), "unknown BPF helper 'no_such_helper'"),
        (lambda a: a.jump_if("=~", R1, 0, "x"), "unknown jump condition '=~'"),
    ],
)
def test_encoding_errors_are_reported(emit, message):
    a = Assembler()
    with pytest.raises(AsmError) as info:
        emit(a)
        a.assemble()
    assert str(info.value) == message


def test_duplicate_label_is_an_error():
    a = Assembler()
    a.label("x")
    with pytest.raises(AsmError, match="label 'x' defined twice"):
        a.label("x")


def test_disassembly_uses_verifier_log_syntax():
    a = Assembler()
    a.mov(R6, R1)
    a.load_map(R1, "events")
    a.mov(R2, 40)
    a.mov(R3, 0)
    a.call("ringbuf_reserve")
    a.jump_if("==", R0, 0, "out")
    a.load(R1, R6, 24, 8)
    a.store(FP, -8, R1, 8)
    a.store(R0, 0, 7, 4)
    a.alu("+=", R1, -1, bits=32)
    a.alu("s>>=", R1, R2)
    a.neg(R1)
    a.load_imm64(R2, -1)
    a.atomic_add(R0, 8, R1, 8)
    a.jump_if("s>=", R1, R2, "out", bits=32)
    a.jump("out")
    a.label("out")
    a.mov(R0, 0)
    a.exit()
    assert disassemble(a.assemble()) == (
        "   0: (bf) r6 = r1\n"
        "   1: (18) r1 = map[events]\n"
        "   3: (b7) r2 = 40\n"
        "   4: (b7) r3 = 0\n"
        "   5: (85) call bpf_ringbuf_reserve#131\n"
        "   6: (15) if r0 == 0x0 goto pc+11\n"
        "   7: (79) r1 = *(u64 *)(r6 +24)\n"
        "   8: (7b) *(u64 *)(r10 -8) = r1\n"
        "   9: (62) *(u32 *)(r0 +0) = 7\n"
        "  10: (04) w1 += -1\n"
        "  11: (cf) r1 s>>= r2\n"
        "  12: (87) r1 = -r1\n"
        "  13: (18) r2 = 0xffffffffffffffff\n"
        "  15: (db) lock *(u64 *)(r0 +8) += r1\n"
        "  16: (7e) if w1 s>= w2 goto pc+1\n"
        "  17: (05) goto pc+0\n"
        "  18: (b7) r0 = 0\n"
        "  19: (95) exit\n"
    )


def test_decode_round_trips_every_encoded_slot():
    a = Assembler()
    a.load_imm64(R1, -5)
    a.store(FP, -512, R1, 8)
    a.call("get_current_comm")
    a.exit()
    program = a.assemble()
    raw = program.encode()
    decoded = [Insn.decode(raw[i : i + 8]) for i in range(0, len(raw), 8)]
    assert decoded == program.insns
    assert isa.HELPER_NAMES[decoded[3].imm] == "get_current_comm"
