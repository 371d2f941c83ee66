"""Probe derivation: alias expansion, then resolution by the probe providers.

Every probe point of a probe is expanded through matching aliases (user-defined or
from the library, wildcards allowed), recursively, down to points a provider
owns. Points reached through the same chain of aliases share one derived handler
whose body is the aliases' prologues, the user's handler, then the epilogues.
`?` drops a point that does not resolve, `!` stops at the first point that does,
and `if (cond)` conditions accumulate along the chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

from engine.elaborate.clone import clone
from engine.elaborate.errors import semantic_error
from engine.elaborate.library import AliasEntry
from engine.elaborate.probes.base import (
    DerivedProbe,
    ResolutionError,
    dispatch,
    point_text,
    providers_for,
    known_functors,
    similar,
)
from engine.elaborate.program import Program
from engine.parse import ast


@dataclass
class Leaf:
    """One concrete derived probe and the aliases crossed to reach it (outermost first)."""

    derived: DerivedProbe
    chain: tuple[AliasEntry, ...]
    condition: ast.Expr | None
    reference: ast.ProbePoint | None = None  # the written point naming the innermost alias


def derive_probe(program: Program, probe: ast.Probe, file: ast.StapFile) -> list[ast.Probe]:
    """The handlers `probe` turns into, in stap's probe order: each written point's
    probes in turn, one handler per run of consecutive probes reached through the same
    aliases. The first run of direct points keeps `probe` itself as its handler."""
    leaves: list[Leaf] = []
    for point in probe.points:
        found = _expand(program, point, (), point.condition)
        leaves += found
        if point.sufficient and found:
            break
    outcome: list[ast.Probe] = []
    for chain, run in groupby(leaves, key=lambda leaf: tuple(id(entry.alias) for entry in leaf.chain)):
        group = list(run)
        if not chain and not any(handler is probe for handler in outcome):
            probe.derived = [_finish(leaf, probe) for leaf in group]
            program.file_of[id(probe)] = file
            outcome.append(probe)
        else:
            outcome.append(_copied_handler(program, probe, group, file))
    return outcome


def _finish(leaf: Leaf, probe: ast.Probe) -> DerivedProbe:
    derived = leaf.derived
    derived.alias_chain = [".".join(entry.names) for entry in leaf.chain]
    derived.reference = leaf.reference
    derived.condition = leaf.condition
    derived.origin = probe
    return derived


def _copied_handler(program: Program, probe: ast.Probe, group: list[Leaf], file: ast.StapFile) -> ast.Probe:
    """A handler of its own for `group`: a copy of the probe's body inside the prologues
    and epilogues of the aliases crossed (symbol resolution annotates each copy)."""
    chain = group[0].chain
    body: ast.Stmt = clone(probe.body)
    for entry in chain:
        alias_body = clone(entry.alias.body)
        parts = [body, alias_body] if entry.alias.epilogue else [alias_body, body]
        body = ast.Block([s for part in parts for s in _statements(part)], span=probe.body.span)
    derived = ast.Probe([leaf.derived.location for leaf in group], body, privileged=probe.privileged, span=probe.span)
    derived.derived = [_finish(leaf, probe) for leaf in group]
    derived.alias_chain = [entry.alias for entry in chain]
    program.file_of[id(derived)] = file
    return derived


def _statements(body: ast.Stmt) -> list[ast.Stmt]:
    """A body's statements: stap splices the alias's and the user's blocks into one."""
    return body.statements if isinstance(body, ast.Block) else [body]


def _expand(program: Program, point: ast.ProbePoint, chain: tuple[AliasEntry, ...], condition) -> list[Leaf]:
    """Leaves reached from `point`: through matching aliases, else (or, for a wildcard
    first component, also) through the providers."""
    leaves = []
    aliases = _aliases(program, point)
    if any(entry.alias is crossed.alias for entry in aliases for crossed in chain):
        where = point.components[0].span
        _report(program, point, ResolutionError(f"recursive loop in alias expansion of {point_text(point)} at {where}"))
        return []
    for entry in aliases:
        program.link(entry.file)
        for target in entry.alias.points:
            found = _expand(program, target, chain + (entry,), _conjoin(condition, target.condition))
            for leaf in found:
                leaf.reference = leaf.reference or point  # deeper levels set it first
            leaves += found
            if target.sufficient and found:
                break
    if aliases and "*" not in point.components[0].functor:
        if not leaves and not point.optional:
            _report(program, point, ResolutionError("no match"))
        return leaves
    try:
        return leaves + [Leaf(d, chain, condition) for d in _resolve(program, point)]
    except ResolutionError as error:
        if not point.optional and not leaves:
            _report(program, point, error)
        return leaves


def _aliases(program: Program, point: ast.ProbePoint) -> list[AliasEntry]:
    return program.user_aliases.matching_aliases(point) or program.library.matching_aliases(point)


def _resolve(program: Program, point: ast.ProbePoint) -> list[DerivedProbe]:
    if "*" in point.components[0].functor:
        return _resolve_wildcard_head(program, point)
    provider = dispatch(point)
    if provider is None:
        names = known_functors() + program.library.alias_heads()
        head = point.components[0]
        raise ResolutionError(_mismatch(head.functor, names, "*" in head.functor), head)
    derived = provider.resolve(point, program.ctx)
    if not derived:
        raise ResolutionError("no match")
    return derived


def _resolve_wildcard_head(program: Program, point: ast.ProbePoint) -> list[DerivedProbe]:
    """`*.foo`-style points: every family whose name matches contributes what it resolves."""
    derived: list[DerivedProbe] = []
    for provider in providers_for(point):
        try:
            derived += provider.resolve(point, program.ctx)
        except ResolutionError:
            continue
    if not derived:
        names = known_functors() + program.library.alias_heads()
        raise ResolutionError(_mismatch(point.components[0].functor, names, True), point.components[0])
    return derived


def _mismatch(word: str, names: list[str], wildcard: bool) -> str:
    near = similar(word.replace("*", ""), names)
    prefix = "probe point mismatch: didn't find any wildcard matches" if wildcard else "probe point mismatch"
    return f"{prefix} (similar: {', '.join(near)})" if near else prefix


def _report(program: Program, point: ast.ProbePoint, error: ResolutionError) -> None:
    head = point.components[0]
    program.diagnostics.append(semantic_error("while resolving probe point", head))
    program.diagnostics.append(semantic_error(error.message, error.node, error.token, chained=True))


def _conjoin(a: ast.Expr | None, b: ast.Expr | None) -> ast.Expr | None:
    if a is None or b is None:
        return a or b
    return ast.LogicalExpr("&&", a, b, span=b.span)
