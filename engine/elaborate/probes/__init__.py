"""Probe families, one module each; importing a module registers its providers.

`FAMILIES` lists every family module in lookup order, with the first probe-point
components its providers handle, so that elaborating a script imports only the
families it names (the kernel and user-space ones pull in DWARF/ELF readers and
the BPF code generator: most of a fresh pass 2's time otherwise). Modules written
by other parts of the project may not exist yet in a given checkout; a missing
module is skipped, an import error inside an existing one is not hidden.
tests/test_elaborate_probes.py checks the table against what the modules register.
"""

from __future__ import annotations

import fnmatch
import importlib

FAMILIES: dict[str, tuple[str, ...]] = {
    "builtin": ("begin", "end", "error", "never"),
    "timer": ("timer",),  # timer.s/ms/us/ns/hz/jiffies
    "procfs": ("procfs",),  # procfs("NAME").read/.write
    "tracepoint": ("kernel",),  # kernel.trace("SYS:EVENT")
    "syscall": ("syscall", "nd_syscall"),  # raw syscall tracepoints
    "perf": ("perf", "timer"),  # perf.sw/hw, timer.profile
    "uprobe": ("process",),  # process(...).function/.statement/.mark, process.begin/end
    "kernel": ("kernel", "module"),  # kernel.function, kernel.tracepoint (BTF)
}
FAMILY_MODULES = tuple(FAMILIES)

_loaded: set[str] = set()


def load_providers(head: str | None = None) -> None:
    """Import (once) the family modules that may handle first component `head`, or all."""
    for name, functors in FAMILIES.items():
        if name in _loaded or not (head is None or any(fnmatch.fnmatchcase(f, head) for f in functors)):
            continue
        _loaded.add(name)
        qualified = f"{__name__}.{name}"
        try:
            importlib.import_module(qualified)
        except ModuleNotFoundError as error:
            if error.name != qualified:
                raise
