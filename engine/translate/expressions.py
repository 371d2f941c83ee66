"""The expression emitter: one `visit_<Node>` per expression kind, each returning a C
expression (int64_t for longs, `const char *` for strings, `struct stp_stat *` for
statistics). Side effects and checks live inside GNU statement expressions, so every
result is an ordinary C expression; an error jumps to the frame's error label.

Evaluation order is stap's (left to right): when two operands both have side effects,
the left one is first saved in a temporary.
"""

from __future__ import annotations

from engine.parse import ast
from engine.translate.cstrings import c_literal, decode
from engine.translate.unit import Frame, TranslateError, near, near_operator

_ARITH = {"+": "+", "-": "-", "*": "*", "&": "&", "|": "|", "^": "^"}
_CHECKED = {"/": "stp_div", "%": "stp_mod"}
_SHIFTS = {"<<": "stp_shl", ">>": "stp_shr", ">>>": "stp_ushr"}
_PURE = (ast.NumberLiteral, ast.StringLiteral, ast.Symbol)


def is_pure(expr: ast.Expr | None) -> bool:
    """No side effects and no errors: evaluating it in any order is the same."""
    if expr is None or isinstance(expr, _PURE):
        return True
    if isinstance(expr, ast.UnaryExpr):
        return is_pure(expr.operand)
    if isinstance(expr, (ast.ComparisonExpr, ast.LogicalExpr, ast.ConcatExpr)):
        return is_pure(expr.left) and is_pure(expr.right)
    if isinstance(expr, ast.BinaryExpr):
        return expr.op not in _CHECKED and is_pure(expr.left) and is_pure(expr.right)
    if isinstance(expr, ast.TernaryExpr):
        return is_pure(expr.cond) and is_pure(expr.true_value) and is_pure(expr.false_value)
    return False


def int_literal(value: int) -> str:
    value &= (1 << 64) - 1
    if value >= 1 << 63:
        value -= 1 << 64
    if value == -(1 << 63):
        return "((int64_t)(-9223372036854775807LL - 1))"
    return f"((int64_t){value}LL)"


class ExprEmitter(ast.Visitor):
    def __init__(self, frame: Frame):
        self.frame = frame
        self.unit = frame.unit

    # -- helpers ------------------------------------------------------------------------

    def fail_if_error(self, near_text: str | None = None) -> str:
        """C statement: on a pending error, record where and jump to the error label."""
        where = f" c->last_stmt = {near_text};" if near_text else ""
        return f"if (c->last_error) {{{where} goto {self.frame.error_label}; }}"

    def after_call(self) -> str:
        return f"if (c->last_error) goto {self.frame.error_label}; if (c->next) goto out;"

    def ordered(self, exprs: list[ast.Expr]) -> tuple[list[str], list[str]]:
        """C code for `exprs`, evaluated left to right: (prelude statements, values).

        Everything before the last expression with side effects is saved first, so a
        later side effect cannot change an earlier operand (`s . f()` where f sets s)."""
        codes = [self.visit(e) for e in exprs]
        last = max((i for i, e in enumerate(exprs) if not is_pure(e)), default=-1)
        if last <= 0:
            return [], codes
        prelude, values = [], []
        for i, (expr, code) in enumerate(zip(exprs, codes)):
            if i < last and not isinstance(expr, (ast.NumberLiteral, ast.StringLiteral)):
                values.append(self.save(expr.type, code, prelude))
            else:
                values.append(code)
        return prelude, values

    def save(self, t: ast.Type, code: str, prelude: list[str]) -> str:
        if t is ast.Type.STRING:
            temp = self.frame.string_temp()
            prelude.append(f"stp_strset({temp}, {code});")
            return temp
        name = self.frame.fresh("v")
        ctype = "struct stp_stat *" if t is ast.Type.STATS else "int64_t"
        prelude.append(f"{ctype} {name} = {code};")
        return name

    @staticmethod
    def block(prelude: list[str], value: str) -> str:
        if not prelude:
            return value
        return "({ " + " ".join(prelude) + f" {value}; }})"

    def keys(self, indexes: list[ast.Expr | None]) -> tuple[list[str], str, int]:
        """(prelude, `(union stp_value[]){...}`, wildcard mask) for array indexes."""
        present = [e for e in indexes if e is not None]
        prelude, values = self.ordered(present)
        it = iter(values)
        fields, mask = [], 0
        for i, index in enumerate(indexes):
            if index is None:
                fields.append("{.n = 0}")
                mask |= 1 << i
            elif index.type is ast.Type.STRING:
                fields.append(f"{{.s = {next(it)}}}")
            else:
                fields.append(f"{{.n = {next(it)}}}")
        return prelude, "(union stp_value[]){" + ", ".join(fields) + "}", mask

    def global_array(self, base: ast.Expr) -> str:
        info = self.unit.global_of(getattr(base, "referent", None))
        if not isinstance(base, ast.Symbol) or info is None or not info.is_array:
            raise TranslateError("expected a global array", base)
        return info.cname

    # -- literals and variables ------------------------------------------------------------

    def visit_NumberLiteral(self, node: ast.NumberLiteral) -> str:
        return int_literal(node.value)

    def visit_StringLiteral(self, node: ast.StringLiteral) -> str:
        return c_literal(decode(node.value))

    def visit_Symbol(self, node: ast.Symbol) -> str:
        info = self.unit.global_of(node.referent)
        if info is not None:
            if info.is_array:
                raise TranslateError(f"array '{node.name}' used as a scalar", node)
            return f"(&{info.cname})" if node.referent.type is ast.Type.STATS else info.cname
        if node.referent is None:
            raise TranslateError(f"unresolved symbol '{node.name}'", node)
        return self.frame.local_name(node.referent)

    def visit_TargetSymbol(self, node: ast.TargetSymbol) -> str:
        if self.frame.family == "procfs" and node.name == "$value":
            return "c->procfs_value"
        hook = self.unit.target_hooks.get(self.frame.family)
        if hook is None:
            raise TranslateError(f"target variable {node.name} is not available in this probe", node)
        return hook(node, self)

    def visit_EmbeddedExpr(self, node: ast.EmbeddedExpr) -> str:
        if node.type is ast.Type.STRING:
            return f"((const char *)({node.code}))"
        return f"((int64_t)({node.code}))"

    # -- operators ---------------------------------------------------------------------------

    def visit_UnaryExpr(self, node: ast.UnaryExpr) -> str:
        value = self.visit(node.operand)
        if node.op == "-":
            return f"((int64_t)(0 - (uint64_t)({value})))"
        if node.op == "!":
            return f"((int64_t)!({value}))"
        if node.op == "~":
            return f"(~({value}))"
        return value

    def visit_BinaryExpr(self, node: ast.BinaryExpr) -> str:
        prelude, (left, right) = self.ordered([node.left, node.right])
        return self.block(prelude, self.arith(node.op, left, right, near_operator(node.op, node, node.right)))

    def arith(self, op: str, left: str, right: str, where: str) -> str:
        """C for `left op right`; `where` locates a division error (a C literal)."""
        if op in _ARITH:
            return f"(({left}) {_ARITH[op]} ({right}))"
        if op in _SHIFTS:
            return f"{_SHIFTS[op]}({left}, {right})"
        if op in _CHECKED:
            result = self.frame.fresh("v")
            check = self.fail_if_error(where)
            return f"({{ int64_t {result} = {_CHECKED[op]}(c, {left}, {right}); {check} {result}; }})"
        raise TranslateError(f"unknown operator '{op}'")

    def visit_ComparisonExpr(self, node: ast.ComparisonExpr) -> str:
        prelude, (left, right) = self.ordered([node.left, node.right])
        if node.left.type is ast.Type.STRING:
            return self.block(prelude, f"((int64_t)(strcmp({left}, {right}) {node.op} 0))")
        return self.block(prelude, f"((int64_t)(({left}) {node.op} ({right})))")

    def visit_LogicalExpr(self, node: ast.LogicalExpr) -> str:
        return f"((int64_t)(({self.visit(node.left)}) {node.op} ({self.visit(node.right)})))"

    def visit_TernaryExpr(self, node: ast.TernaryExpr) -> str:
        cond = self.visit(node.cond)
        return f"(({cond}) ? ({self.visit(node.true_value)}) : ({self.visit(node.false_value)}))"

    def visit_ConcatExpr(self, node: ast.ConcatExpr) -> str:
        return self.concat(node)[1]

    def concat(self, node: ast.ConcatExpr) -> tuple[str, str]:
        """(temporary, code): a chain `a . b . c` appends into one temporary."""
        if isinstance(node.left, ast.ConcatExpr):
            temp, left = self.concat(node.left)
        else:
            temp = self.frame.string_temp()
            left = f"stp_strset({temp}, {self.visit(node.left)})"
        right = self.visit(node.right)
        return temp, f"({{ {left}; stp_concat({temp}, {temp}, {right}); }})"

    def visit_RegexExpr(self, node: ast.RegexExpr) -> str:
        value = self.visit(node.left)
        pattern = c_literal(decode(node.pattern.value))
        result = self.frame.fresh("v")
        check = self.fail_if_error(near_operator(node.op, node, node.pattern))
        negate = "!" if node.op == "!~" else ""
        return f"({{ int64_t {result} = {negate}stp_regex_match(c, {value}, {pattern}); {check} {result}; }})"

    # -- assignment ------------------------------------------------------------------------

    def visit_AssignmentExpr(self, node: ast.AssignmentExpr) -> str:
        target = node.target
        if isinstance(target, ast.ArrayIndex):
            from engine.translate.arrays import assign_element

            return assign_element(self, node)
        if node.op == "<<<":
            stat = self.visit(target)
            value = self.frame.fresh("v")
            return f"({{ int64_t {value} = {self.visit(node.value)}; stp_stat_add({stat}, {value}); {value}; }})"
        lvalue = self.visit(target)
        if target.type is ast.Type.STRING:
            if node.op == ".=":
                return f"stp_concat({lvalue}, {lvalue}, {self.visit(node.value)})"
            return f"stp_strset({lvalue}, {self.visit(node.value)})"
        if node.op == "=":
            return f"({lvalue} = {self.visit(node.value)})"
        value = self.frame.fresh("v")
        combined = self.arith(node.op[:-1], lvalue, value, near_operator(node.op, node, node.value))
        return f"({{ int64_t {value} = {self.visit(node.value)}; {lvalue} = {combined}; }})"

    def visit_CrementExpr(self, node: ast.CrementExpr) -> str:
        if isinstance(node.operand, ast.ArrayIndex):
            from engine.translate.arrays import crement_element

            return crement_element(self, node)
        lvalue = self.visit(node.operand)
        return f"({node.op}{lvalue})" if node.prefix else f"({lvalue}{node.op})"

    # -- arrays and statistics ---------------------------------------------------------------

    def visit_ArrayIndex(self, node: ast.ArrayIndex) -> str:
        from engine.translate.arrays import read_element

        return read_element(self, node)

    def visit_ArrayIn(self, node: ast.ArrayIn) -> str:
        array = self.global_array(node.operand.base)
        prelude, keys, mask = self.keys(node.operand.indexes)
        return self.block(prelude, f"((int64_t)stp_map_exists({array}, {keys}, {mask}u))")

    def visit_StatOp(self, node: ast.StatOp) -> str:
        stat = self.visit(node.operand)
        if node.op in ("count", "sum"):  # never "empty aggregate"
            return f"stp_stat_{node.op}(c, {stat})"
        result = self.frame.fresh("v")
        check = self.fail_if_error(near(f"operator '@{node.op}'", node))
        return f"({{ int64_t {result} = stp_stat_{node.op}(c, {stat}); {check} {result}; }})"

    def visit_HistOp(self, node: ast.HistOp) -> str:
        return self.visit(node.operand)

    # -- calls and printing -------------------------------------------------------------------

    def visit_FunctionCall(self, node: ast.FunctionCall) -> str:
        decl = node.referent
        if decl is None:
            raise TranslateError(f"unresolved function '{node.name}'", node)
        prelude, args = self.ordered(node.args)
        cname = self.unit.function_name(decl)
        identifier = "identifier '" + node.name + "'"
        where = f"c->last_stmt = {near(identifier, node)};"
        if decl.type is ast.Type.STRING:
            temp = self.frame.string_temp()
            call = f"{cname}({', '.join(['c', temp, *args])});"
            return "({ " + " ".join([*prelude, where, call, self.after_call()]) + f" (const char *){temp}; }})"
        result = self.frame.fresh("v")
        call = f"int64_t {result} = {cname}({', '.join(['c', *args])});"
        return "({ " + " ".join([*prelude, where, call, self.after_call()]) + f" {result}; }})"

    def visit_PrintFormat(self, node: ast.PrintFormat) -> str:
        from engine.translate.printing import emit_print

        return emit_print(self, node)

    def visit_DefinedOp(self, node: ast.DefinedOp) -> str:
        raise TranslateError("@defined should have been resolved by elaboration", node)

    def generic_visit(self, node: ast.Node) -> str:
        hook = self.unit.target_hooks.get(self.frame.family)
        if hook is not None:
            return hook(node, self)
        raise TranslateError(f"{type(node).__name__} is not supported by this translator", node)
