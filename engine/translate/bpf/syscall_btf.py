"""Syscall probes through the kernel's BTF raw tracepoints sys_enter and sys_exit
(`-DSTP_SYSCALL_BTF`; by default they attach to the perf tracepoints, as stap's and
bpftrace's do).

A `syscalls:sys_enter_NAME` perf tracepoint makes the kernel fill a record for every
event before any program runs (perf_syscall_enter: a perf buffer, the arguments copied):
on the development machine that is a third to a half of what a counting probe costs.
The raw tracepoints the syscall layer fires for every syscall hand a BTF-typed program
the task's registers instead. The price: every other syscall on the machine runs the
program too, up to its first test (tens of ns each, more with several programs), where
the perf tracepoint of another syscall costs it nothing. So it pays off when the probed
syscalls are most of what the machine does, which the user knows and pystap cannot.

The prologue made here keeps the perf tracepoint's meaning for the program after it:
it lets through only the one syscall, not compat (32-bit) syscalls (the tracepoints
ignore those too), and lays the values out as the tracepoint record (`__syscall_nr`
at 8, the arguments from 16, or `ret` at 16) in a per-CPU scratch value whose address
it passes on as the context. So capture plans, aggregation programs and the records'
decoding are the same either way.

A script with more than MAX_PER_DIRECTION syscall probes in one direction keeps perf
tracepoints for them. The runtime checks, before loading, that the kernel is the one
the BTF ids were taken from.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from engine.translate.bpf import plan as P
from engine.translate.bpf.asm import Assembler, Program
from engine.translate.bpf.isa import FP, R0, R1, R2, R3, R6, R7
from engine.translate.bpf.task import TASK_REGISTER, kernel_function, marked, member_offset

MAX_PER_DIRECTION = 4
RECORD_MAP = "sys_record"  # per-CPU scratch: one tracepoint-shaped record (runtime_c/bpf_syscall.c)
RECORD_BYTES = 64  # 16 + 6 arguments x 8
ENABLE = "STP_SYSCALL_BTF"
_ARGUMENT_REGISTERS = ("di", "si", "dx", "r10", "r8", "r9")  # x86-64 syscall_get_arguments()
_TS_COMPAT = 0x0002  # arch/x86/include/asm/thread_info.h: a 32-bit syscall is running
_NR_OFFSET, _ARGS_OFFSET = 8, 16
_UNISTD = ("/usr/include/x86_64-linux-gnu/asm/unistd_64.h", "/usr/include/asm/unistd_64.h")
_TRACEPOINT = re.compile(r"syscalls:sys_(enter|exit)_(\w+)")
_STACKS = (P.KERNEL_STACK, P.USER_STACK, P.USER_MODULES)
_BPF_TRACE_RAW_TP = 23


@dataclass(frozen=True)
class KernelFacts:
    """What the prologue needs from the running kernel."""

    btf_ids: dict[str, int]  # "sys_enter"/"sys_exit" -> id of its btf_trace_* typedef
    registers: dict[str, int]  # struct pt_regs member -> byte offset
    status_offset: int  # of task_struct.thread_info.status
    numbers: dict[str, int]  # syscall name -> number (asm/unistd_64.h)
    kernel: str  # `uname -r` and `uname -v`: the runtime refuses another kernel's ids


@dataclass(frozen=True)
class SyscallAttach:
    """How one probe attaches: direction ("sys_enter"/"sys_exit"), syscall number, BTF id."""

    direction: str
    number: int
    btf_id: int
    kernel: str


def syscall_direction(derived: Any) -> tuple[str, str] | None:
    """("sys_enter"|"sys_exit", syscall name) of a syscall tracepoint probe, else None."""
    match = _TRACEPOINT.fullmatch(derived.data.get("tracepoint", ""))
    return (f"sys_{match[1]}", match[2]) if match else None


def plan_attach(derived: Any, plan: P.CapturePlan, crowded: set[str], defines: dict) -> tuple[SyscallAttach | None, str]:
    """How `derived` attaches, and a note for -v saying so (and why, when -DSTP_SYSCALL_BTF
    was asked for and cannot be had); `crowded` holds the directions with more than
    MAX_PER_DIRECTION probes."""
    syscall = syscall_direction(derived)
    if syscall is None:
        return None, ""
    perf = f"probe {derived.point}: perf tracepoint {derived.data['tracepoint']}"
    if ENABLE not in defines:
        return None, perf
    refusal = _refusal(syscall, crowded)
    if not refusal and any(c.kind in _STACKS for c in plan.captures):
        refusal = "backtraces need the tracepoint's context"
    if refusal:
        return None, f"{perf} ({refusal})"
    facts = _facts()
    direction, name = syscall
    attach = SyscallAttach(direction, facts.numbers[name], facts.btf_ids[direction], facts.kernel)
    return attach, f"probe {derived.point}: BTF raw tracepoint {direction}, syscall {attach.number}"


def _refusal(syscall: tuple[str, str], crowded: set[str]) -> str:
    """Why a syscall probe keeps its perf tracepoint under -DSTP_SYSCALL_BTF ("" if it need not)."""
    direction, name = syscall
    if direction in crowded:
        return f"more than {MAX_PER_DIRECTION} syscall probes use {direction}"
    facts = kernel_facts()
    if isinstance(facts, str):
        return facts
    if name not in facts.numbers:
        return f"no syscall number for {name} in asm/unistd_64.h"
    return ""


def crowded_directions(derived_probes: list[Any]) -> set[str]:
    """The directions more than MAX_PER_DIRECTION of the script's probes would attach to."""
    counts: dict[str, int] = {}
    for derived in derived_probes:
        syscall = syscall_direction(derived)
        if syscall is not None:
            counts[syscall[0]] = counts.get(syscall[0], 0) + 1
    return {direction for direction, n in counts.items() if n > MAX_PER_DIRECTION}


def prologue(attach: SyscallAttach) -> Program:
    """Code to run first: returns for other syscalls; otherwise fills the scratch record
    and continues with r1 pointing at it, as if it were the perf tracepoint's record."""
    facts = _facts()
    a = Assembler()
    a.mov(R6, R1)
    a.load(R3, R6, 0, 8)  # struct pt_regs *
    a.load(R2, R3, facts.registers["orig_ax"], 8)
    a.jump_if("!=", R2, attach.number, "skip")
    a.call("get_current_task_btf")
    a.mov(TASK_REGISTER, R0)
    a.load(R1, R0, facts.status_offset, 4)
    a.alu("&=", R1, _TS_COMPAT)
    a.jump_if("!=", R1, 0, "skip")
    a.store(FP, -4, 0, 4)
    a.load_map(R1, RECORD_MAP)
    a.mov(R2, FP)
    a.alu("+=", R2, -4)
    a.call("map_lookup_elem")
    a.jump_if("==", R0, 0, "skip")
    a.mov(R7, R0)
    a.store(R7, _NR_OFFSET, attach.number, 8)
    if attach.direction == "sys_enter":
        a.load(R3, R6, 0, 8)
        for position, register in enumerate(_ARGUMENT_REGISTERS):
            a.load(R1, R3, facts.registers[register], 8)
            a.store(R7, _ARGS_OFFSET + 8 * position, R1, 8)
    else:
        a.load(R1, R6, 8, 8)  # the return value
        a.store(R7, _ARGS_OFFSET, R1, 8)
    a.mov(R1, R7)
    a.jump("continue")
    a.label("skip")
    a.mov(R0, 0)
    a.exit()
    a.label("continue")
    return marked(a.assemble())


def _facts() -> KernelFacts:
    """kernel_facts() where plan_attach() has found them."""
    facts = kernel_facts()
    assert not isinstance(facts, str), facts
    return facts


@lru_cache(maxsize=1)
def kernel_facts() -> KernelFacts | str:
    """This kernel's facts, or why the BTF raw tracepoints cannot be used here."""
    from engine.elaborate.btf import BtfProblem, kernel_btf

    if os.uname().machine != "x86_64":
        return f"BTF syscall probes know x86-64 registers only, not {os.uname().machine}"
    numbers = _syscall_numbers()
    if not numbers:
        return "no asm/unistd_64.h to number the syscalls (install linux-libc-dev)"
    if not kernel_function("bpf_get_current_task_btf"):
        return "the kernel has no bpf_get_current_task_btf() (Linux 5.11)"
    try:
        btf = kernel_btf()
        btf_ids = {d: btf.named("typedef", f"btf_trace_{d}") for d in ("sys_enter", "sys_exit")}
        regs = btf.named("struct", "pt_regs")
        registers = {r: member_offset(btf, regs, r) for r in (*_ARGUMENT_REGISTERS, "orig_ax")}
        task, thread_info = btf.named("struct", "task_struct"), btf.named("struct", "thread_info")
        status = member_offset(btf, task, "thread_info") + member_offset(btf, thread_info, "status")
    except (BtfProblem, OSError, LookupError) as problem:
        return f"kernel BTF: {problem}"
    refusal = _load_refusal(btf_ids["sys_enter"])
    if refusal:
        return refusal
    uname = os.uname()
    return KernelFacts(btf_ids, registers, status, numbers, f"{uname.release} {uname.version}")


def _syscall_numbers() -> dict[str, int]:
    for path in _UNISTD:
        try:
            with open(path) as header:
                text = header.read()
        except OSError:
            continue
        return {m[1]: int(m[2]) for m in re.finditer(r"^#define __NR_(\w+)\s+(\d+)\s*$", text, re.M)}
    return {}


def _load_refusal(btf_id: int) -> str:
    """Why a BTF raw tracepoint program cannot load, from a do-nothing one ("" if it can).
    Without privileges nothing loads anyway: the runtime will say what is missing."""
    if os.geteuid() != 0:
        return ""
    from engine.elaborate.probes.kernel import tracing_program_refusal

    refusal = tracing_program_refusal(btf_id, _BPF_TRACE_RAW_TP)
    return f"loading a BTF raw tracepoint program failed: {refusal}" if refusal else ""
