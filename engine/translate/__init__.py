"""Pass 3: translate the elaborated script into one C file for the runtime.

`run(session, ElaborateArtifact) -> PassResult(TranslateArtifact)`. The C is readable:
one function per probe handler and per script function, `#line` directives back to
the script, every stap safety check with its -D override (see runtime_c/runtime.h).
The emitters are small visitors: expressions.py, statements.py, declarations.py.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from engine.diagnostics import Diagnostic, Span
from engine.session import PassResult
from engine.translate.declarations import Declarations
from engine.translate.unit import TranslateError


@dataclass
class TranslateArtifact:
    """The generated C and what pass 4 needs to build it."""

    c_source: str
    script_name: str
    kernel_disassembly: str = ""
    probe_paths: list[str] = field(default_factory=list)  # where each kernel probe's handler runs, and why
    attach_notes: list[str] = field(default_factory=list)  # how each syscall probe attaches, and why

    def dump(self) -> str:
        """The C, then where each kernel probe's handler runs and each capture program's
        disassembly, as line comments."""
        if not self.kernel_disassembly:
            return self.c_source
        paths = "".join(f"// {line}\n" for line in self.verbose_notes())
        listing = "".join(f"// {line}\n" for line in self.kernel_disassembly.splitlines())
        return self.c_source + "\n// ---- kernel probe handlers ----\n" + paths + "// ---- kernel capture programs ----\n" + listing

    def verbose_notes(self) -> list[str]:
        """Lines -v prints after the pass-3 line: which path each kernel probe took."""
        return self.probe_paths + self.attach_notes

    def verbose_summary(self) -> str:
        from engine.parse import memory_usage

        return f"translated to C into \"{self.script_name}.c\" using {memory_usage()},"


def module_name(options) -> str:
    """The script's name as stap would name its module (-m, else from the file)."""
    if options.module_name:
        return options.module_name
    if options.script_file and options.script_file != "-":
        base = os.path.splitext(os.path.basename(options.script_file))[0]
        return "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in base) or "stap"
    return "stap"


def translate(program, options) -> TranslateArtifact:
    """The C for an elaborated program (raises TranslateError)."""
    name = module_name(options)
    declarations = Declarations(program, options, name)
    source = declarations.emit()
    kernel = declarations.kernel
    return TranslateArtifact(source, name, kernel.disassembly(), declarations.aggregation.report(), kernel.attach_notes)


def run(session, elaborated) -> PassResult:
    try:
        return PassResult(translate(elaborated, session.options))
    except TranslateError as error:
        span: Span | None = error.node.span if error.node is not None else None
        return PassResult(None, [Diagnostic("translation error", str(error), span)])
