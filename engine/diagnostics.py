"""Source locations and stap-shaped error reports.

Every pass reports problems as `Diagnostic` values rather than raising bare strings, so
the CLI, the tests and the workbench can all show them the same way stap does:

    parse error: expected ')'
            saw: operator '}' at foo.stp:3:14
         source: probe begin { x = (1 }
                                      ^
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


@dataclass(eq=False)
class SourceFile:
    """A script or tapset file, with its text kept for caret lines."""

    name: str
    text: str
    is_tapset: bool = False
    _lines: list[str] | None = field(default=None, repr=False)

    def line(self, number: int) -> str:
        """Return 1-based line `number` without its newline ('' if out of range)."""
        if self._lines is None:
            self._lines = self.text.split("\n")
        if 1 <= number <= len(self._lines):
            return self._lines[number - 1]
        return ""


@dataclass(frozen=True, slots=True)
class Span:
    """A position in a source file: 1-based line and column, as stap prints them."""

    file: SourceFile
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file.name}:{self.line}:{self.col}"

    def character_offset(self) -> int:
        """The 0-based offset in characters on its line (col counts bytes, as stap's
        does): where an editor puts its cursor."""
        line = self.file.line(self.line).encode("utf-8", "surrogateescape")
        return len(line[: max(self.col - 1, 0)].decode("utf-8", "surrogateescape"))

    def __reduce__(self):
        # the dataclass default for frozen slots calls fields() per object: slow
        # for the parse cache's hundreds of thousands of spans
        return (Span, (self.file, self.line, self.col))


class Severity(Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass
class Diagnostic:
    """One problem found by a pass.

    `kind` is stap's prefix ("parse error", "semantic error", "WARNING"); `saw` is the
    token description stap prints after "saw:" (e.g. "operator '}'", "identifier 'x'").
    """

    kind: str
    message: str
    span: Span | None = None
    saw: str | None = None
    severity: Severity = Severity.ERROR
    notes: list[str] = field(default_factory=list)
    saw_label: str = "saw"  # stap prints "at:" instead when it blames the last token read
    blank_line: bool = False  # parse errors end with an empty line in stap's output

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def format(self) -> str:
        """Render the diagnostic exactly in stap's multi-line shape."""
        lines = [f"{self.kind}: {self.message}"]
        if self.span is not None:
            where = f"at {self.span}"
            if self.saw:
                lines.append(f"{self.saw_label:>11}: {self.saw} {where}")
            else:
                lines.append(f"        {where}")
            source = self.span.file.line(self.span.line)
            lines.append(f"     source: {source}")
            lines.append(" " * 13 + _caret_indent(source, self.span.col) + "^")
        elif self.saw:
            lines.append(f"{self.saw_label:>11}: {self.saw}")
        lines.extend(self.notes)
        if self.blank_line:
            lines.append("")
        return "\n".join(lines) + "\n"


def _caret_indent(source: str, col: int) -> str:
    """Spaces up to column `col`, keeping the source line's tabs so the caret lines up."""
    return "".join("\t" if c == "\t" else " " for c in source[: col - 1]).ljust(col - 1)


class DiagnosticError(Exception):
    """Raised inside a pass to abandon it; carries the diagnostics collected so far."""

    def __init__(self, diagnostics: list[Diagnostic]):
        super().__init__("\n".join(d.format() for d in diagnostics))
        self.diagnostics = diagnostics
