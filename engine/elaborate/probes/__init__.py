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
import threading

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
# The workbench's catalogue worker and a pass running in another worker may both load
# families: a family marked loaded must be registered before anyone else looks.
_loading = threading.RLock()


def load_providers(head: str | None = None) -> None:
    """Import (once) the family modules that may handle first component `head`, or all."""
    with _loading:
        for name, functors in FAMILIES.items():
            if name in _loaded or not (head is None or any(fnmatch.fnmatchcase(f, head) for f in functors)):
                continue
            _loaded.add(name)
            _import_family(f"{__name__}.{name}")


def _import_family(qualified: str) -> None:
    """Import one family module: one missing from this checkout is skipped, an error inside one raised."""
    try:
        importlib.import_module(qualified)
    except ModuleNotFoundError as error:
        if error.name != qualified:
            raise
