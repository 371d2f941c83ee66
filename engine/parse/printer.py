"""The `-p1` printer: a Visitor that writes the AST back the way `stap -p1` does.

stap prints every operand of an operator in parentheses, statements one per line
with `;` after each, `if`/`else` on lines of their own, numbers in decimal, probe
points glued with `,` and printf formats re-quoted. Subclass it (pass 2's -p2
printer does) and override the `visit_<Node>` methods that differ.
"""

from __future__ import annotations

from engine.parse import ast


def quote(text: str) -> str:
    """stap's lex_cast_qstring: backslashes and quotes escaped, unprintables in octal."""
    out = ['"']
    for char in text:
        code = ord(char)
        if char == '"' or char == "\\":
            out.append("\\" + char)
        elif 32 <= code < 127 or code > 255:
            out.append(char)
        else:
            out.append("\\" + format(code & 0o377, "03o"))
    out.append('"')
    return "".join(out)


class Printer(ast.Visitor):
    """Returns text for each node; `print_file` renders a whole `# file` section."""

    # -- files and declarations ---------------------------------------------------------

    def print_file(self, file: ast.StapFile) -> str:
        parts = [f"# file {file.name}\n"]
        parts.extend(self.visit(embed) for embed in file.embeds)
        parts.extend(self.print_global(decl) + "\n" for decl in file.globals)
        parts.extend(self.visit(alias) + "\n" for alias in file.aliases)
        parts.extend(self.visit(probe) + "\n" for probe in file.probes)
        parts.extend(self.visit(function) + "\n" for function in file.functions)
        parts.append("\n")
        return "".join(parts)

    def print_global(self, decl: ast.VarDecl) -> str:
        return "global " + self.visit(decl)

    def visit_VarDecl(self, node: ast.VarDecl) -> str:
        text = node.name
        if node.wrap:
            text += "%"
        if node.maxsize is not None:
            text += f"[{node.maxsize}]"
        if node.init is not None:
            text += " = " + self.visit(node.init)
        return text

    def visit_EmbeddedCode(self, node: ast.EmbeddedCode) -> str:
        return "%{" + node.code + "%}"

    def visit_Probe(self, node: ast.Probe) -> str:
        points = ",".join(self.visit(p) for p in node.points)
        return "probe " + points + self.visit(node.body)

    def visit_ProbeAlias(self, node: ast.ProbeAlias) -> str:
        names = ",".join(self.visit(p) for p in node.alias_points)
        points = ", ".join(self.visit(p) for p in node.points)
        op = " += " if node.epilogue else " = "
        return "probe " + names + op + points + self.visit(node.body)

    def visit_ProbePoint(self, node: ast.ProbePoint) -> str:
        text = ".".join(self.visit(c) for c in node.components)
        if node.sufficient:
            text += "!"
        elif node.optional:
            text += "?"
        if node.condition is not None:
            text += " if (" + self.visit(node.condition) + ")"
        return text

    def visit_ProbePointComponent(self, node: ast.ProbePointComponent) -> str:
        if node.arg is None:
            return node.functor
        return f"{node.functor}({self.visit(node.arg)})"

    def visit_FunctionDecl(self, node: ast.FunctionDecl) -> str:
        params = ", ".join(p.name for p in node.params)
        return f"function {node.name} ({params})\n" + self.visit(node.body)

    # -- statements ------------------------------------------------------------------

    def visit_Block(self, node: ast.Block) -> str:
        return "{\n" + "".join(self.visit(s) + ";\n" for s in node.statements) + "}"

    def visit_TryBlock(self, node: ast.TryBlock) -> str:
        catch = f" catch ({node.catch_var.name}) " if node.catch_var is not None else " catch "
        return "try {\n" + self.visit(node.body) + "\n}" + catch + "{\n" + self.visit(node.handler) + "\n}\n"

    def visit_NullStatement(self, node: ast.NullStatement) -> str:
        return ";"

    def visit_ExprStatement(self, node: ast.ExprStatement) -> str:
        return self.visit(node.expr)

    def visit_IfStatement(self, node: ast.IfStatement) -> str:
        text = "if (" + self.visit(node.cond) + ") " + self.visit(node.then) + "\n"
        if node.else_ is not None:
            text += "else " + self.visit(node.else_) + "\n"
        return text

    def visit_ForLoop(self, node: ast.ForLoop) -> str:
        init = self.visit(node.init) if node.init is not None else ""
        incr = self.visit(node.incr) if node.incr is not None else ""
        return f"for ({init}; {self.visit(node.cond)}; {incr}) " + self.visit(node.body)

    def visit_ForeachLoop(self, node: ast.ForeachLoop) -> str:
        text = "foreach ("
        if node.value is not None:
            text += node.value.name + " = "
        keys = []
        for i, key in enumerate(node.indexes, 1):
            keys.append(key.name + (_sign(node.sort_direction) if node.sort_column == i else ""))
        text += "[" + ", ".join(keys) + "] in " + self.visit(node.base)
        if node.array_slice is not None:
            text += "[" + self.index_list(node.array_slice) + "]"
        if node.sort_column == 0:
            if node.sort_aggregate:
                text += " @" + node.sort_aggregate
            text += _sign(node.sort_direction)
        if node.limit is not None:
            text += " limit " + self.visit(node.limit)
        return text + ") " + self.visit(node.body)

    def visit_ReturnStatement(self, node: ast.ReturnStatement) -> str:
        return "return " + self.visit(node.value) if node.value is not None else "return"

    def visit_DeleteStatement(self, node: ast.DeleteStatement) -> str:
        return "delete " + self.visit(node.target)

    def visit_NextStatement(self, node: ast.NextStatement) -> str:
        return "next"

    def visit_BreakStatement(self, node: ast.BreakStatement) -> str:
        return "break"

    def visit_ContinueStatement(self, node: ast.ContinueStatement) -> str:
        return "continue"

    # -- expressions ------------------------------------------------------------------

    def visit_NumberLiteral(self, node: ast.NumberLiteral) -> str:
        return str(node.value)

    def visit_StringLiteral(self, node: ast.StringLiteral) -> str:
        return '"' + node.value.replace('"', '\\"') + '"'

    def visit_Symbol(self, node: ast.Symbol) -> str:
        return node.name

    def components(self, components: list[ast.TargetComponent], pretty: str) -> str:
        text = ""
        for c in components:
            text += "->" + c.name if c.kind == "member" else "[" + self.visit(c.index) + "]"
        if pretty:
            text += "->" + pretty
        return text

    def visit_TargetSymbol(self, node: ast.TargetSymbol) -> str:
        prefix = "&" if node.addressof else ""
        return prefix + node.name + self.components(node.components, node.pretty)

    def visit_CastOp(self, node: ast.CastOp) -> str:
        module = ", " + quote_plain(node.module) if node.module is not None else ""
        text = f"@cast({self.visit(node.operand)}, {quote_plain(node.type_name)}{module})"
        return ("&" if node.addressof else "") + text + self.components(node.components, node.pretty)

    def visit_AtVarOp(self, node: ast.AtVarOp) -> str:
        module = ", " + quote_plain(node.module) if node.module is not None else ""
        name = node.target_name + ("@" + node.cu_name if node.cu_name is not None else "")
        text = f"@var({quote_plain(name)}{module})"
        return ("&" if node.addressof else "") + text + self.components(node.components, node.pretty)

    def visit_AutocastOp(self, node: ast.AutocastOp) -> str:
        text = f"({self.visit(node.operand)})" + self.components(node.components, node.pretty)
        return ("&" if node.addressof else "") + text

    def visit_DefinedOp(self, node: ast.DefinedOp) -> str:
        return f"@defined({self.visit(node.operand)})"

    def visit_ProbewriteOp(self, node: ast.ProbewriteOp) -> str:
        return f"@probewrite({self.visit(node.operand)})"

    def visit_EntryOp(self, node: ast.EntryOp) -> str:
        return f"@entry({self.visit(node.operand)})"

    def visit_PerfOp(self, node: ast.PerfOp) -> str:
        return f"@perf({self.visit(node.operand)})"

    def visit_ConstOp(self, node: ast.ConstOp) -> str:
        return f"@const({self.visit(node.operand)})"

    def visit_RegisterOp(self, node: ast.RegisterOp) -> str:
        name = "@uregister" if node.user else "@kregister"
        return f"{name}({self.visit(node.operand)})"

    def visit_EmbeddedExpr(self, node: ast.EmbeddedExpr) -> str:
        return "%{ " + node.code + " %}"

    def visit_UnaryExpr(self, node: ast.UnaryExpr) -> str:
        return f"{node.op}({self.visit(node.operand)})"

    def visit_CrementExpr(self, node: ast.CrementExpr) -> str:
        if node.prefix:
            return f"{node.op}({self.visit(node.operand)})"
        return f"({self.visit(node.operand)}){node.op}"

    def binary(self, left: ast.Expr, op: str, right: ast.Expr) -> str:
        return f"({self.visit(left)}) {op} ({self.visit(right)})"

    def visit_BinaryExpr(self, node: ast.BinaryExpr) -> str:
        return self.binary(node.left, node.op, node.right)

    def visit_ComparisonExpr(self, node: ast.ComparisonExpr) -> str:
        return self.binary(node.left, node.op, node.right)

    def visit_LogicalExpr(self, node: ast.LogicalExpr) -> str:
        return self.binary(node.left, node.op, node.right)

    def visit_ConcatExpr(self, node: ast.ConcatExpr) -> str:
        return self.binary(node.left, ".", node.right)

    def visit_AssignmentExpr(self, node: ast.AssignmentExpr) -> str:
        return self.binary(node.target, node.op, node.value)

    def visit_RegexExpr(self, node: ast.RegexExpr) -> str:
        return f"({self.visit(node.left)}) {node.op} {self.visit(node.pattern)}"

    def visit_TernaryExpr(self, node: ast.TernaryExpr) -> str:
        cond, yes, no = self.visit(node.cond), self.visit(node.true_value), self.visit(node.false_value)
        return f"({cond})?({yes}):({no})"

    def visit_HistOp(self, node: ast.HistOp) -> str:
        params = "".join(", " + self.visit(p) for p in node.params)
        return f"@hist_{node.kind}({self.visit(node.operand)}{params})"

    def index_list(self, indexes: list) -> str:
        return ", ".join("*" if i is None else self.visit(i) for i in indexes)

    def visit_ArrayIndex(self, node: ast.ArrayIndex) -> str:
        return f"{self.visit(node.base)}[{self.index_list(node.indexes)}]"

    def visit_ArrayIn(self, node: ast.ArrayIn) -> str:
        index = node.operand
        return f"[{self.index_list(index.indexes)}] in {self.visit(index.base)}"

    def visit_StatOp(self, node: ast.StatOp) -> str:
        params = "".join(", " + self.visit(p) for p in node.params)
        return f"@{node.op}({self.visit(node.operand)}{params})"

    def visit_FunctionCall(self, node: ast.FunctionCall) -> str:
        return node.name + "(" + ", ".join(self.visit(a) for a in node.args) + ")"

    def visit_PrintFormat(self, node: ast.PrintFormat) -> str:
        parts = []
        if node.format is not None:
            parts.append(quote(node.format.value))
        if node.hist is not None:
            parts.append(self.visit(node.hist))
        parts.extend(self.visit(a) for a in node.args)
        return node.name + "(" + ", ".join(parts) + ")"


def quote_plain(text: str) -> str:
    return '"' + text.replace('"', '\\"') + '"'


def _sign(direction: int) -> str:
    return "+" if direction > 0 else "-" if direction < 0 else ""


def print_file(file: ast.StapFile) -> str:
    return Printer().print_file(file)
