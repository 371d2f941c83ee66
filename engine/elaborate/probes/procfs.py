"""procfs("NAME").read/.write [.maxsize(N)] [.umask(N)]: files a script serves.

stap creates /proc/systemtap/MODULE/NAME; this runtime serves the same name as a
named pipe in its run directory. `$value` is the text read (write probes) or the text
to serve (read probes, assigned by the handler).
"""

from __future__ import annotations

from engine.elaborate.probes.base import (
    DerivedProbe,
    ProbeProvider,
    ResolutionError,
    ResolveContext,
    TargetValue,
    Match,
    TargetVar,
    register,
)
from engine.parse.ast import Node, ProbePoint, TargetSymbol, Type

_DEFAULT_NAME = "command"


def _patterns() -> tuple[str, ...]:
    shapes = []
    for head in ("procfs", "procfs(string)"):
        for umask in ("", ".umask(number)"):
            shapes += [f"{head}{umask}.read", f"{head}{umask}.read.maxsize(number)", f"{head}{umask}.write"]
    return tuple(shapes)


class ProcfsProvider(ProbeProvider):
    family = "procfs"
    description = "files served by the running script: procfs(\"NAME\").read/.write"
    patterns = _patterns()

    def resolve(self, point: ProbePoint, ctx: ResolveContext) -> list[DerivedProbe]:
        return [self._derive(point, match) for match in self.match(point)]

    def _derive(self, point: ProbePoint, match: Match) -> DerivedProbe:
        args = match.args
        data = {
            "name": args["procfs"] or _DEFAULT_NAME,
            "direction": "write" if "write" in args else "read",
            "maxsize": args.get("maxsize"),
            "umask": args.get("umask"),
        }
        value = TargetVar("$value", "string", Type.STRING)
        return self.derive(point, match.text(), "named pipe served by the runtime", target_vars={"$value": value}, data=data)

    def resolve_target(self, probe: DerivedProbe, expr: Node, ctx: ResolveContext, *, write: bool = False) -> TargetValue:
        if not isinstance(expr, TargetSymbol) or expr.name != "$value" or expr.components or expr.pretty:
            raise ResolutionError("invalid target symbol for procfs probe, $value expected", expr)
        direction = probe.data["direction"]
        if direction == "read" and not write:
            raise ResolutionError("procfs $value variable cannot be read in a procfs read probe", expr)
        if direction == "write" and write:
            raise ResolutionError("procfs $value variable is read-only in a procfs write probe", expr)
        return TargetValue(Type.STRING, "value", "the procfs file's text")


register(ProcfsProvider())
