"""C functions for probe handlers and script functions (script bodies or embedded C).

A handler starts with stap's MAXACTION entry check, declares its locals, runs its
body and ends at `out`. A script function checks MAXNESTING on entry; string
functions write their result into a caller-provided MAXSTRINGLEN buffer (`retval`).
Embedded-C bodies get the ABI macros (STAP_ARG_*, STAP_RETVALUE, STAP_RETURN,
STAP_ERROR, STAP_PRINTF, CONTEXT) and `return` meaning "leave the function".
"""

from __future__ import annotations

from typing import Callable

from engine.parse import ast
from engine.translate.cstrings import c_literal
from engine.translate.statements import StmtEmitter, count_statements
from engine.translate.unit import Frame, Unit, identifier, name_location


def _param(decl: ast.VarDecl, prefix: str) -> str:
    ctype = "const char *" if decl.type is ast.Type.STRING else "int64_t "
    return f"{ctype}{prefix}{identifier(decl.name)}"


def prototype(unit: Unit, function: ast.FunctionDecl) -> str:
    embedded = isinstance(function.body, ast.EmbeddedCode)
    params = ["struct context *c"]
    if function.type is ast.Type.STRING:
        params.append("char *retval")
    params += [_param(p, "STAP_ARG_" if embedded else "a_") for p in function.params]
    result = "void" if function.type is ast.Type.STRING else "int64_t"
    return f"static {result} {unit.function_name(function)}({', '.join(params)})"


def _entry_checks(function: ast.FunctionDecl) -> list[str]:
    """stap's callee prologue: locate errors at the function, check MAXNESTING."""
    returned = "" if function.type is ast.Type.STRING else " 0"
    where = "identifier '" + function.name + "' at " + name_location(function)
    return [
        f"  c->last_stmt = {c_literal(where)};",
        f'  if (c->nesting + 1 >= MAXNESTING) {{ c->last_error = "MAXNESTING exceeded"; return{returned}; }}',
        "  c->nesting++;",
        "  c->next = 0;",
    ]


def _result_decl(function: ast.FunctionDecl) -> list[str]:
    if function.type is ast.Type.STRING:
        return ["  retval[0] = '\\0';"]
    return ["  int64_t retval = 0;"]


def _exit(function: ast.FunctionDecl) -> list[str]:
    returned = "" if function.type is ast.Type.STRING else " retval"
    return ["out: __attribute__((unused));", "  c->nesting--;", f"  return{returned};"]


def emit_function(unit: Unit, function: ast.FunctionDecl) -> str:
    if isinstance(function.body, ast.EmbeddedCode):
        return _embedded_function(unit, function)
    frame = Frame(unit, function=function)
    for param in function.params:
        frame.local_name(param)
    for local in function.locals:
        if not any(local is p for p in function.params):
            frame.declare_local(local)
    body = StmtEmitter(frame)
    body.visit(function.body)
    copies = []
    for param in function.params:
        name = frame.local_name(param)
        if param.type is ast.Type.STRING:
            copies.append(f"  char {name}[MAXSTRINGLEN]; stp_strset({name}, a_{identifier(param.name)});")
        else:
            copies.append(f"  int64_t {name} = a_{identifier(param.name)};")
    lines = [prototype(unit, function), "{", *_result_decl(function), *_entry_checks(function), *copies]
    lines += ["  " + d for d in frame.declarations]
    cost = count_statements(function.body)
    lines.append(f'  if (c->actionremaining < {cost}) {{ c->last_error = "MAXACTION exceeded"; goto out; }}')
    lines += body.lines
    lines += _exit(function)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _embedded_function(unit: Unit, function: ast.FunctionDecl) -> str:
    string = function.type is ast.Type.STRING
    ret = "stp_strlcpy(STAP_RETVALUE, (v), MAXSTRINGLEN)" if string else "STAP_RETVALUE = (v)"
    defines = [
        "#define CONTEXT c",
        "#define STAP_RETVALUE retval",
        f"#define STAP_RETURN(v) do {{ {ret}; goto out; }} while (0)",
        "#define STAP_ERROR(...) do { snprintf(c->error_buffer, MAXSTRINGLEN, __VA_ARGS__); "
        "c->last_error = c->error_buffer; goto out; } while (0)",
        "#define STAP_PRINTF(...) stp_printf(__VA_ARGS__)",
        "#define return goto out",
    ]
    undefs = ["#undef return", "#undef STAP_PRINTF", "#undef STAP_ERROR", "#undef STAP_RETURN", "#undef STAP_RETVALUE", "#undef CONTEXT"]
    lines = [prototype(unit, function), "{", *_result_decl(function), *_entry_checks(function), *defines]
    lines.append("  {")
    if function.body.span is not None:
        lines.append(f"#line {function.body.span.line} {c_literal(function.body.span.file.name)}")
    lines += [function.body.code, "  }", *undefs, *_exit(function), "}"]
    return "\n".join(lines) + "\n"


def emit_probe(unit: Unit, probe: ast.Probe, name: str, family: str, hook: Callable | None,
               prologue: tuple[str, ...] = ()) -> str:
    """The handler of `probe`; `prologue` lines run first (after the MAXACTION check)."""
    frame = Frame(unit, probe=probe, family=family)
    if hook is not None:
        unit.target_hooks[family] = hook
    for local in probe.locals:
        frame.declare_local(local)
    body = StmtEmitter(frame)
    body.visit(probe.body)
    if hook is not None:
        del unit.target_hooks[family]
    points = ", ".join(d.point for d in probe.derived)
    lines = [f"/* probe {points} */", f"static void {name}(struct context *c)", "{"]
    lines += ["  " + d for d in frame.declarations]
    cost = count_statements(probe.body)
    lines.append(f'  if (c->actionremaining < {cost}) {{ c->last_error = "MAXACTION exceeded"; goto out; }}')
    lines += ["  " + line for line in prologue]
    lines += body.lines
    lines += ["out: __attribute__((unused));", "  return;", "}"]
    return "\n".join(lines) + "\n"
