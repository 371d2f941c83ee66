"""The print family: printf/sprintf with the script's format, and print/println/printd/
printdln/sprint* lowered to a format built from the argument types ("%d" for longs,
"%s" for strings), all formatted by the runtime's stap-compatible printf."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.elaborate.errors import describe, token_span
from engine.elaborate.formats import MEMORY_DUMP_MAX, memory_dump_sizes
from engine.parse import ast
from engine.translate.cstrings import c_literal, decode
from engine.translate.unit import TranslateError, near

if TYPE_CHECKING:
    from engine.translate.expressions import ExprEmitter

_PRINTERS = {"print", "println", "printd", "printdln", "printf"}


def _escape_percent(data: bytes) -> bytes:
    return data.replace(b"%", b"%%")


def _format_of(node: ast.PrintFormat) -> bytes:
    """The printf format a print call amounts to."""
    if node.name in ("printf", "sprintf"):
        if node.format is None:
            raise TranslateError(f"{node.name} needs a format string", node)
        return decode(node.format.value)
    conversions = [b"%s" if a.type is ast.Type.STRING else b"%d" for a in node.args]
    delimiter = b""
    if node.name in ("printd", "printdln", "sprintd", "sprintdln"):
        delimiter = _escape_percent(decode(node.format.value)) if node.format is not None else b""
    text = delimiter.join(conversions)
    if node.name.endswith("ln"):
        text += b"\n"
    return text


def emit_print(em: "ExprEmitter", node: ast.PrintFormat) -> str:
    if node.hist is not None:
        return _print_hist(em, node)
    prelude, values = em.ordered(node.args)
    sizes = _dump_sizes_to_check(node)
    if sizes:  # stap evaluates every argument, then checks the sizes, then prints
        values = [v if isinstance(a, (ast.NumberLiteral, ast.StringLiteral)) else em.save(a.type, v, prelude)
                  for a, v in zip(node.args, values)]
        prelude += [_dump_size_check(em, node, values, arg, size) for arg, size in sizes]
    fields = [f"{{.s = {v}}}" if a.type is ast.Type.STRING else f"{{.n = {v}}}" for a, v in zip(node.args, values)]
    args = "(union stp_value[]){" + ", ".join(fields) + "}" if fields else "(union stp_value *)0"
    fmt = c_literal(_format_of(node))
    if node.name in _PRINTERS:
        call = f"stp_printf_values(c, {fmt}, {args}, {len(fields)});"
        check = em.fail_if_error(near(f"identifier '{node.name}'", node))
        return "({ " + " ".join([*prelude, call, check]) + " (int64_t)0; })"
    temp = em.frame.string_temp()
    call = f"stp_sprintf_values(c, {temp}, {fmt}, {args}, {len(fields)});"
    check = em.fail_if_error(near(f"identifier '{node.name}'", node))
    return em.block([*prelude, call, check], f"(const char *){temp}")


def _dump_sizes_to_check(node: ast.PrintFormat) -> list[tuple[int | None, int]]:
    """The %m/%M sizes stap checks at run time: a `.*` argument, or a written size over a page."""
    if node.name not in ("printf", "sprintf"):
        return []
    sizes = memory_dump_sizes(_format_of(node).decode("latin-1"))
    return [(arg, size) for arg, size in sizes if arg is not None or size > MEMORY_DUMP_MAX]


def _dump_size_check(em: "ExprEmitter", node: ast.PrintFormat, values: list[str], arg: int | None, size: int) -> str:
    """stap reports a `.*` size near that argument's expression, a written one near the call."""
    if arg is None:
        value, where = str(size), near(f"identifier '{node.name}'", node)
    else:
        value, where = values[arg], c_literal(f"{describe(node.args[arg])} at {token_span(node.args[arg])}")
    return f"stp_check_dump_size(c, {value}); {em.fail_if_error(where)}"


def _print_hist(em: "ExprEmitter", node: ast.PrintFormat) -> str:
    stat = em.visit(node.hist.operand)
    check = em.fail_if_error(near(f"identifier '{node.name}'", node))
    newline = node.name.endswith("ln")
    if node.name.startswith("s"):  # sprint: the text, cut at MAXSTRINGLEN like any string
        temp = em.frame.string_temp()
        parts = [f"stp_stat_sprint_hist(c, {temp}, {stat});", check]
        if newline:
            parts.append(f'stp_concat({temp}, {temp}, "\\n");')
        return "({ " + " ".join(parts) + f" (const char *){temp}; }})"
    parts = [f"stp_stat_print_hist(c, {stat});", check]
    if newline:
        parts.append('stp_output("\\n", 1);')
    return "({ " + " ".join(parts) + " (int64_t)0; })"
