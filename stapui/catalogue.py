"""The probe catalogue, as the workbench sees it: one adapter over the engine's providers.

The probe browser and completion both ask "what probe families exist, what does this
pattern match, which `$variables` does this probe offer, which tapset functions exist".
The answers come only from the engine (the provider registry of pass 2, the bundled
tapset library); this module caches them and turns engine failures into messages, so a
family that cannot list (no root, no tracefs, not written yet) shows why instead of
breaking the browser. Calls may be slow (tracefs, DWARF): call them from workers.
"""

from __future__ import annotations

import importlib.resources
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from engine.parse.ast import NumberLiteral, ProbePoint, ProbePointComponent, StringLiteral
from engine.session import Options, Session
from stapui.completion.symbols import FunctionSymbol, scan_dirs


@dataclass
class Family:
    """One probe family: its name, description, probe-point shapes, and why it is unavailable."""

    name: str
    description: str
    patterns: list[str]
    unavailable: str | None = None


@dataclass
class Listing:
    """The probes a pattern matched, or the engine's message when listing failed."""

    pattern: str
    probes: list = field(default_factory=list)  # engine ListedProbe objects
    error: str | None = None


_COMPONENT = re.compile(r'\s*([A-Za-z_*][\w*]*)\s*(?:\(\s*(?:"((?:[^"\\]|\\.)*)"|(-?\d+))\s*\))?\s*')


def parse_point(text: str) -> ProbePoint:
    """`kernel.trace("sched:*")` -> ProbePoint; raises ValueError when it is not one."""
    components: list[ProbePointComponent] = []
    position = 0
    while True:
        match = _COMPONENT.match(text, position)
        if not match or not match.group(1):
            raise ValueError(f"not a probe point: {text!r}")
        functor, string, number = match.groups()
        arg = StringLiteral(string) if string is not None else NumberLiteral(int(number), number) if number else None
        components.append(ProbePointComponent(functor, arg))
        position = match.end()
        if position == len(text):
            return ProbePoint(components)
        if text[position] != ".":
            raise ValueError(f"not a probe point: {text!r}")
        position += 1


def pattern_skeleton(pattern: str) -> str:
    """A probe-point shape made concrete enough to list: `timer.ms(number)` -> `timer.ms(1)`."""
    return pattern.replace("(number)", "(1)").replace("(string)", '("*")')


class Catalogue:
    """Cached queries to the engine's probe providers and tapset library."""

    def __init__(self, options: Options | None = None) -> None:
        self.options = options or Options()
        self._lock = threading.Lock()
        self._listings: dict[str, Listing] = {}
        self._functions: list[FunctionSymbol] | None = None

    # -- families and listings --------------------------------------------------

    def families(self) -> list[Family]:
        from engine.elaborate.probes.base import ResolveContext, providers

        context = ResolveContext(Session(self.options))
        found: dict[str, Family] = {}
        for provider in providers():
            name = provider.family or (provider.functors[0] if provider.functors else type(provider).__name__)
            family = found.setdefault(name, Family(name, provider.description, []))
            family.patterns.extend(p for p in provider.patterns if p not in family.patterns)
            if family.unavailable is None:
                family.unavailable = _safely(lambda: provider.unavailable(context))
        return list(found.values())

    def list_probes(self, pattern: str) -> Listing:
        """What `pystap -L PATTERN` would list, cached per pattern."""
        with self._lock:
            cached = self._listings.get(pattern)
        if cached is not None:
            return cached
        listing = self._list_uncached(pattern)
        with self._lock:
            self._listings[pattern] = listing
        return listing

    def _list_uncached(self, pattern: str) -> Listing:
        from engine.elaborate.probes.base import ResolutionError, ResolveContext, providers_for

        try:
            point = parse_point(pattern)
        except ValueError as error:
            return Listing(pattern, error=str(error))
        context = ResolveContext(Session(self.options))
        probes: list = []
        messages: list[str] = []
        for provider in providers_for(point):
            try:
                probes.extend(provider.list(point, context))
            except ResolutionError as error:
                messages.append(error.message)
            except Exception as error:  # an engine bug must not take the browser down
                messages.append(f"{type(error).__name__}: {error}")
        if not probes and not messages:
            messages.append("no probes matched" if providers_for(point) else "no provider handles this family")
        return Listing(pattern, probes, None if probes else "; ".join(messages))

    def tracepoints(self) -> list[str]:
        """`subsystem:event` names for `kernel.trace("`."""
        listing = self.list_probes('kernel.trace("*:*")')
        return [m.group(1) for p in listing.probes if (m := re.search(r'trace\("([^"]+)"\)', p.point))]

    def syscalls(self) -> list[str]:
        listing = self.list_probes("syscall.*")
        return sorted({p.point.split(".", 1)[1] for p in listing.probes if "." in p.point})

    def process_functions(self, path: str) -> list[str]:
        listing = self.list_probes(f'process("{path}").function("*")')
        return [m.group(1) for p in listing.probes if (m := re.search(r'function\("([^"@]+)', p.point))]

    def target_variables(self, point: str) -> list:
        """The `$variables` (engine TargetVar objects) the first probe matching `point` offers."""
        listing = self.list_probes(point)
        seen: dict[str, object] = {}
        for probe in listing.probes:
            for variable in probe.variables:
                seen.setdefault(variable.name, variable)
        return list(seen.values())

    def explain(self, point: str) -> str:
        """How `point` resolves on this machine (each derived probe's explain()), or why not."""
        from engine.elaborate.probes.base import ResolutionError, ResolveContext, providers_for

        try:
            parsed = parse_point(point)
        except ValueError as error:
            return str(error)
        context = ResolveContext(Session(self.options))
        texts: list[str] = []
        for provider in providers_for(parsed):
            try:
                texts.extend(derived.explain() for derived in provider.resolve(parsed, context))
            except ResolutionError as error:
                texts.append(f"semantic error: {error.message}")
            except Exception as error:  # an engine bug must not take the app down
                texts.append(f"{type(error).__name__}: {error}")
        return "\n\n".join(texts) or "no provider handles this probe point"

    # -- tapset functions -----------------------------------------------------------

    def tapset_dirs(self) -> list[Path]:
        bundled = Path(str(importlib.resources.files("tapsets")))
        return [bundled, *(Path(d) for d in self.options.include_dirs)]

    def functions(self) -> list[FunctionSymbol]:
        if self._functions is None:
            self._functions = scan_dirs(self.tapset_dirs())
        return self._functions


def _safely(call) -> str | None:
    try:
        return call()
    except Exception as error:
        return f"{type(error).__name__}: {error}"
