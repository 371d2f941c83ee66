"""Where the capture programs find the parent pid and effective ids: field offsets in
the running kernel's task_struct and cred, from its BTF (/sys/kernel/btf/vmlinux).

    ppid = current->real_parent->tgid      euid, egid = current->cred->euid, ->egid

Without BTF the programs leave these fields out and the runtime reads /proc instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache


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
    from engine.elaborate.btf import BtfProblem, kernel_btf

    try:
        btf = kernel_btf()
        task = btf.named("struct", "task_struct")
        cred = btf.named("struct", "cred")
        found = [btf.find_member(task, "real_parent"), btf.find_member(task, "tgid"), btf.find_member(task, "cred")]
        found += [btf.find_member(cred, "euid"), btf.find_member(cred, "egid")]
    except (BtfProblem, OSError, LookupError):
        return None
    if any(f is None for f in found):
        return None
    return TaskOffsets(*(offset for offset, _ in found))

