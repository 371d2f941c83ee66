"""Pass-2 diagnostics in stap's exact shape, and the token descriptions stap prints.

stap's semantic errors differ from parse errors: the token and location share the
first line, the source line is indented by eight spaces, each error is followed by a
blank line, related locations ("arity 1 first inferred here") follow as chained
tokens, and a location in the same file as the previous message prints an empty
file name (`at :1:14`). Warnings indent the source line by one space and have no
trailing blank line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from engine.diagnostics import Diagnostic, DiagnosticError, Severity, Span
from engine.parse import ast


@dataclass
class Related:
    """A chained location printed under an error: `identifier 'f' at :1:10` + source."""

    token: str
    span: Span | None


@dataclass
class SemanticDiagnostic(Diagnostic):
    """A semantic error or warning; `saw` holds the token description."""

    related: list[Related] = field(default_factory=list)
    chained: bool = False
    elide_file: bool = False  # set when the previous message named the same file
    elide_related: list[bool] = field(default_factory=list)

    def format(self) -> str:
        warning = self.severity is Severity.WARNING
        indent = " source: " if warning else "        source: "
        head = f"{self.kind}: {self.message}"
        lines = []
        if self.saw is not None or self.span is not None:
            head += f": {self.saw or ''}" + self._where(self.span, self.elide_file)
        lines.append(head)
        lines += _source(self.span, indent)
        for i, rel in enumerate(self.related):
            elide = self.elide_related[i] if i < len(self.elide_related) else False
            lines.append(rel.token + self._where(rel.span, elide))
            lines += _source(rel.span, indent)
        lines.extend(self.notes)
        text = "\n".join(lines) + "\n"
        return text if warning else text + "\n"

    @staticmethod
    def _where(span: Span | None, elide: bool) -> str:
        if span is None:
            return ""
        name = "" if elide else span.file.name
        return f" at {name}:{span.line}:{span.col}"


def _source(span: Span | None, indent: str) -> list[str]:
    if span is None:
        return []
    return [indent + span.file.line(span.line), " " * (len(indent) + span.col - 1) + "^"]


def semantic_error(
    message: str, node: ast.Node | None = None, token: str | None = None, related=(), chained: bool = False
) -> SemanticDiagnostic:
    """An error at `node`'s token; `chained` ones explain the error just before them."""
    return SemanticDiagnostic(
        "semantic error", message, token_span(node),
        saw=token if token is not None else (describe(node) if node is not None else None),
        related=[Related(describe(n), token_span(n)) for n in related],
        chained=chained,
    )


def warning(message: str, node: ast.Node | None = None, token: str | None = None) -> SemanticDiagnostic:
    return SemanticDiagnostic(
        "WARNING", message, token_span(node),
        saw=token if token is not None else (describe(node) if node is not None else None),
        severity=Severity.WARNING,
    )


def suppress_similar(diagnostics: list[Diagnostic]) -> tuple[list[Diagnostic], int, int]:
    """Keep the first error of each kind and the first warning of each message, as stap
    does without -v; returns them with how many errors and warnings were left out.

    stap counts errors raised from the same place in its source as "similar"; the
    first words of the message, with names, numbers and types left out, say the same.
    Warnings are compared by their message alone, without the token and location.
    """
    kept: list[Diagnostic] = []
    seen: set[str] = set()
    dropping = False
    errors = warnings = 0
    for diagnostic in diagnostics:
        if isinstance(diagnostic, SemanticDiagnostic) and diagnostic.chained:
            if not dropping:
                kept.append(diagnostic)
            continue
        key = _category(diagnostic) if diagnostic.is_error else f"{diagnostic.kind}: {diagnostic.message}"
        dropping = key in seen
        seen.add(key)
        if not dropping:
            kept.append(diagnostic)
        elif diagnostic.is_error:
            errors += 1
        else:
            warnings += 1
    return kept, errors, warnings


def _category(diagnostic: Diagnostic) -> str:
    if diagnostic.message == "while resolving probe point":  # one per failing point, as stap prints
        return f"{diagnostic.message} {diagnostic.span}"
    if "type mismatch" in diagnostic.message:  # stap raises all of these from one place
        return "type mismatch"
    text = re.sub(r"^index \d+ |'[^']*'|\([^)]*\)|\b(long|string|stats|unknown)\b|\d+", "", diagnostic.message)
    return " ".join(text.split()[:3])


def token_span(node: ast.Node | None) -> Span | None:
    """Where stap puts the token of `node`: operators at the operator, functions at the name."""
    if node is None or node.span is None:
        return None
    if isinstance(node, ast.FunctionDecl):
        return _find(node.span, re.compile(r"\b" + re.escape(node.name) + r"\b")) or node.span
    kind = type(node).__name__
    if kind == "ArrayIn":  # `[k] in a`: the keyword
        return _find(node.span, re.compile(r"\bin\b")) or node.span
    if kind in _INFIX:  # the parser locates infix nodes at their left operand
        return _operator_after(node.span, _OPERATOR_NODES[kind](node)) or node.span
    return node.span


_INFIX = frozenset({"AssignmentExpr", "BinaryExpr", "ComparisonExpr", "LogicalExpr", "ConcatExpr", "RegexExpr"})


def _offset(span: Span) -> int:
    lines = span.file.text.split("\n")
    return sum(len(line) + 1 for line in lines[: span.line - 1]) + span.col - 1


def _span_at(span: Span, offset: int) -> Span:
    before = span.file.text[:offset]
    line = before.count("\n") + 1
    return Span(span.file, line, offset - (before.rfind("\n") + 1) + 1)


def _find(span: Span, pattern: re.Pattern) -> Span | None:
    found = pattern.search(span.file.text, _offset(span) + 1)
    return _span_at(span, found.start()) if found else None


_OPERATORS = sorted(
    "<<< >>>= >>> <<= >>= == != <= >= << >> && || += -= *= /= %= &= |= ^= .= =~ !~ ++ -- -> "
    "= < > + - * / % & | ^ . ! ~ ? :".split(),
    key=len, reverse=True,
)


def _operator_after(span: Span, op: str) -> Span | None:
    """The first `op` token after `span` outside brackets and string literals (the parser
    locates infix nodes at their left operand; stap at the operator)."""
    text = span.file.text
    i, depth = _offset(span), 0
    while i < len(text):
        char = text[i]
        if char == '"':
            i = _string_end(text, i)
        elif char.isalnum() or char in "_$@":
            i += 1
        elif char in "([{":
            depth, i = depth + 1, i + 1
        elif char in ")]}":
            depth, i = depth - 1, i + 1
        else:
            token = next((o for o in _OPERATORS if text.startswith(o, i)), char)
            if depth == 0 and token == op:
                return _span_at(span, i)
            i += len(token)
    return None


def _string_end(text: str, start: int) -> int:
    i = start + 1
    while i < len(text) and text[i] != '"':
        i += 2 if text[i] == "\\" else 1
    return i + 1


def elide_repeated_files(diagnostics: list[Diagnostic]) -> None:
    """Mark locations that repeat the previously printed file, as stap prints them."""
    last = None
    for diagnostic in diagnostics:
        if not isinstance(diagnostic, SemanticDiagnostic):
            continue
        if diagnostic.span is not None:
            diagnostic.elide_file = diagnostic.span.file is last
            last = diagnostic.span.file
        diagnostic.elide_related = []
        for rel in diagnostic.related:
            diagnostic.elide_related.append(rel.span is not None and rel.span.file is last)
            if rel.span is not None:
                last = rel.span.file


class SemanticError(DiagnosticError):
    """Abandon the current step of pass 2 with one error."""

    def __init__(self, message: str, node: ast.Node | None = None, token: str | None = None, related=()):
        super().__init__([semantic_error(message, node, token, related)])

    def chain(self, message: str, node: ast.Node | None = None) -> "SemanticError":
        """Add an explanatory error printed right after this one."""
        self.diagnostics.append(semantic_error(message, node, chained=True))
        return self


# ---------------------------------------------------------------------------
# Token descriptions: what stap prints for the token an AST node was built from.

_OPERATOR_NODES = {
    "AssignmentExpr": lambda n: n.op,
    "BinaryExpr": lambda n: n.op,
    "ComparisonExpr": lambda n: n.op,
    "LogicalExpr": lambda n: n.op,
    "ConcatExpr": lambda n: ".",
    "RegexExpr": lambda n: n.op,
    "UnaryExpr": lambda n: n.op,
    "CrementExpr": lambda n: n.op,
    "TernaryExpr": lambda n: "?",
    "StatOp": lambda n: "@" + n.op,
    "HistOp": lambda n: "@hist_" + n.kind,
    "CastOp": lambda n: "@cast",
    "AtVarOp": lambda n: "@var",
    "EntryOp": lambda n: "@entry",
    "DefinedOp": lambda n: "@defined",
    "PerfOp": lambda n: "@perf",
    "ProbewriteOp": lambda n: "@probewrite",
}

_KEYWORD_NODES = ("ArrayIn", "Probe", "ProbeAlias", "IfStatement", "ForLoop", "ForeachLoop",
                  "ReturnStatement", "DeleteStatement", "NextStatement", "BreakStatement",
                  "ContinueStatement", "TryBlock")


def describe(node: ast.Node) -> str:
    """`identifier 'x'`, `number '1'`, `string 'a'`, `operator '='`, `keyword` ..."""
    kind = type(node).__name__
    if isinstance(node, (ast.Symbol, ast.VarDecl, ast.FunctionCall, ast.PrintFormat, ast.FunctionDecl)):
        return f"identifier '{node.name}'"
    if isinstance(node, ast.TargetSymbol):
        return f"identifier '{node.name}'"
    if isinstance(node, ast.NumberLiteral):
        return f"number '{node.text or node.value}'"
    if isinstance(node, ast.StringLiteral):
        return f"string '{node.value}'"
    if isinstance(node, ast.ProbePointComponent):
        return "operator '*'" if node.functor == "*" else f"identifier '{node.functor}'"
    if isinstance(node, ast.ArrayIndex):
        return describe(node.base)
    if isinstance(node, (ast.EmbeddedExpr, ast.EmbeddedCode)):
        return "embedded-code"
    if isinstance(node, ast.ExprStatement):
        return describe(first_token(node.expr))
    if kind in _OPERATOR_NODES:
        return f"operator '{_OPERATOR_NODES[kind](node)}'"
    if kind in _KEYWORD_NODES:
        return "keyword"
    if isinstance(node, ast.Block):
        return "operator '{'"
    return "token"


def first_token(expr: ast.Node) -> ast.Node:
    """The node of an expression's first token (stap locates statements there)."""
    while True:
        if isinstance(expr, (ast.BinaryExpr, ast.ComparisonExpr, ast.LogicalExpr, ast.ConcatExpr, ast.RegexExpr)):
            expr = expr.left
        elif isinstance(expr, ast.AssignmentExpr):
            expr = expr.target
        elif isinstance(expr, ast.TernaryExpr):
            expr = expr.cond
        elif isinstance(expr, ast.CrementExpr) and not expr.prefix:
            expr = expr.operand
        elif isinstance(expr, ast.ArrayIndex):
            expr = expr.base
        else:
            return expr
