"""An index of the tapset library's functions: name, signature, one-line doc.

Built by lexing the tapset files with stapui's own lexer rather than parsing them: the
doc line lives in a comment (`/** sfunction name - what it does`), which a parse tree
does not keep, and lexing never fails on a file the parser might reject.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pygments.token import Comment, Keyword, Name, Whitespace

from stapui.lexer import SystemTapLexer

_DOC_LINE = re.compile(r"^\s*\*?\s*(?:sfunction|function)\s+(\w+)\s+-\s+(.*)$", re.MULTILINE)


@dataclass(frozen=True)
class FunctionSymbol:
    name: str
    signature: str  # `substr:string (str:string, start:long, length:long)`
    doc: str  # first line of its doc comment, or ""
    file: str


def scan_file(path: Path) -> list[FunctionSymbol]:
    """The public functions declared in one tapset file (names starting `_` are internal)."""
    text = path.read_text(errors="replace")
    tokens = [(t, v) for t, v in SystemTapLexer(stripnl=False).get_tokens(text) if t not in Whitespace]
    found: list[FunctionSymbol] = []
    comment = ""  # the run of comment tokens just before the current token
    for index, (token, value) in enumerate(tokens):
        if token in Comment and token is not Comment.Preproc:
            comment += value
            continue
        if token is Keyword.Declaration and value == "function" and index + 1 < len(tokens):
            name_token, name = tokens[index + 1]
            if name_token is Name.Function and not name.startswith("_"):
                found.append(FunctionSymbol(name, _signature(tokens, index + 1), _doc(comment, name), str(path)))
        comment = ""
    return found


def _signature(tokens: list, start: int) -> str:
    """Join the tokens from the function name to its closing parenthesis."""
    parts: list[str] = []
    for _, value in tokens[start : start + 64]:
        parts.append(value)
        if value == ")":
            break
    text = "".join(parts)
    text = text.replace(",", ", ").replace("(", " (", 1)
    return re.sub(r"\s+", " ", text)


def _doc(comment: str, name: str) -> str:
    for match in _DOC_LINE.finditer(comment):
        if match.group(1) == name:
            return match.group(2).strip()
    return ""


def scan_dirs(directories: list[Path]) -> list[FunctionSymbol]:
    """Every public function of the tapset files under `directories`, first definition wins."""
    seen: dict[str, FunctionSymbol] = {}
    for directory in directories:
        for path in sorted(directory.rglob("*.stp")):
            for symbol in scan_file(path):
                seen.setdefault(symbol.name, symbol)
    return sorted(seen.values(), key=lambda s: s.name)
