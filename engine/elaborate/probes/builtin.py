"""begin, end, error (with optional sequence numbers) and never: probes with no kernel side."""

from __future__ import annotations

from engine.elaborate.probes.base import DerivedProbe, Match, ProbeProvider, ResolveContext, register
from engine.parse.ast import ProbePoint


class BuiltinProvider(ProbeProvider):
    """`begin[(N)]`, `end[(N)]`, `error[(N)]`: run by the runtime in sequence order."""

    family = "builtin"
    description = "session start, end and error handlers, ordered by sequence number"
    patterns = ("begin", "begin(number)", "end", "end(number)", "error", "error(number)")

    def resolve(self, point: ProbePoint, ctx: ResolveContext) -> list[DerivedProbe]:
        return [self._derive(point, match) for match in self.match(point)]

    def _derive(self, point: ProbePoint, match: Match) -> DerivedProbe:
        kind = match.pattern.parts[0].functor
        data = {"kind": kind, "sequence": match.args.get(kind) or 0}
        return self.derive(point, match.text(), f"run by the runtime at session {kind}", data=data)


class NeverProvider(ProbeProvider):
    """`never`: a probe that is compiled and checked but never fires."""

    family = "never"
    description = "a handler that is checked but never runs"
    patterns = ("never",)

    def resolve(self, point: ProbePoint, ctx: ResolveContext) -> list[DerivedProbe]:
        self.match(point)
        return [self.derive(point, "never", "never attached")]


register(BuiltinProvider())
register(NeverProvider())
