"""The BTF reader, kernel.tracepoint("NAME") and kernel.function detection.

A hand-assembled BTF blob checks the decoder byte for byte; the running kernel's
/sys/kernel/btf/vmlinux checks the tracepoint prototypes and member offsets.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from engine.elaborate import btf as btfinfo
from engine.elaborate.probes.base import ResolutionError, ResolveContext
from engine.elaborate.probes.kernel import KernelFunctionProvider, KernelTracepointProvider, kernel_config
from engine.parse.ast import ProbePoint, ProbePointComponent, StringLiteral, TargetComponent, TargetSymbol
from tests.support import require, require_root

CTX = ResolveContext()


def _blob() -> bytes:
    """int (4, signed); struct pair {int a; int *b;}; ptr -> int; typedef btf_trace_demo -> ptr -> proto."""
    strings = b"\0int\0pair\0a\0b\0btf_trace_demo\0"
    name = {s: strings.index(s.encode() + b"\0") for s in ("int", "pair", "a", "b", "btf_trace_demo")}
    types = b"".join([
        struct.pack("<III", name["int"], 1 << 24, 4) + struct.pack("<I", (1 << 24) | 32),  # [1] int, signed, 32 bits
        struct.pack("<III", 0, 2 << 24, 1),  # [2] int *
        struct.pack("<III", name["pair"], (4 << 24) | 2, 16)
        + struct.pack("<III", name["a"], 1, 0) + struct.pack("<III", name["b"], 2, 64),  # [3] struct pair
        struct.pack("<III", 0, 2 << 24, 3),  # [4] struct pair *
        struct.pack("<III", 0, (13 << 24) | 3, 0)  # [5] void (void *, struct pair *, int)
        + struct.pack("<II", 0, 6) + struct.pack("<II", 0, 4) + struct.pack("<II", 0, 1),
        struct.pack("<III", 0, 2 << 24, 0),  # [6] void *
        struct.pack("<III", 0, 2 << 24, 5),  # [7] pointer to the proto
        struct.pack("<III", name["btf_trace_demo"], 8 << 24, 7),  # [8] typedef
    ])
    header = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings))
    return header + types + strings


def test_decoder_on_a_hand_made_blob():
    btf = btfinfo.Btf(_blob())
    assert len(btf) == 8
    pair = btf.type(3)
    assert (pair.kind, pair.name, pair.size) == ("struct", "pair", 16)
    assert [(m.name, m.type, m.bit_offset) for m in pair.members] == [("a", 1, 0), ("b", 2, 64)]
    assert btf.type(1).signed and btf.type_name(2) == "int*" and btf.type_name(4) == "struct pair*"
    assert btf.by_name("pair") == [3]
    assert btf.find_member(3, "b") == (8, pair.members[1])
    args = btf.tracepoint_args("demo")
    assert [btf.type_name(a.type) for a in args] == ["struct pair*", "int"]
    assert btf.tracepoint_names() == ["demo"]


def test_bad_blobs_are_reported():
    with pytest.raises(btfinfo.BtfProblem, match=r"^bad BTF magic 0x1234$"):
        btfinfo.Btf(struct.pack("<HBBIIIII", 0x1234, 1, 0, 24, 0, 0, 0, 0))
    with pytest.raises(btfinfo.BtfProblem, match=r"^cannot read kernel BTF /nonexistent: No such file or directory$"):
        btfinfo.Btf.vmlinux("/nonexistent")


def _require_btf():
    require(Path(btfinfo.VMLINUX).exists(), f"kernel BTF at {btfinfo.VMLINUX}")


def _point(functor: str, name: str, *rest: str) -> ProbePoint:
    return ProbePoint([ProbePointComponent("kernel"), ProbePointComponent(functor, StringLiteral(name))]
                      + [ProbePointComponent(r) for r in rest])


def test_vmlinux_task_struct_members():
    _require_btf()
    btf = btfinfo.kernel_btf()
    task = next(i for i in btf.by_name("task_struct") if btf.type(i).kind == "struct")
    offset, comm = btf.find_member(task, "comm")
    assert btf.type_name(comm.type) == "char[]" and btf.size_of(comm.type) == 16
    _, pid = btf.find_member(task, "pid")
    assert btf.type_name(pid.type) == "pid_t" and btf.size_of(pid.type) == 4 and btf.strip(pid.type).signed


def test_sched_tracepoints_listing_with_btf_types():
    _require_btf()
    listed = {p.point: p.format(True) for p in KernelTracepointProvider().list(_point("tracepoint", "sched_*"), CTX)}
    assert listed['kernel.tracepoint("sched_switch")'] == (
        'kernel.tracepoint("sched_switch") $arg1:bool $arg2:struct task_struct* $arg3:struct task_struct* $arg4:unsigned int'
    )
    assert listed['kernel.tracepoint("sched_process_exec")'] == (
        'kernel.tracepoint("sched_process_exec") $arg1:struct task_struct* $arg2:pid_t $arg3:struct linux_binprm*'
    )
    assert list(listed) == sorted(listed) and len(listed) > 20


def test_tracepoint_member_captures_use_btf_offsets():
    _require_btf()
    btf = btfinfo.kernel_btf()
    probe = KernelTracepointProvider().resolve(_point("tracepoint", "sched_switch"), CTX)[0]
    task = next(i for i in btf.by_name("task_struct") if btf.type(i).kind == "struct")
    pid_offset = btf.find_member(task, "pid")[0]
    value = probe.resolve_target(TargetSymbol("$arg3", [TargetComponent("member", "pid")]), CTX)
    assert value.description == f"$arg3->pid: args[2]; add {pid_offset}; load 4 -> 4 bytes, signed, kernel memory"
    comm = probe.resolve_target(TargetSymbol("$arg2", [TargetComponent("member", "comm")], pretty="$"), CTX)
    assert comm.capture.text() == "%s"
    assert probe.resolve_target(TargetSymbol("$arg1"), CTX).description == "$arg1: args[0] -> 1 bytes"
    with pytest.raises(ResolutionError, match=r"^unable to find tracepoint variable '\$arg5' \(alternatives: \$arg1, \$arg2, \$arg3, \$arg4\)$"):
        probe.resolve_target(TargetSymbol("$arg5"), CTX)
    with pytest.raises(ResolutionError, match=r"^unable to find member 'nope' for struct task_struct \(alternatives: "):
        probe.resolve_target(TargetSymbol("$arg2", [TargetComponent("member", "nope")]), CTX)


def test_unknown_tracepoint_matches_nothing():
    _require_btf()
    assert KernelTracepointProvider().resolve(_point("tracepoint", "no_such_tracepoint"), CTX) == []


def test_kernel_function_reports_each_mechanism_tried():
    """This kernel has no kprobes and refuses fentry and the function tracer (EPERM)."""
    require_root()
    provider = KernelFunctionProvider()
    with pytest.raises(ResolutionError) as caught:
        provider.resolve(_point("function", "vfs_read", "return"), CTX)
    message = caught.value.message
    assert message.startswith("kernel function probes are unavailable on this kernel: kprobes: ")
    if kernel_config("KPROBES") is None and not os.path.exists("/sys/kernel/tracing/kprobe_events"):
        assert "kprobes: no /sys/kernel/tracing/kprobe_events and no kprobe PMU (CONFIG_KPROBES is not set)" in message
    assert "; fentry/fexit: loading a BPF_TRACE_FENTRY program failed: Operation not permitted" in message
    assert message.endswith(
        "; function tracer: reading /sys/kernel/tracing/available_filter_functions failed: Operation not permitted"
    )
    assert provider.unavailable(CTX) == message
    with pytest.raises(ResolutionError):
        provider.list(_point("function", "*"), CTX)


def test_truncated_type_section_is_reported():
    blob = _blob()
    with pytest.raises(btfinfo.BtfProblem, match=r"^BTF type section is truncated$"):
        btfinfo.Btf(blob[:24] + blob[24:30])


def test_tracepoint_pretty_values_are_strings():
    _require_btf()
    probe = KernelTracepointProvider().resolve(_point("tracepoint", "sched_switch"), CTX)[0]
    pointer = probe.resolve_target(TargetSymbol("$arg2", pretty="$"), CTX)
    assert pointer.type.value == "string" and pointer.capture.text() == "%#x"
    pid = probe.resolve_target(TargetSymbol("$arg2", [TargetComponent("member", "pid")], pretty="$"), CTX)
    assert pid.capture.text() == "%d"
    with pytest.raises(ResolutionError, match=r"^pretty-printing the kernel structure 'struct sched_entity' is not supported; name a member such as '->load'$"):
        probe.resolve_target(TargetSymbol("$arg2", [TargetComponent("member", "se")], pretty="$"), CTX)
