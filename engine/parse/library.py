"""Where the tapset library lives and in which order stap reads it.

The search path is our bundled `tapsets/` package, then each `-I DIR`. In each,
stap looks in the most specific directory first (`linux/<arch>`, `linux`, `<arch>`,
then the directory itself), and reads every file it finds (pass 2 resolves
duplicates). All `.stpm` macro files come before all `.stp` files.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from engine.parse.conditions import Conditions


def tapset_roots(include_dirs: list[str]) -> list[Path]:
    bundled = Path(str(resources.files("tapsets")))
    return [bundled] + [Path(d) for d in include_dirs]


def library_files(
    include_dirs: list[str], conditions: Conditions, roots: list[Path] | None = None
) -> tuple[list[Path], list[Path]]:
    """(macro files, script files) of the search path (or of `roots`), in stap's order."""
    subdirs = [f"{conditions.runtime_dir}/{conditions.arch}", conditions.runtime_dir, conditions.arch, ""]
    macros: list[Path] = []
    scripts: list[Path] = []
    for suffix, found in ((".stpm", macros), (".stp", scripts)):
        for root in roots if roots is not None else tapset_roots(include_dirs):
            for sub in subdirs:
                directory = root / sub if sub else root
                found.extend(sorted(directory.glob("*" + suffix)) if directory.is_dir() else [])
    return macros, scripts
