"""What BPF programs read of the current task, with field offsets in the running
kernel's task_struct and cred from its BTF (/sys/kernel/btf/vmlinux).

    ppid = current->real_parent->tgid      euid, egid = current->cred->euid, ->egid

Without BTF the programs leave these fields out and the runtime reads /proc instead.

Tracepoint programs start with a prologue that keeps the task (bpf_get_current_task_btf)
in TASK_REGISTER; what follows loads comm, pid, tid, the parent and credentials from it.
Each helper call it saves costs tens of ns on kernels with return-thunk mitigations.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from engine.translate.bpf.asm import Assembler, Program
from engine.translate.bpf.isa import R0, R1, R6, R9, Reg

TASK_REGISTER = R9  # callee-saved, and unused by the programs after the prologue
PROLOGUE_MARK = "prologue"  # no map: where a prologue ends (runtime_c/bpf_probes.c keeps it for a fallback)


@dataclass(frozen=True)
class TaskOffsets:
    real_parent: int
    tgid: int
    cred: int
    euid: int
    egid: int


@lru_cache(maxsize=1)
def task_offsets() -> TaskOffsets | None:
    """The offsets for this kernel, or None when its BTF cannot say."""
    task = ("real_parent", "tgid", "cred")
    offsets = struct_offsets([("task_struct", m) for m in task] + [("cred", "euid"), ("cred", "egid")])
    return TaskOffsets(*offsets) if offsets else None


def struct_offsets(members: list[tuple[str, str]]) -> list[int] | None:
    """Byte offsets of (struct, member) pairs in the kernel's BTF, None if it cannot say."""
    from engine.elaborate.btf import BtfProblem, kernel_btf

    try:
        btf = kernel_btf()
        return [member_offset(btf, btf.named("struct", name), member) for name, member in members]
    except (BtfProblem, OSError, LookupError):
        return None


def member_offset(btf, struct_id: int, name: str) -> int:
    found = btf.find_member(struct_id, name)
    if found is None:
        raise LookupError(f"no member {name} in struct {btf.type(struct_id).name}")
    return found[0]


def kernel_function(name: str) -> bool:
    """Whether the kernel's BTF has a function `name` (helpers, to know they exist)."""
    from engine.elaborate.btf import BtfProblem, kernel_btf

    try:
        kernel_btf().named("func", name)
    except (BtfProblem, OSError, LookupError):
        return False
    return True


@dataclass(frozen=True)
class CurrentTask:
    """Offsets in task_struct of what programs read from TASK_REGISTER, and whether the
    kernel has task-local storage (bpf_task_storage_get) for them."""

    comm: int
    pid: int
    tgid: int
    task_storage: bool


@lru_cache(maxsize=1)
def current_task() -> CurrentTask | None:
    """The offsets for this kernel, or None when its BTF cannot say or it has no
    bpf_get_current_task_btf() (Linux 5.11): programs then call the older helpers."""
    offsets = struct_offsets([("task_struct", member) for member in ("comm", "pid", "tgid")])
    if offsets is None or not kernel_function("bpf_get_current_task_btf"):
        return None
    return CurrentTask(*offsets, kernel_function("bpf_task_storage_get"))


def copy_comm(a: Assembler, current: CurrentTask, base: Reg, offset: int) -> None:
    """*(base + offset) = the task's comm, 16 bytes (zero-padded, as the kernel keeps it),
    loaded from TASK_REGISTER; clobbers r1."""
    for word in range(2):
        a.load(R1, TASK_REGISTER, current.comm + 8 * word, 8)
        a.store(base, offset + 8 * word, R1, 8)


def task_prologue() -> Program:
    """TASK_REGISTER = the current task; r1 (the context) is passed on unchanged."""
    a = Assembler()
    a.mov(R6, R1)
    a.call("get_current_task_btf")
    a.mov(TASK_REGISTER, R0)
    a.mov(R1, R6)
    return marked(a.assemble())


def marked(prologue: Program) -> Program:
    """`prologue` with PROLOGUE_MARK at its end."""
    prologue.relocations.append((len(prologue.insns), PROLOGUE_MARK))
    return prologue


def prepend(prologue: Program, program: Program) -> Program:
    a = Assembler()
    a.append(prologue)
    a.append(program)
    return a.assemble()
