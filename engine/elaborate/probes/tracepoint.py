"""kernel.trace("SYSTEM:EVENT"): every tracefs event, with its format fields as $vars.

A wildcard matches against tracefs (`kernel.trace("sched:*")`, `kernel.trace("*openat")`
for any system). Each field of the event's format is a target variable: integers as
long, `char[N]` and `__data_loc char[]` fields as strings copied at probe time, pointers
as long (read the string behind a user pointer with user_string(), which the capture
plan then copies at probe time). `$$vars`/`$$parms` format every field, `$$name` and
`$$system` name the event.
"""

from __future__ import annotations

from engine.elaborate.probes import tracefs
from engine.elaborate.probes.base import (
    DerivedProbe,
    ProbeProvider,
    ResolutionError,
    ResolveContext,
    TargetValue,
    TargetVar,
    register,
)
from engine.parse.ast import Node, ProbePoint, TargetSymbol, Type
from engine.translate.bpf import plan as P

DEFAULT_MAXSTRINGLEN = 512


class TracepointProvider(ProbeProvider):
    family = "kernel.trace"
    description = 'kernel tracepoints from tracefs: kernel.trace("SYSTEM:EVENT") with wildcards'
    patterns = ("kernel.trace(string)",)

    def resolve(self, point: ProbePoint, ctx: ResolveContext) -> list[DerivedProbe]:
        pattern = self.match(point)[0].args["trace"]
        return [self.derive_event(point, system, event) for system, event in _events(pattern, point)]

    def derive_event(self, point: ProbePoint, system: str, event: str) -> DerivedProbe:
        fmt = _format(system, event, point)
        return self.derive(
            point,
            f'kernel.trace("{system}:{event}")',
            f"tracepoint {system}:{event} (id {fmt.id}), BPF program attached with perf_event_open",
            target_vars=event_variables(fmt),
            data={"tracepoint": fmt.name, "id": fmt.id, "format digest": fmt.digest},
        )

    def unavailable(self, ctx: ResolveContext) -> str | None:
        try:
            tracefs.tracefs_dir()
        except tracefs.TracefsError as error:
            return str(error)
        return None

    def resolve_target(self, probe: DerivedProbe, expr: Node, ctx: ResolveContext, *, write: bool = False) -> TargetValue:
        system, event = probe.data["tracepoint"].split(":", 1)
        return resolve_field_target(tracefs.event_format(system, event), expr, ctx, write=write)


def event_variables(fmt: tracefs.EventFormat) -> dict[str, TargetVar]:
    """`$field` for every readable field of the event (for -L and the browser)."""
    variables = {}
    for f in fmt.own_fields():
        if f.is_integer or f.is_char_array or f.is_data_loc_string:
            kind = Type.STRING if (f.is_char_array or f.is_data_loc_string) else Type.LONG
            variables["$" + f.name] = TargetVar("$" + f.name, f.c_type.replace(" *", "*"), kind)
    return variables


def resolve_field_target(fmt: tracefs.EventFormat, expr: Node, ctx: ResolveContext, *, write: bool = False) -> TargetValue:
    """Resolve `$field`, `$field$`, `$$vars`, `$$parms`, `$$name`, `$$system` against `fmt`."""
    if not isinstance(expr, TargetSymbol):
        raise ResolutionError("unsupported target expression for a tracepoint probe", expr)
    if write:
        raise ResolutionError("write to tracepoint variable not permitted; the value is captured at probe time", expr)
    if expr.addressof:
        raise ResolutionError("cannot take the address of a tracepoint field", expr)
    if expr.components:
        raise ResolutionError(f"tracepoint field {expr.name} is not a structure or array here", expr)
    maxlen = _maxstringlen(ctx)
    if expr.name in ("$$vars", "$$parms", "$$locals"):
        return _all_fields(fmt, maxlen, pretty=bool(expr.pretty))
    if expr.name in ("$$name", "$$system"):
        text = fmt.event if expr.name == "$$name" else fmt.system
        return TargetValue(Type.STRING, P.TargetRead(P.CONST_READ, text=text), f"{expr.name}: {text!r}")
    field = fmt.field(_field_name(fmt, expr.name))
    if field is None or field.common:
        names = " ".join("$" + f.name for f in fmt.own_fields())
        raise ResolutionError(f"unable to find tracepoint variable '{expr.name}' (alternatives: {names})", expr)
    capture = field_capture(field, maxlen)
    if capture is None:
        raise ResolutionError(f"tracepoint field '{expr.name}' has type {field.c_type}, which cannot be read yet", expr)
    if expr.pretty:
        return TargetValue(Type.STRING, P.TargetRead(P.PRETTY_READ, (capture,)), _describe(capture))
    if capture.kind == P.INT:
        return TargetValue(Type.LONG, P.TargetRead(P.LONG_READ, (capture,)), _describe(capture))
    return TargetValue(Type.STRING, P.TargetRead(P.STRING_READ, (capture,)), _describe(capture))


def _field_name(fmt: tracefs.EventFormat, name: str) -> str:
    """`$return` of a syscall exit tracepoint is its `ret` field, as in stap's syscall.*.return."""
    if name == "$return" and fmt.event.startswith("sys_exit"):
        return "ret"
    return name[1:]


def field_capture(field: tracefs.EventField, maxlen: int) -> P.Capture | None:
    """The capture that copies `field` at probe time, or None for unsupported types."""
    name = "$" + field.name
    if field.is_data_loc_string:
        return P.Capture(name, P.DATA_LOC, field.offset, field.size, buffer=maxlen)
    if field.is_char_array:
        return P.Capture(name, P.CHAR_ARRAY, field.offset, field.size, buffer=maxlen)
    if field.is_integer:
        size, signed = field.value_width
        return P.Capture(name, P.INT, field.offset, size, signed)
    return None


def _all_fields(fmt: tracefs.EventFormat, maxlen: int, pretty: bool) -> TargetValue:
    captures, names = [], []
    for f in fmt.own_fields():
        capture = field_capture(f, maxlen)
        if capture is not None:
            captures.append(capture)
            names.append(f.name)
    read = P.TargetRead(P.VARS_READ, tuple(captures), tuple(names))
    return TargetValue(Type.STRING, read, "every field: " + " ".join(names))


def _describe(capture: P.Capture) -> str:
    if capture.kind == P.INT:
        sign = "signed" if capture.signed else "unsigned"
        return f"{capture.name}: {capture.size}-byte {sign} field at offset {capture.ctx_offset}"
    return f"{capture.name}: {capture.kind.replace('_', ' ')} at offset {capture.ctx_offset}, up to {capture.buffer - 1} bytes"


def _maxstringlen(ctx: ResolveContext) -> int:
    try:
        return int(ctx.options.defines.get("MAXSTRINGLEN") or DEFAULT_MAXSTRINGLEN)
    except ValueError:
        return DEFAULT_MAXSTRINGLEN


def _events(pattern: str, point: ProbePoint) -> list[tuple[str, str]]:
    try:
        return tracefs.list_events(pattern)
    except tracefs.TracefsError as error:
        raise ResolutionError(str(error), point.components[-1]) from None


def _format(system: str, event: str, point: ProbePoint) -> tracefs.EventFormat:
    try:
        return tracefs.event_format(system, event)
    except tracefs.TracefsError as error:
        raise ResolutionError(str(error), point.components[-1]) from None


register(TracepointProvider())
