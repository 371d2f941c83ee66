"""The statement emitter: one `visit_<Node>` per statement kind, appending C lines to
`self.lines`, each statement preceded by a `#line` directive pointing at the script.

Loops charge their body's statement count to MAXACTION on every iteration, as stap
does, and fail with "MAXACTION exceeded near keyword at FILE:LINE:COL".
"""

from __future__ import annotations

from engine.parse import ast
from engine.translate.cstrings import c_literal
from engine.translate.expressions import ExprEmitter
from engine.translate.unit import Frame, TranslateError, near


def count_statements(node: ast.Stmt | None) -> int:
    """Statements stap charges for one pass over `node` (nested loop bodies excluded)."""
    if node is None or isinstance(node, ast.NullStatement):
        return 0
    if isinstance(node, ast.Block):
        return sum(count_statements(s) for s in node.statements)
    if isinstance(node, ast.IfStatement):
        return 1 + count_statements(node.then) + count_statements(node.else_)
    if isinstance(node, ast.TryBlock):
        return 1 + count_statements(node.body) + count_statements(node.handler)
    return 1


class StmtEmitter(ast.Visitor):
    def __init__(self, frame: Frame):
        self.frame = frame
        self.expr = ExprEmitter(frame)
        self.lines: list[str] = []
        self.depth = 1

    def emit(self, line: str) -> None:
        self.lines.append("  " * self.depth + line)

    def line_directive(self, node: ast.Node) -> None:
        span = node.span
        if span is not None:
            self.lines.append(f"#line {span.line} {c_literal(span.file.name)}")

    def body(self, node: ast.Stmt | None) -> None:
        if node is None:
            return
        self.depth += 1
        self.visit(node)
        self.depth -= 1

    def charge(self, cost: int, keyword: ast.Node) -> None:
        self.emit(f"c->actionremaining -= {cost};")
        self.emit(
            f'if (c->actionremaining <= 0) {{ c->last_error = "MAXACTION exceeded"; '
            f"c->last_stmt = {near('keyword', keyword)}; goto {self.frame.error_label}; }}"
        )

    # -- statements ------------------------------------------------------------------------

    def visit_Block(self, node: ast.Block) -> None:
        for statement in node.statements:
            self.visit(statement)

    def visit_NullStatement(self, node: ast.NullStatement) -> None:
        self.emit(";")

    def visit_ExprStatement(self, node: ast.ExprStatement) -> None:
        self.line_directive(node)
        self.emit(f"(void)({self.expr.visit(node.expr)});")

    def visit_EmbeddedCode(self, node: ast.EmbeddedCode) -> None:
        self.line_directive(node)
        self.emit("{")
        self.lines.append(node.code)
        self.emit("}")

    def visit_IfStatement(self, node: ast.IfStatement) -> None:
        self.line_directive(node)
        self.emit(f"if ({self.expr.visit(node.cond)}) {{")
        self.body(node.then)
        if node.else_ is not None:
            self.emit("} else {")
            self.body(node.else_)
        self.emit("}")

    def visit_ForLoop(self, node: ast.ForLoop) -> None:
        self.line_directive(node)
        cont, brk = self.frame.fresh("continue_"), self.frame.fresh("break_")
        self.emit("{")
        if node.init is not None:
            self.body(node.init)
        self.emit("for (;;) {")
        self.depth += 1
        if node.cond is not None:
            self.emit(f"if (!({self.expr.visit(node.cond)})) goto {brk};")
        self.charge(count_statements(node.body) + 1, node)
        self.depth -= 1
        self.loop_body(node.body, cont, brk)
        self.depth += 1
        self.emit(f"{cont}: ;")
        if node.incr is not None:
            self.visit(node.incr)
        self.depth -= 1
        self.emit("}")
        self.emit(f"{brk}: ;")
        self.emit("}")

    def loop_body(self, body: ast.Stmt, cont: str, brk: str) -> None:
        self.frame.loops.append((cont, brk))
        self.body(body)
        self.frame.loops.pop()

    def visit_ForeachLoop(self, node: ast.ForeachLoop) -> None:
        from engine.translate.foreach import emit_foreach

        emit_foreach(self, node)

    def visit_BreakStatement(self, node: ast.BreakStatement) -> None:
        if not self.frame.loops:
            raise TranslateError("break outside a loop", node)
        self.emit(f"goto {self.frame.loops[-1][1]};")

    def visit_ContinueStatement(self, node: ast.ContinueStatement) -> None:
        if not self.frame.loops:
            raise TranslateError("continue outside a loop", node)
        self.emit(f"goto {self.frame.loops[-1][0]};")

    def visit_NextStatement(self, node: ast.NextStatement) -> None:
        self.line_directive(node)
        self.emit("c->next = 1; goto out;" if self.frame.function is not None else "goto out;")

    def visit_ReturnStatement(self, node: ast.ReturnStatement) -> None:
        self.line_directive(node)
        function = self.frame.function
        if node.value is not None and function is not None:
            value = self.expr.visit(node.value)
            if function.type is ast.Type.STRING:
                self.emit(f"stp_strset(retval, {value});")
            else:
                self.emit(f"retval = {value};")
        self.emit("goto out;")

    def visit_DeleteStatement(self, node: ast.DeleteStatement) -> None:
        from engine.translate.foreach import emit_delete

        self.line_directive(node)
        emit_delete(self, node)

    def visit_TryBlock(self, node: ast.TryBlock) -> None:
        self.line_directive(node)
        catch, done = self.frame.fresh("catch_"), self.frame.fresh("try_done_")
        self.emit("{")
        self.frame.error_labels.append(catch)
        self.body(node.body)
        self.frame.error_labels.pop()
        self.emit(f"goto {done};")
        self.emit(f"{catch}: ;")
        if node.catch_var is not None:
            self.emit(f"stp_strset({self.expr.visit(node.catch_var)}, c->last_error);")
        self.emit("c->last_error = 0; c->last_stmt = 0;")
        self.body(node.handler)
        self.emit(f"{done}: ;")
        self.emit("}")
