"""Kernel probes typed by BTF: kernel.tracepoint("NAME"), and kernel.function detection.

`kernel.tracepoint("NAME")` (SystemTap 5's BTF tracepoints) attaches a raw-tracepoint
BPF program; its context is the tracepoint's arguments as u64s, typed by the kernel's
`btf_trace_NAME` prototype, offered as `$arg1`... with member access (`$arg2->pid`).

`kernel.function(...)`/`module(...).function(...)` need kprobes, fentry/fexit BPF
trampolines or the function tracer. Each mechanism is tried without side effects
(config, tracefs files, loading a do-nothing fentry program) and the probe fails in
pass 2 with what was tried and why each is unavailable. The fentry path itself is not
implemented here: on the machines this was written on all three are unavailable, so
listings promise nothing and resolution always reports the reasons.
"""

from __future__ import annotations

import ctypes
import fnmatch
import gzip
import os
import struct
from dataclasses import dataclass, replace

from engine.elaborate import btf as btfinfo
from engine.elaborate.dwarf_capture import Capture, PrettyPlan, Step, component_token, spelled
from engine.elaborate.probes.base import (
    DerivedProbe,
    ListedProbe,
    ProbeProvider,
    ResolutionError,
    ResolveContext,
    TargetValue,
    TargetVar,
    register,
)
from engine.parse.ast import Node, NumberLiteral, ProbePoint, TargetSymbol, Type

TRACEFS = "/sys/kernel/tracing"


# ---------------------------------------------------------------------------
# kernel.tracepoint("NAME"): raw tracepoints with BTF-typed arguments


@dataclass(eq=False)
class BtfTracepointProbe(DerivedProbe):
    args: list | None = None  # the BtfMembers of the prototype (types of $arg1...)


class KernelTracepointProvider(ProbeProvider):
    family = "kernel.tracepoint"
    description = "kernel tracepoints as raw tracepoints, arguments typed by the kernel's BTF"
    patterns = ("kernel.tracepoint(string)",)

    def unavailable(self, ctx: ResolveContext) -> str | None:
        try:
            btfinfo.kernel_btf()
        except btfinfo.BtfProblem as problem:
            return str(problem)
        return None

    def resolve(self, point: ProbePoint, ctx: ResolveContext) -> list[DerivedProbe]:
        pattern = self.match(point)[0].args["tracepoint"]
        btf = self._btf(point)
        names = [n for n in btf.tracepoint_names() if fnmatch.fnmatchcase(n, pattern)]
        return [self._probe(point, btf, name) for name in names]

    def list(self, point: ProbePoint, ctx: ResolveContext) -> list[ListedProbe]:
        return [ListedProbe(d.point, list(d.target_vars.values()), self.family) for d in self.resolve(point, ctx)]

    def _btf(self, point: ProbePoint) -> btfinfo.Btf:
        try:
            return btfinfo.kernel_btf()
        except btfinfo.BtfProblem as problem:
            raise ResolutionError(f"kernel.tracepoint needs the kernel's BTF: {problem}", point.components[0]) from None

    def _probe(self, point: ProbePoint, btf: btfinfo.Btf, name: str) -> BtfTracepointProbe:
        args = btf.tracepoint_args(name) or []
        variables = {f"$arg{i}": TargetVar(f"$arg{i}", btf.type_name(a.type)) for i, a in enumerate(args, 1)}
        return BtfTracepointProbe(
            f'kernel.tracepoint("{name}")',
            self.family,
            f"raw tracepoint {name} (BPF_RAW_TRACEPOINT_OPEN), BTF prototype btf_trace_{name}",
            self,
            location=point,
            target_vars=variables,
            data={"raw_tracepoint": name, "arguments": len(args)},
            args=args,
        )

    def resolve_target(self, probe: DerivedProbe, expr: Node, ctx: ResolveContext, *, write: bool = False) -> TargetValue:
        if write:
            raise ResolutionError("writing to target variables is not supported by this runtime", expr)
        if not isinstance(expr, TargetSymbol):
            raise ResolutionError("unsupported target expression in a kernel.tracepoint probe", expr)
        btf = btfinfo.kernel_btf()
        if expr.name in ("$$parms", "$$vars"):
            return _btf_vars(probe, btf)
        type_id, capture = _btf_arg(probe, expr)
        for component in expr.components:
            type_id, capture = _btf_step(btf, type_id, capture, component, expr)
        return _btf_final(btf, type_id, capture, expr)


def _btf_arg(probe: BtfTracepointProbe, expr: TargetSymbol) -> tuple[int, Capture]:
    number = expr.name[4:] if expr.name.startswith("$arg") else ""
    count = len(probe.args or [])
    if not number.isdigit() or not 1 <= int(number) <= count:
        names = ", ".join(probe.target_vars)
        raise ResolutionError(f"unable to find tracepoint variable '{expr.name}' (alternatives: {names})", expr)
    capture = Capture(f"arg{int(number) - 1}", source="raw_tracepoint", memory="kernel")
    return probe.args[int(number) - 1].type, capture


def _btf_step(btf: btfinfo.Btf, type_id: int, capture: Capture, component, expr: Node) -> tuple[int, Capture]:
    """One `->name` / `[n]`: the capture then holds the address of the member/element."""
    t = btf.strip(type_id)
    if component.kind == "index":
        if not isinstance(component.index, NumberLiteral) or t.kind != "ptr":
            raise ResolutionError("only a literal index through a pointer can be captured at probe time", component,
                                  component_token(component))
        element = t.type
        return element, _loaded(btf, element, capture.then(Step("add", component.index.value * btf.size_of(element))))
    if t.kind == "ptr":
        type_id, t = t.type, btf.strip(t.type)
    if t.kind not in ("struct", "union"):
        raise ResolutionError(f"invalid access '->{component.name}' vs. {btf.type_name(btf.strip(type_id).id)}", component,
                              component_token(component))
    found = btf.find_member(type_id, component.name)
    if found is None:
        names = ", ".join(m.name for m in t.members if m.name)
        raise ResolutionError(
            f"unable to find member '{component.name}' for {btf.type_name(type_id)} (alternatives: {names})",
            component,
            component_token(component),
        )
    offset, member = found
    if member.bit_size:
        raise ResolutionError(f"bitfield member '{component.name}' cannot be captured", component, component_token(component))
    return member.type, _loaded(btf, member.type, capture.then(Step("add", offset)))


def _loaded(btf: btfinfo.Btf, type_id: int, address: Capture) -> Capture:
    """Read the value at `address` unless it is an aggregate (then the address is the value)."""
    t = btf.strip(type_id)
    if t.kind in ("struct", "union", "array"):
        return replace(address, size=8, signed=False)
    size = btf.size_of(type_id)
    return address.then(Step("load", size, t.signed))


def _btf_final(btf: btfinfo.Btf, type_id: int, capture: Capture, expr: TargetSymbol) -> TargetValue:
    t = btf.strip(type_id)
    if t.kind in ("struct", "union"):
        first = next((m.name for m in t.members if m.name), "")
        name = btf.type_name(type_id)
        if expr.pretty:
            raise ResolutionError(f"pretty-printing the kernel structure '{name}' is not supported; "
                                  f"name a member such as '->{first}'", expr)
        raise ResolutionError(f"'{name}' is being accessed instead of a member such as '->{first}'", expr)
    size = 8 if t.kind in ("ptr", "array") else max(btf.size_of(type_id), 1)
    final = replace(capture, size=size, signed=t.signed if t.kind in ("int", "enum", "enum64") else False)
    if not expr.pretty:
        return TargetValue(Type.LONG, final, f"{spelled(expr)}: {final.describe()}")
    if _is_char_array_or_pointer(btf, t):
        plan = PrettyPlan([(final, "string")])
        return TargetValue(Type.STRING, plan, f"{expr.name}{expr.pretty}: kernel string at {final.describe()}")
    plan = PrettyPlan([(final, "%#x" if t.kind in ("ptr", "array") else "%d")])
    return TargetValue(Type.STRING, plan, f"{expr.name}{expr.pretty}: {plan.text()}")


def _is_char_array_or_pointer(btf: btfinfo.Btf, t: btfinfo.BtfType) -> bool:
    if t.kind not in ("ptr", "array"):
        return False
    target = btf.strip(t.type)
    return target.kind == "int" and target.size == 1


def _btf_vars(probe: BtfTracepointProbe, btf: btfinfo.Btf) -> TargetValue:
    plan = PrettyPlan()
    for i, arg in enumerate(probe.args or [], 1):
        capture = Capture(f"arg{i - 1}", source="raw_tracepoint", memory="kernel", size=max(min(btf.size_of(arg.type), 8), 1))
        plan.items += [(" " if i > 1 else "") + f"arg{i}=", (capture, "%#x")]
    return TargetValue(Type.STRING, plan, f"$$parms: {plan.text()}")


# ---------------------------------------------------------------------------
# kernel.function: detection of what is missing


_FUNCTION_SUFFIXES = ("", ".call", ".return", ".inline", ".exported")


class KernelFunctionProvider(ProbeProvider):
    family = "kernel.function"
    description = "kernel functions (kprobes / fentry): unavailable on this kernel, see the reason"
    patterns = tuple(
        f"{head}.function(string){suffix}"
        for head in ("kernel", "module(string)")
        for suffix in _FUNCTION_SUFFIXES
    ) + ("kernel.statement(string)", "kernel.statement(number)", "module(string).statement(string)")

    def unavailable(self, ctx: ResolveContext) -> str | None:
        return function_probe_unavailable()

    def resolve(self, point: ProbePoint, ctx: ResolveContext) -> list[DerivedProbe]:
        self.match(point)
        reason = function_probe_unavailable()
        if reason is None:
            reason = "kernel.function probes are not implemented by this translator (the fentry path is untested)"
        raise ResolutionError(reason, point.components[1] if len(point.components) > 1 else point.components[0])

    def list(self, point: ProbePoint, ctx: ResolveContext) -> list[ListedProbe]:
        self.resolve(point, ctx)
        return []


def function_probe_unavailable() -> str | None:
    """Why no kernel-function mechanism works here (None if one seems to), naming each tried."""
    reasons = [_kprobes(), _fentry(), _function_tracer()]
    if any(reason is None for reason in reasons):
        return None
    return "kernel function probes are unavailable on this kernel: " + "; ".join(reasons)


def kernel_config(option: str) -> str | None:
    """The value of CONFIG_`option` from /proc/config.gz ("y", "m", ...), None if unset or unknown."""
    try:
        text = gzip.decompress(open("/proc/config.gz", "rb").read()).decode("utf-8", "replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(f"CONFIG_{option}="):
            return line.split("=", 1)[1]
    return None


def _kprobes() -> str | None:
    if os.path.exists(f"{TRACEFS}/kprobe_events") or os.path.isdir("/sys/bus/event_source/devices/kprobe"):
        return None
    config = " (CONFIG_KPROBES is not set)" if kernel_config("KPROBES") is None else ""
    return f"kprobes: no {TRACEFS}/kprobe_events and no kprobe PMU{config}"


def _function_tracer() -> str | None:
    path = f"{TRACEFS}/available_filter_functions"
    try:
        with open(path, "rb") as stream:
            stream.read(1)
    except OSError as error:
        return f"function tracer: reading {path} failed: {error.strerror}"
    return "function tracer: present, but attaching handlers to it is not implemented (it cannot deliver arguments)"


_BPF_PROG_LOAD = 5
_BPF_PROG_TYPE_TRACING = 26
_BPF_TRACE_FENTRY = 24
_SYS_BPF = 321  # x86-64


def _fentry() -> str | None:
    """Load a do-nothing fentry program for vfs_read: the kernel's answer is the reason."""
    try:
        btf = btfinfo.kernel_btf()
    except btfinfo.BtfProblem as problem:
        return f"fentry/fexit: {problem}"
    try:
        function = btf.named("func", "vfs_read")
    except LookupError:
        return "fentry/fexit: vfs_read is not in the kernel's BTF"
    refusal = tracing_program_refusal(function, _BPF_TRACE_FENTRY)
    if not refusal:
        return "fentry/fexit: a program loads, but attaching kernel-function handlers is not implemented"
    return f"fentry/fexit: loading a BPF_TRACE_FENTRY program failed: {refusal}"


def tracing_program_refusal(btf_id: int, attach_type: int) -> str:
    """Why the kernel refuses a do-nothing BPF_PROG_TYPE_TRACING program for `attach_type`
    at BTF type `btf_id` ("" when it loads it)."""
    libc = ctypes.CDLL(None, use_errno=True)
    code = ctypes.create_string_buffer(bytes.fromhex("b700000000000000" "9500000000000000"))  # r0 = 0; exit
    license_text = ctypes.create_string_buffer(b"GPL")
    attr = bytearray(128)
    struct.pack_into("<IIQQ", attr, 0, _BPF_PROG_TYPE_TRACING, 2, ctypes.addressof(code), ctypes.addressof(license_text))
    struct.pack_into("<I", attr, 68, attach_type)  # expected_attach_type
    struct.pack_into("<I", attr, 108, btf_id)  # attach_btf_id
    buffer = (ctypes.c_char * len(attr)).from_buffer(attr)
    fd = libc.syscall(_SYS_BPF, _BPF_PROG_LOAD, buffer, len(attr))
    if fd < 0:
        return os.strerror(ctypes.get_errno())
    os.close(fd)
    return ""


register(KernelTracepointProvider())
register(KernelFunctionProvider())
