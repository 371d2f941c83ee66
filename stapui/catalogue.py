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

from engine.diagnostics import DiagnosticError
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


# Families the tapset library defines as probe aliases rather than providers.
TAPSET_FAMILIES = (Family("syscall", "system calls: tapset aliases over the syscall tracepoints", ["syscall.*"]),)


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
        from engine.elaborate import listing

        found: dict[str, Family] = {}
        for family in listing.families(self.options):
            merged = found.setdefault(family.name, Family(family.name, family.description, []))
            merged.patterns.extend(p for p in family.patterns if p not in merged.patterns)
            merged.unavailable = merged.unavailable or family.unavailable
        return [*found.values(), *TAPSET_FAMILIES]

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
        from engine.elaborate import listing

        try:
            probes = listing.list_probes(pattern, self.options, variables=True)
        except DiagnosticError as error:
            return Listing(pattern, error=_messages(error))
        except Exception as error:  # an engine bug must not take the browser down
            return Listing(pattern, error=f"{type(error).__name__}: {error}")
        return Listing(pattern, probes, None if probes else "no probes matched")

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
        """How `point` resolves on this machine: elaborate `probe POINT {}` and explain each probe."""
        options = self.options.replace(script_text=f"probe {point} {{}}", script_file=None, unoptimized=True,
                                       last_pass=2)
        session = Session(options)
        try:
            result = session.run_all(2)
        except Exception as error:  # an engine bug must not take the app down
            return f"{type(error).__name__}: {error}"
        if result is None or not result.ok:
            return "".join(d.format() for d in session.diagnostics()) or "elaboration failed"
        return "\n\n".join(derived.explain() for derived, _ in result.artifact.derived_probes())

    # -- tapset functions -----------------------------------------------------------

    def tapset_dirs(self) -> list[Path]:
        bundled = Path(str(importlib.resources.files("tapsets")))
        return [bundled, *(Path(d) for d in self.options.include_dirs)]

    def functions(self) -> list[FunctionSymbol]:
        if self._functions is None:
            self._functions = scan_dirs(self.tapset_dirs())
        return self._functions


def _messages(error: DiagnosticError) -> str:
    """stap reports a failed probe point as a chain ("while resolving ...", then why): keep all."""
    texts = [f"{d.kind}: {d.message}" for d in error.diagnostics if d.is_error]
    return "; ".join(dict.fromkeys(texts)) or str(error)
