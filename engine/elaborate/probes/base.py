"""The probe-provider framework: the contract every probe family implements.

A probe family (begin/end, timer, procfs, kernel.trace, syscall, perf, process(...),
kernel.function ...) is one `ProbeProvider` subclass in its own module under
`engine/elaborate/probes/`, registered at import time with `register(Provider())`.
The elaborator never knows the families: for every probe point that is not a probe
alias it asks the registry for the providers whose `functors` contain the point's
first component, keeps those whose `handles(point)` is true, and calls `resolve`.

Contract for provider authors (helpers F and G code against this):

- `patterns`: the probe-point shapes handled, in --dump-probe-types spelling
  (`timer.ms(number).randomize(number)`); `match(point)` checks a point against them
  with stap's errors and returns the `Match`es (literal arguments in `Match.args`).
  When several providers share a first component (kernel.trace, kernel.function),
  the one whose patterns match gets the point.
- `functors`: the first-component names handled, if not derived from `patterns`.
  The default `handles` accepts any point whose first component matches one of them.
- `resolve(point, ctx) -> list[DerivedProbe]`: expand wildcards against what exists
  on this system and return one `DerivedProbe` per concrete probe. On failure raise
  `ResolutionError(message, component)`; the elaborator reports it the way stap does:

      semantic error: while resolving probe point: identifier 'timer' at x.stp:1:7
      semantic error: probe point mismatch (similar: ms, s): identifier 'foo' at :1:13

  An empty list means "no match"; the elaborator then reports stap's
  `no match` error unless the point is optional (`?`) — so wildcards that match
  nothing should return [] rather than raise.
- `list(point, ctx) -> list[ListedProbe]`: the probes a point names, with their
  context variables, for callers that ask one family directly. The default resolves
  and converts. (`pystap -l/-L` and the workbench go through alias expansion,
  engine/elaborate/listing.py, and list each DerivedProbe's `target_vars`.)
- `unavailable(ctx) -> str | None`: why the family cannot work here (no tracefs, no
  kprobes ...), or None. Used by `--dump-probe-types` and the browser.
- `DerivedProbe.resolve_target(expr, ctx, write=False)` (implemented by the provider's
  `resolve_target(probe, expr, ctx, write=...)`): called by symbol resolution for every
  `$var`, `$var->a`, `$$vars`, `@cast`, `@entry` in the handler of that probe (`write`
  when it is assigned to, which only guru mode or procfs `$value` allow). Return
  a `TargetValue` (stap type + provider-specific capture info that the translator
  hands back to the provider's capture-plan emitter) or raise `ResolutionError`. The
  base implementation rejects every target variable exactly like stap does for
  probes without context (begin, timer ...).

`point_text` renders a point the way stap's -p2 prints it (`timer.ms(16)`).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.parse.ast import (
    Node,
    NumberLiteral,
    ProbePoint,
    ProbePointComponent,
    StringLiteral,
    Type,
)

if TYPE_CHECKING:
    from engine.session import Options, Session


class ResolutionError(Exception):
    """A probe point or target expression that cannot be resolved.

    `node` locates the message (the offending component or expression); `token`
    overrides how the node is described (stap's "identifier 'foo'").
    """

    def __init__(self, message: str, node: Node | None = None, token: str | None = None):
        super().__init__(message)
        self.message = message
        self.node = node
        self.token = token


@dataclass
class ResolveContext:
    """What providers may consult while resolving: the session and its options."""

    session: "Session | None" = None
    cache: dict[str, Any] = field(default_factory=dict)  # per-elaboration scratch, keyed by provider

    @property
    def options(self) -> "Options":
        from engine.session import Options

        return self.session.options if self.session is not None else Options()


@dataclass
class TargetVar:
    """A context variable a probe offers: `$filename:string`, `$prev:struct task_struct*`."""

    name: str  # with its sigil, e.g. "$filename"
    type_text: str  # as -L prints it: "long", "string", "struct task_struct*"
    type: Type = Type.LONG  # the script-level type a plain read yields

    def __str__(self) -> str:
        return f"{self.name}:{self.type_text}"


@dataclass
class TargetValue:
    """The result of resolving one target expression for one derived probe."""

    type: Type
    capture: Any = None  # provider-specific: what the kernel side must copy
    description: str = ""  # for explain(): "register rdi, 8 bytes, signed"
    expr: Any = None  # the target expression this value is for (set by the elaborator)


@dataclass
class ListedProbe:
    """One line of `-l` / `-L` output, and one leaf of the workbench's browser."""

    point: str
    variables: list[TargetVar] = field(default_factory=list)
    family: str = ""

    def format(self, with_variables: bool) -> str:
        if not with_variables or not self.variables:
            return self.point
        return self.point + " " + " ".join(str(v) for v in self.variables)


@dataclass(eq=False)
class DerivedProbe:
    """One concrete probe produced by a provider from a (possibly wildcard) probe point.

    `point` is the resolved text stap prints in -p2; `location` is the probe point as
    written (after alias expansion) and `alias_chain` the aliases expanded to reach it,
    outermost first (filled in by the elaborator). `data` is the provider's own.
    """

    point: str
    family: str
    mechanism: str
    provider: "ProbeProvider"
    location: ProbePoint | None = None
    target_vars: dict[str, TargetVar] = field(default_factory=dict)
    is_return: bool = False
    data: dict[str, Any] = field(default_factory=dict)
    alias_chain: list[str] = field(default_factory=list)
    reference: ProbePoint | None = None  # the written point that named the innermost alias (stap -t's location)
    targets: list[TargetValue] = field(default_factory=list)  # resolved during type inference
    condition: Any = None  # the `if (cond)` guard accumulated along the alias chain (an Expr)
    origin: Any = None  # the user's (or tapset's) ast.Probe this was derived from

    def resolve_target(self, expr: Node, ctx: ResolveContext, *, write: bool = False) -> TargetValue:
        """Resolve `$var`-style `expr` (assigned to if `write`) for this probe."""
        return self.provider.resolve_target(self, expr, ctx, write=write)

    def explain(self) -> str:
        """How this probe resolved: alias chain, mechanism, provider details, captures."""
        lines = [f"{self.point}  [{self.family}]"]
        if self.alias_chain:
            lines.append("  via alias " + " -> ".join(self.alias_chain))
        lines.append(f"  mechanism: {self.mechanism}")
        for key, value in self.data.items():
            lines.append(f"  {key}: {value}")
        for target in self.targets:
            if target.description:
                lines.append(f"  capture: {target.description}")
        return "\n".join(lines)


class ProbeProvider:
    """Base class of every probe family; see the module docstring for the contract."""

    functors: tuple[str, ...] = ()
    family: str = ""
    description: str = ""  # one line for --dump-probe-types and the browser
    patterns: tuple[str, ...] = ()  # probe-point shapes, stap's --dump-probe-types style

    def handles(self, point: ProbePoint) -> bool:
        """Whether the point's first component (which may hold `*` wildcards) is ours."""
        if not point.components:
            return False
        head = point.components[0].functor
        return any(fnmatch.fnmatchcase(functor, head) for functor in self.first_functors())

    def first_functors(self) -> tuple[str, ...]:
        return self.functors or tuple(dict.fromkeys(p.split(".")[0].split("(")[0] for p in self.patterns))

    def match(self, point: ProbePoint) -> list[Match]:
        """Match `point` against this provider's `patterns` (raises ResolutionError)."""
        return match_patterns(point, [Pattern.parse(text) for text in self.patterns])

    def resolve(self, point: ProbePoint, ctx: ResolveContext) -> list[DerivedProbe]:
        raise NotImplementedError

    def list(self, point: ProbePoint, ctx: ResolveContext) -> list[ListedProbe]:
        return [
            ListedProbe(d.point, list(d.target_vars.values()), self.family) for d in self.resolve(point, ctx)
        ]

    def unavailable(self, ctx: ResolveContext) -> str | None:
        return None

    def resolve_target(self, probe: DerivedProbe, expr: Node, ctx: ResolveContext, *, write: bool = False) -> TargetValue:
        raise ResolutionError("unresolved target-symbol expression", expr)

    def derive(self, point: ProbePoint, text: str, mechanism: str, **kwargs: Any) -> DerivedProbe:
        """Shorthand for building a DerivedProbe of this provider's family."""
        return DerivedProbe(text, self.family, mechanism, self, location=point, **kwargs)


# ---------------------------------------------------------------------------
# Registry


_REGISTRY: list[ProbeProvider] = []


def register(provider: ProbeProvider) -> ProbeProvider:
    """Add `provider` to the registry (called once, at import of its module)."""
    _REGISTRY.append(provider)
    return provider


def providers() -> list[ProbeProvider]:
    """Every registered provider, after importing the family modules that exist."""
    from engine.elaborate.probes import load_providers

    load_providers()
    return list(_REGISTRY)


def providers_for(point: ProbePoint) -> list[ProbeProvider]:
    """The providers that claim `point`, in family order (importing only the families it may name)."""
    from engine.elaborate.probes import FAMILY_MODULES, load_providers

    if not point.components:
        return []
    load_providers(point.components[0].functor)
    rank = {f"{__package__}.{name}": i for i, name in enumerate(FAMILY_MODULES)}
    ordered = sorted(_REGISTRY, key=lambda p: rank.get(type(p).__module__, len(rank)))
    return [p for p in ordered if p.handles(point)]


def known_functors() -> list[str]:
    """All first components any provider handles, for "similar:" suggestions."""
    seen: dict[str, None] = {}
    for provider in providers():
        for functor in provider.first_functors():
            seen[functor] = None
    return list(seen)


def dispatch(point: ProbePoint) -> ProbeProvider | None:
    """The provider that owns `point`, or None if no family's first component matches.

    When several providers share the first component, the one whose patterns match
    wins; if none match, the error names the patterns of all of them together (so
    "similar:" lists kernel.trace and kernel.function suggestions alike).
    """
    candidates = providers_for(point)
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    patterned = [p for p in candidates if p.patterns]
    for provider in patterned:
        try:
            provider.match(point)
            return provider
        except ResolutionError:
            continue
    unpatterned = [p for p in candidates if not p.patterns]
    if unpatterned:
        return unpatterned[0]
    match_patterns(point, [Pattern.parse(t) for p in patterned for t in p.patterns])
    return patterned[0]


# ---------------------------------------------------------------------------
# Probe-point patterns (stap's match tree, flattened)


@dataclass(frozen=True)
class PatternPart:
    functor: str
    kind: str | None = None  # None, "number" or "string"

    def __str__(self) -> str:
        return f"{self.functor}({self.kind})" if self.kind else self.functor


@dataclass(frozen=True)
class Pattern:
    """One probe-point shape, e.g. `timer.ms(number).randomize(number)`."""

    text: str
    parts: tuple[PatternPart, ...]

    @classmethod
    def parse(cls, text: str) -> "Pattern":
        parts = []
        for piece in text.split("."):
            functor, _, kind = piece.partition("(")
            parts.append(PatternPart(functor, kind.rstrip(")") or None))
        return cls(text, tuple(parts))


@dataclass
class Match:
    """A point matched against a pattern: `args` maps each functor to its literal value."""

    pattern: Pattern
    args: dict[str, int | str | None]

    def has(self, functor: str) -> bool:
        return functor in self.args

    def text(self) -> str:
        """The matched point spelled with the pattern's names (wildcards resolved)."""
        parts = []
        for part in self.pattern.parts:
            value = self.args.get(part.functor)
            if isinstance(value, int):
                parts.append(f"{part.functor}({value})")
            elif isinstance(value, str):
                parts.append(f'{part.functor}("{value}")')
            else:
                parts.append(part.functor)
        return ".".join(parts)


def match_patterns(point: ProbePoint, patterns: list[Pattern]) -> list[Match]:
    """Match `point` against `patterns` the way stap walks its match tree.

    A component may use `*` wildcards in its functor and then matches several
    patterns. Raises ResolutionError with stap's texts: `probe point mismatch
    (similar: ...)`, `invalid suffix for probe`, `probe point truncated (follow: ...)`.
    """
    components = point.components
    candidates = list(patterns)
    for depth, component in enumerate(components):
        following = [p for p in candidates if len(p.parts) > depth]
        chosen = [p for p in following if _part_matches(p.parts[depth], component)]
        if not chosen:
            _raise_mismatch(component, depth, candidates, following)
        candidates = chosen
    complete = [p for p in candidates if len(p.parts) == len(components)]
    if not complete:
        follow = sorted({str(p.parts[len(components)]) for p in candidates})
        raise ResolutionError(f"probe point truncated (follow:  {' '.join(follow)})", components[0])
    return [Match(p, {c.functor if "*" not in c.functor else part.functor: _literal(c)
                      for c, part in zip(components, p.parts)}) for p in complete]


def _part_matches(part: PatternPart, component: ProbePointComponent) -> bool:
    if not fnmatch.fnmatchcase(part.functor, component.functor):
        return False
    arg = component.arg
    kind = "number" if isinstance(arg, NumberLiteral) else "string" if isinstance(arg, StringLiteral) else None
    return kind == part.kind


def _raise_mismatch(component: ProbePointComponent, depth: int, candidates: list[Pattern], following: list[Pattern]):
    if any(len(p.parts) == depth for p in candidates):
        raise ResolutionError("invalid suffix for probe", component)
    names = list(dict.fromkeys(p.parts[depth].functor for p in following))
    wildcard = "*" in component.functor
    prefix = "probe point mismatch: didn't find any wildcard matches" if wildcard else "probe point mismatch"
    word = component.functor.replace("*", "")
    near = similar(word, names)
    message = f"{prefix} (similar: {', '.join(near)})" if near else prefix
    raise ResolutionError(message, component, "operator '*'" if component.functor == "*" else None)


def _literal(component: ProbePointComponent) -> int | str | None:
    arg = component.arg
    return arg.value if isinstance(arg, (NumberLiteral, StringLiteral)) else None


# ---------------------------------------------------------------------------
# Helpers for providers


def component_text(component: ProbePointComponent) -> str:
    """`ms(16)`, `trace("sched:*")`, `begin`: how stap prints one component."""
    arg = component.arg
    if isinstance(arg, NumberLiteral):
        return f"{component.functor}({arg.value})"
    if isinstance(arg, StringLiteral):
        return f'{component.functor}("{arg.value}")'
    return component.functor


def point_text(point: ProbePoint | list[ProbePointComponent]) -> str:
    """The dotted text of a point, without `?`/`!`/`if` decorations."""
    components = point.components if isinstance(point, ProbePoint) else point
    return ".".join(component_text(c) for c in components)


def similar(word: str, candidates: list[str], limit: int = 5) -> list[str]:
    """Candidates close to `word` by edit distance, nearest (then shortest) first, as stap's "similar:"."""
    scored = sorted((_distance(word, c), len(c), c) for c in dict.fromkeys(candidates))
    return [c for d, _, c in scored if d <= 5][:limit]


def _distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]
