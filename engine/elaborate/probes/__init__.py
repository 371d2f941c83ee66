"""Probe families, one module each; importing a module registers its providers.

`FAMILY_MODULES` lists every family module in lookup order. Modules written by other
parts of the project (kernel families) may not exist yet in a given checkout; a
missing module is skipped, an import error inside an existing one is not hidden.
"""

from __future__ import annotations

import importlib

FAMILY_MODULES = (
    "builtin",  # begin, end, error, never
    "timer",  # timer.s/ms/us/ns/hz/jiffies
    "procfs",  # procfs("NAME").read/.write
    "tracepoint",  # kernel.trace("SYS:EVENT")
    "syscall",  # nd_syscall-style raw syscall tracepoints
    "perf",  # perf.sw/hw, timer.profile
    "uprobe",  # process(...).function/.statement/.mark, process.begin/end
    "kernel",  # kernel.function, kernel.tracepoint (BTF)
)

_loaded = False


def load_providers() -> None:
    """Import every family module that exists (once); each registers its providers."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for name in FAMILY_MODULES:
        qualified = f"{__name__}.{name}"
        try:
            importlib.import_module(qualified)
        except ModuleNotFoundError as error:
            if error.name != qualified:
                raise
