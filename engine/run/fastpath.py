"""The start-up fast path: rerunning an unchanged script skips passes 1-4.

stap keeps built modules in a cache keyed by the script and its options; we go one
step further and key the built executable by everything passes 1-4 read — the script
(text or file contents, name, arguments), the options that change translation, the
kernel, and a stamp (path, size, mtime) of the engine, tapset and runtime sources — so
a hit needs no parsing at all. The diagnostics those passes printed are stored and
printed again, so the output is the same as a full run.

A hit is what start-up costs, so this module imports little: os.path strings rather than
pathlib, a marshal record rather than JSON, blake2b from _blake2 rather than hashlib (whose
OpenSSL binding costs 3 ms), engine/cachedir.py rather than the build package (compiler and
runtime-library code a hit never runs), and no Session: the command line's options are all
a hit needs, and the pass machinery (dataclasses, enum) is 15 ms of imports.
"""

from __future__ import annotations

import marshal
import os
import sys
from _blake2 import blake2b

from engine.cachedir import cache_dir
from engine.run.records import Slotted

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
_SOURCE_DIRS = ("engine", "tapsets", "runtime_c")
_SUFFIXES = (".py", ".stp", ".stpm", ".c", ".h", ".lark")
KEEP_RECORDS = 400


class CachedBuild(Slotted):
    """What pass 5 needs of a build (BuildArtifact's `path`, as a string)."""

    __slots__ = ("path", "diagnostics")

    def __init__(self, path: str, diagnostics: str) -> None:
        self.path = path
        self.diagnostics = diagnostics


def _stamp(directories: list[str]) -> list[str]:
    entries = []
    for directory in directories:
        for base, dirs, files in os.walk(directory):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith(_SUFFIXES):
                    st = os.stat(os.path.join(base, name))
                    entries.append(f"{base}/{name}:{st.st_size}:{st.st_mtime_ns}")
    return entries


def _script(options) -> str | None:
    if options.script_text is not None:
        return "e:" + options.script_text
    if not options.script_file or options.script_file == "-":
        return None
    try:
        with open(options.script_file, errors="surrogateescape") as script:
            return f"f:{os.path.abspath(options.script_file)}:" + script.read()
    except OSError:
        return None


def key(options) -> str | None:
    """The cache key for `options`, or None when the script cannot be cached (stdin)."""
    script = _script(options)
    if script is None:
        return None
    translation = [
        options.args, options.guru, options.include_dirs, sorted(options.defines.items()),
        sorted(options.global_settings.items()), options.unoptimized, options.suppress_warnings,
        options.module_name, os.uname().release, os.uname().version, os.geteuid() == 0, sys.version,
    ]
    h = blake2b(script.encode("utf-8", "surrogateescape"), digest_size=16)
    h.update(repr(translation).encode("utf-8", "surrogateescape"))
    dirs = [os.path.join(_ROOT, d) for d in _SOURCE_DIRS] + list(options.include_dirs)
    h.update("\n".join(_stamp(dirs)).encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def _record(options) -> str | None:
    """The record's file: marshal data, written by this Python (its version is in the key)."""
    k = key(options)
    return os.path.join(cache_dir("build"), "fast", f"{k}.marshal") if k else None


def lookup(options) -> CachedBuild | None:
    record = _record(options)
    if record is None:
        return None
    try:
        with open(record, "rb") as file:
            data = marshal.load(file)
    except (OSError, EOFError, ValueError, TypeError):
        return None
    path = data["path"]
    if data.get("depends") is not None and _dependencies_changed(data["depends"], options):
        return None
    return CachedBuild(path, data["diagnostics"]) if os.path.exists(path) else None


def _dependencies_changed(depends: dict, options) -> bool:
    """A probed binary rebuilt, or another -c program. Imported only for scripts with
    process probes: the uprobe provider pulls in the ELF/DWARF readers and pass 2."""
    from engine.elaborate.probes.uprobe import dependencies_changed

    return dependencies_changed(depends, options)


def remember(session) -> None:
    """After a successful pass 4: store the executable and the diagnostics printed."""
    options = session.options
    record = _record(options)
    build = session.artifact(4)
    if record is None or build is None:
        return
    shown = [d for r in session.results for d in r.diagnostics if d.is_error or not options.suppress_warnings]
    os.makedirs(os.path.dirname(record), exist_ok=True)
    temp = f"{record}.{os.getpid()}.tmp"
    from engine.elaborate.probes.uprobe import cache_dependencies

    depends = cache_dependencies(session.artifact(2), options) if session.artifact(2) is not None else None
    with open(temp, "wb") as file:
        marshal.dump({"path": str(build.path), "diagnostics": "".join(d.format() for d in shown), "depends": depends}, file)
    os.replace(temp, record)
    from pathlib import Path

    from engine.build.cache import prune

    prune(Path(record).parent, KEEP_RECORDS)


def run_if_cached(options) -> int | None:
    """Run the cached executable for `options` (pystap's exit status), or None on a miss."""
    cached = lookup(options)
    if cached is None:
        return None
    from engine.run import execute

    sys.stderr.write(cached.diagnostics)
    status, _lost, error = execute(options, cached)
    if error is not None or status != 0:
        if error is not None:
            from engine.diagnostics import Diagnostic

            sys.stderr.write(Diagnostic("ERROR", error).format())
        sys.stderr.write("Pass 5: run failed.  [man error::pass5]\n")
        return 1
    return 0
