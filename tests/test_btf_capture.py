"""kernel.tracepoint("NAME") fired for real: BTF argument and member offsets give exact values.

The raw tracepoint sched_process_exec fires when the test program execs; its
arguments are (struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm).
"""

from __future__ import annotations

from engine.elaborate.probes.kernel import KernelTracepointProvider
from engine.parse.ast import ProbePoint, ProbePointComponent, StringLiteral
from tests.programs import build
from tests.test_uprobe_capture import CTX, Probe, fire, harness  # noqa: F401 - the harness fixture


def test_sched_process_exec_arguments_and_task_fields(harness, tmp_path):  # noqa: F811
    binary = str(build("probed", "-O2"))
    point = ProbePoint([ProbePointComponent("kernel"), ProbePointComponent("tracepoint", StringLiteral("sched_process_exec"))])
    derived = KernelTracepointProvider().resolve(point, CTX)[0]
    probe = Probe(binary, (), [("$arg2", False), ("$arg1->pid", False), ("$arg1->tgid", False), ("$arg1->comm", True)],
                  derived=derived)
    (execs,) = fire(harness, tmp_path, binary, [probe], child_only=True)
    assert len(execs) == 1
    old_pid, pid, tgid, comm = execs[0]
    assert old_pid == pid == tgid
    assert comm == build("probed", "-O2").name[:15]  # the kernel keeps 15 bytes of the new image's name
