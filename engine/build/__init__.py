"""Pass 4: build the translated C into a stand-alone executable.

`run(session, TranslateArtifact) -> PassResult(BuildArtifact)`. The runtime is a
cached object library (runtime_lib.py); the script's C file is compiled and linked
against it into the build cache keyed by the C text,
the runtime version, the compiler and the flags. `-k` keeps the build directory.
The artifact `-p4` prints is linked statically where libc.a exists (portable).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from engine.build.cache import cache_root, digest, install, prune, touch
from engine.build.compiler import CFLAGS, CompilerMissing, find_compiler, static_supported
from engine.build.runtime_lib import runtime_library
from engine.diagnostics import Diagnostic, Severity
from engine.session import PassResult


KEEP_SCRIPTS = 200  # built scripts kept in the cache (least recently used go first)


@dataclass
class BuildArtifact:
    path: Path
    cache_hit: bool
    command: list[str] = field(default_factory=list)
    kept_dir: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    def dump(self) -> str:
        return str(self.path)

    def verbose_summary(self) -> str:
        how = "using cached" if self.cache_hit else "compiled C into"
        return f"{how} \"{self.path}\""


class BuildError(Exception):
    pass


def _link_flags(compiler, portable: bool) -> list[str]:
    """Static linking makes the artifact run on any machine of this architecture; it
    costs ~0.2 s of linking, so it is used for the artifact -p4 hands out, not for
    the executables pass 5 runs right here."""
    return ["-static"] if portable and static_supported(compiler) else []


def build(c_source: str, name: str, keep: bool = False, tmp_dir: str | None = None, portable: bool = False) -> BuildArtifact:
    """Compile `c_source` (raises CompilerMissing or BuildError)."""
    compiler = find_compiler()
    library = runtime_library(compiler)
    flags = [*CFLAGS, *_link_flags(compiler, portable)]
    key = digest(c_source, library.version, compiler.identity, " ".join(flags))
    target = cache_root() / "scripts" / key / name
    notes = [f"runtime file left out: {s}" for s in library.skipped]
    if target.exists() and not keep:
        touch(target.parent)
        return BuildArtifact(target, True, notes=notes)
    work = tempfile.mkdtemp(prefix="stapui-", dir=tmp_dir)
    try:
        source = Path(work) / f"{name}.c"
        source.write_text(c_source, errors="surrogateescape")
        out = Path(work) / name
        command = [compiler.path, *flags, "-I", str(library.include_dir), str(source), str(library.archive), "-lm", "-o", str(out)]
        result = compiler.run(command[1:])
        if result.returncode != 0:
            raise BuildError(result.stderr)
        install(out, target)
        prune(target.parent.parent, KEEP_SCRIPTS)
        return BuildArtifact(target, False, command, work if keep else None, notes)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def _compiler_failure(stderr: str) -> list[Diagnostic]:
    """The compiler's own messages (they carry script locations via #line): a translator bug."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    text = "\n".join(lines[:40])
    message = "the generated C failed to compile (a pystap bug, or an error in embedded C); compiler output:"
    return [Diagnostic("translator error", message, notes=[text])]


def run(session, translated) -> PassResult:
    options = session.options
    try:
        portable = options.last_pass == 4
        artifact = build(translated.c_source, translated.script_name, options.keep_tmp, options.tmp_dir, portable)
    except CompilerMissing as error:
        return PassResult(None, [Diagnostic("error", str(error))])
    except BuildError as error:
        return PassResult(None, _compiler_failure(str(error)))
    diagnostics = []
    if artifact.kept_dir:
        diagnostics.append(Diagnostic("Keeping temporary directory", f'"{artifact.kept_dir}"', severity=Severity.WARNING))
    if options.verbose:
        diagnostics += [Diagnostic("note", n, severity=Severity.WARNING) for n in artifact.notes]
    return PassResult(artifact, diagnostics)
