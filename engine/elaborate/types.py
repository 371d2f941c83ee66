"""Type inference over long, string and stats, for values, array indexes and functions.

Like stap's typeresolution_info: every body is visited with the type its context
expects (`self.t`); declarations take the first type inferred for them and remember
where, so a later conflict reports both places. Passes repeat until nothing new is
learned; a last pass reports what stayed unknown. Probe handlers are visited
before functions, as stap does (so call sites infer parameter types first).
"""

from __future__ import annotations

from engine.elaborate.errors import semantic_error
from engine.elaborate.formats import argument_types
from engine.elaborate.program import Program
from engine.parse import ast
from engine.parse.ast import Type, walk

UNKNOWN, LONG, STRING, STATS = Type.UNKNOWN, Type.LONG, Type.STRING, Type.STATS
_MAX_ROUNDS = 50
_COMPOUND_LONG = frozenset({"+=", "-=", "*=", "/=", "%=", "<<=", ">>=", ">>>=", "&=", "|=", "^="})
_STRING_PRINTS = frozenset({"sprint", "sprintln", "sprintf", "sprintd", "sprintdln"})
_REPORTED = (ast.Symbol, ast.TargetSymbol, ast.ArrayIndex, ast.CastOp, ast.AtVarOp, ast.FunctionCall)


def infer_types(program: Program) -> None:
    """Annotate every kept expression and declaration with its type, or report errors."""
    inference = TypeInference(program)
    inference.seed()
    for _ in range(_MAX_ROUNDS):
        inference.changed = 0
        inference.round()
        if inference.changed == 0 or inference.errors:
            break
    if not inference.errors:  # stap reports what stayed untyped only when nothing else failed
        inference.final = True
        inference.round()
    program.diagnostics.extend(inference.errors)


class TypeInference(ast.Visitor):
    def __init__(self, program: Program):
        self.program = program
        self.t = UNKNOWN
        self.changed = 0
        self.final = False
        self.first: dict[tuple[int, int | None], ast.Node] = {}
        self.errors: list = []
        self._seen: set[tuple[str, object]] = set()
        self.function: ast.FunctionDecl | None = None
        self.param_index: dict[int, int] = {}
        self.histograms: dict[int, tuple] = {}  # id(stats VarDecl) -> (kind, params) first used
        self.void_call: ast.Node | None = None
        self.returning: set[int] = set()  # ids of functions with a `return <value>`

    def seed(self) -> None:
        """Declared types and global initialisers are known before any inference."""
        for variable in self.program.globals:
            if variable.declared_type is not UNKNOWN:
                variable.type = variable.declared_type
            elif variable.init is not None:
                variable.type = STRING if isinstance(variable.init, ast.StringLiteral) else LONG
        for function in self.program.functions:
            if any(isinstance(n, ast.ReturnStatement) and n.value is not None for n in walk(function.body)):
                self.returning.add(id(function))
            function.type = function.return_type
            for i, param in enumerate(function.params):
                param.type = param.declared_type
                self.param_index[id(param)] = i
        for body in [p.body for p in self.program.probes] + [f.body for f in self.program.functions]:
            for node in walk(body):
                if isinstance(node, ast.NumberLiteral):
                    node.type = LONG
                elif isinstance(node, ast.StringLiteral):
                    node.type = STRING

    def round(self) -> None:
        for probe in self.program.probes:
            self.function = None
            for derived in probe.derived:
                if derived.condition is not None:
                    self.expect(derived.condition, LONG)
            self.expect(probe.body, UNKNOWN)
        for function in self.program.functions:
            self.function = function
            if isinstance(function.body, ast.Block):
                self.expect(function.body, UNKNOWN)

    # -- machinery -----------------------------------------------------------------------

    def expect(self, node: ast.Node, t: Type) -> None:
        saved, self.t = self.t, t
        self.visit(node)
        self.t = saved

    def error(self, message: str, node: ast.Node | None, first: ast.Node | None = None, first_message: str = "") -> None:
        key = (message, node.span if node is not None else None)
        if key in self._seen:
            return
        self._seen.add(key)
        self.errors.append(semantic_error(message, node))
        if first is not None:
            self.errors.append(semantic_error(first_message, first, chained=True))

    def settle(self, node: ast.Expr, t: Type, check: bool = True) -> None:
        """Give an expression node its own type and check it against the context's."""
        if node.type is UNKNOWN and t is not UNKNOWN:
            node.type = t
            self.changed += 1
        if check and self.t is not UNKNOWN and node.type is not UNKNOWN and self.t is not node.type:
            self.error(f"type mismatch: expected {self.t.value} but found {node.type.value}", node)
        if self.final and node.type is UNKNOWN and isinstance(node, _REPORTED) and node is not self.void_call:
            self.error("unresolved type ", node)

    def unify(self, owner: object, index: int | None, current: Type, node: ast.Node, t: Type) -> Type:
        """Merge `t` into a slot (a declaration's value, or its index `index`); returns the slot's type.

        A function parameter is its function's index slot, reported as stap does
        ("index 0 type mismatch") wherever the conflict is found.
        """
        if t is UNKNOWN or t is current:
            return current
        key = (id(owner), index)
        if index is None and id(owner) in self.param_index:
            index = self.param_index[id(owner)]
        if current is UNKNOWN:
            self.first[key] = node
            self.changed += 1
            return t
        first = self.first.get(key)
        if first is None:
            self.error(f"type mismatch: expected {t.value} but found {current.value}", node)
        elif index is None:
            self.error(f"type mismatch ({t.value})", node, first, f"type was first inferred here ({current.value})")
        else:
            self.error(f"index {index} type mismatch ({t.value})", node, first,
                       f"type of index {index} was first inferred here ({current.value})")
        return current

    # -- literals and names ---------------------------------------------------------------

    def visit_NumberLiteral(self, node: ast.NumberLiteral) -> None:
        self.settle(node, LONG)

    def visit_StringLiteral(self, node: ast.StringLiteral) -> None:
        self.settle(node, STRING)

    def visit_Symbol(self, node: ast.Symbol) -> None:
        decl = node.referent
        if decl is not None:
            decl.type = self.unify(decl, None, decl.type, node, self.t)
            self._adopt(node, decl.type)
        self.settle(node, node.type, check=decl is None)

    def _adopt(self, node: ast.Expr, t: Type) -> None:
        """A use takes its declaration's type, unless that conflicts with the context
        (the conflict was just reported; stap leaves such a use untyped)."""
        if node.type is UNKNOWN and t is not UNKNOWN and self.t in (UNKNOWN, t):
            node.type = t
            self.changed += 1

    def visit_ArrayIndex(self, node: ast.ArrayIndex) -> None:
        base = node.base
        if isinstance(base, ast.HistOp):
            self.visit(base)
            self._indexes_of(None, node.indexes)
            self.settle(node, LONG)
            return
        decl = base.referent
        if decl is not None:
            decl.type = self.unify(decl, None, decl.type, node, self.t)
            self._adopt(node, decl.type)
            self._adopt(base, decl.type)
        self._indexes_of(decl, node.indexes)
        self.settle(node, node.type, check=decl is None)

    def _indexes_of(self, decl: ast.VarDecl | None, indexes: list) -> None:
        if decl is not None and len(decl.index_types) < len(indexes):
            decl.index_types += [UNKNOWN] * (len(indexes) - len(decl.index_types))
        for i, index in enumerate(indexes):
            if index is None:
                continue
            if decl is None:
                self.expect(index, LONG)
                continue
            self.expect(index, _hint(index, decl.index_types[i]))
            if index.type is STATS:
                self.error("invalid type stats", index)
                continue
            decl.index_types[i] = self.unify(decl, i, decl.index_types[i], index, index.type)

    def visit_ArrayIn(self, node: ast.ArrayIn) -> None:
        operand = node.operand
        decl = operand.base.referent if isinstance(operand.base, ast.Symbol) else None
        self._indexes_of(decl, operand.indexes)
        self.settle(node, LONG)

    # -- calls ------------------------------------------------------------------------------

    def visit_FunctionCall(self, node: ast.FunctionCall) -> None:
        """Arguments teach parameter types. A function's type comes from its `return`s;
        only one that returns no value takes its type from the context of a call."""
        function = node.referent
        if function is None:
            return
        if function.type is not UNKNOWN or id(function) not in self.returning:
            function.type = self.unify(function, None, function.type, node, self.t)
        self._adopt(node, function.type)
        for arg, param in zip(node.args, function.params):
            self.expect(arg, _hint(arg, param.type))
            param.type = self.unify(param, None, param.type, arg, arg.type)
        self.settle(node, node.type, check=False)

    def visit_ReturnStatement(self, node: ast.ReturnStatement) -> None:
        function = self.function
        if function is None:
            return
        if node.value is None:
            first = self.first.get((id(function), None))
            if first is not None:
                self.error("type mismatch (unknown)", node, first, f"type was first inferred here ({function.type.value})")
            return
        self.expect(node.value, _hint(node.value, function.type))
        function.type = self.unify(function, None, function.type, node.value, node.value.type)

    def visit_PrintFormat(self, node: ast.PrintFormat) -> None:
        if node.hist is not None:
            self.expect(node.hist, UNKNOWN)
        if node.name in ("printf", "sprintf") and node.format is not None:
            wanted = argument_types(node.format.value)
            if len(wanted) != len(node.args):
                self.error("Wrong number of args to formatted print operator", node)
            for arg, t in zip(node.args, wanted):
                self.expect(arg, t)
        else:
            for arg in node.args:
                self.expect(arg, UNKNOWN)
        self.settle(node, STRING if node.name in _STRING_PRINTS else LONG)

    # -- operators ------------------------------------------------------------------------------

    def _arithmetic(self, node: ast.BinaryExpr | ast.LogicalExpr) -> None:
        self._operands(LONG, node.left, node.right)
        self.settle(node, LONG)

    visit_BinaryExpr = visit_LogicalExpr = _arithmetic

    def visit_ConcatExpr(self, node: ast.ConcatExpr) -> None:
        self._operands(STRING, node.left, node.right)
        self.settle(node, STRING)

    def visit_RegexExpr(self, node: ast.RegexExpr) -> None:
        self._operands(STRING, node.left, node.pattern)
        self.settle(node, LONG)

    def _operand_long(self, node: ast.UnaryExpr | ast.CrementExpr) -> None:
        self.expect(node.operand, LONG)
        self.settle(node, LONG)

    visit_UnaryExpr = visit_CrementExpr = _operand_long

    def _operands(self, t: Type, *operands: ast.Expr) -> None:
        for operand in operands:
            self.expect(operand, t)

    def visit_ComparisonExpr(self, node: ast.ComparisonExpr) -> None:
        left, right = node.left, node.right
        self.expect(left, right.type)
        self.expect(right, left.type)
        self.settle(node, LONG)

    def visit_TernaryExpr(self, node: ast.TernaryExpr) -> None:
        self.expect(node.cond, LONG)
        self.expect(node.true_value, self.t)
        self.expect(node.false_value, self.t if self.t is not UNKNOWN else node.true_value.type)
        if node.true_value.type is UNKNOWN and node.false_value.type is not UNKNOWN:
            self.expect(node.true_value, node.false_value.type)
        self.settle(node, node.true_value.type)

    def visit_AssignmentExpr(self, node: ast.AssignmentExpr) -> None:
        op, target, value = node.op, node.target, node.value
        if op == "<<<":
            self.expect(target, STATS)
            self.expect(value, LONG)
            self.settle(node, LONG)
            return
        if op in _COMPOUND_LONG or op == ".=":
            t = STRING if op == ".=" else LONG
            self.expect(target, t)
            self.expect(value, t)
            self.settle(node, t)
            return
        t = self.t
        if target.type is UNKNOWN and value.type is not UNKNOWN:
            t = value.type
        elif t is UNKNOWN:
            t = target.type
        self.expect(target, t)
        self.expect(value, _hint(value, t))
        self.settle(node, target.type)

    # -- statistics -------------------------------------------------------------------------------

    def visit_StatOp(self, node: ast.StatOp) -> None:
        self._aggregate(node.operand)
        self.settle(node, LONG)

    def _aggregate(self, operand: ast.Expr) -> None:
        """A statistic operand; a function call there only has its type checked (stap
        infers a function's type from its returns before such a use can)."""
        if not isinstance(operand, ast.FunctionCall) or operand.referent is None:
            self.expect(operand, STATS)
            return
        self.expect(operand, UNKNOWN)
        function = operand.referent
        if function.type is not UNKNOWN:
            self.unify(function, None, function.type, operand, STATS)

    def visit_HistOp(self, node: ast.HistOp) -> None:
        """A statistic has one histogram shape; stap rejects a second, different one."""
        self._aggregate(node.operand)
        operand = node.operand.base if isinstance(node.operand, ast.ArrayIndex) else node.operand
        decl = getattr(operand, "referent", None)
        if decl is None:
            return
        shape = (node.kind, tuple(p.value for p in node.params))
        if self.histograms.setdefault(id(decl), shape) != shape:
            self.error(f"multiple histogram types declared on '__global_{decl.name}'", node)

    # -- target and special operators -----------------------------------------------------------

    def visit_TargetSymbol(self, node: ast.TargetSymbol) -> None:
        self.settle(node, node.type)

    def visit_CastOp(self, node: ast.CastOp) -> None:
        self.expect(node.operand, LONG)
        self.settle(node, node.type)

    def visit_EntryOp(self, node: ast.EntryOp) -> None:
        self.expect(node.operand, self.t)
        self.settle(node, node.operand.type)

    def visit_DefinedOp(self, node: ast.DefinedOp) -> None:
        self.settle(node, LONG)

    def visit_EmbeddedExpr(self, node: ast.EmbeddedExpr) -> None:
        self.settle(node, STRING if "/* string */" in node.code else LONG)

    def _long(self, node: ast.Expr) -> None:
        self.settle(node, LONG)

    visit_PerfOp = visit_ConstOp = visit_RegisterOp = visit_ProbewriteOp = _long

    # -- statements ---------------------------------------------------------------------------------

    def visit_ExprStatement(self, node: ast.ExprStatement) -> None:
        self.void_call = node.expr  # a call whose value nobody uses may stay untyped
        self.expect(node.expr, UNKNOWN)

    def visit_IfStatement(self, node: ast.IfStatement) -> None:
        self.expect(node.cond, LONG)
        self.expect(node.then, UNKNOWN)
        if node.else_ is not None:
            self.expect(node.else_, UNKNOWN)

    def visit_ForLoop(self, node: ast.ForLoop) -> None:
        for part in (node.init, node.incr):
            if part is not None:
                self.expect(part, UNKNOWN)
        self.expect(node.cond, LONG)
        self.expect(node.body, UNKNOWN)

    def visit_ForeachLoop(self, node: ast.ForeachLoop) -> None:
        base = node.base
        if isinstance(base, ast.HistOp):
            self.expect(base, UNKNOWN)
            self._bind_keys(None, node.indexes)
            if node.value is not None:
                self.expect(node.value, LONG)
        else:
            decl = base.referent
            if node.array_slice:
                self._indexes_of(decl, node.array_slice)
            self._bind_keys(decl, node.indexes)
            if node.value is not None and decl is not None:
                self._pair(node.value, decl, None)
        if node.limit is not None:
            self.expect(node.limit, LONG)
        self.expect(node.body, UNKNOWN)

    def _bind_keys(self, decl: ast.VarDecl | None, keys: list[ast.Symbol]) -> None:
        if decl is not None and len(decl.index_types) < len(keys):
            decl.index_types += [UNKNOWN] * (len(keys) - len(decl.index_types))
        for i, key in enumerate(keys):
            if decl is None:
                self.expect(key, LONG)
            else:
                self._pair(key, decl, i)

    def _pair(self, variable: ast.Symbol, decl: ast.VarDecl, index: int | None) -> None:
        """A foreach key or value variable and the array slot it walks take one type."""
        slot = decl.type if index is None else decl.index_types[index]
        if slot is STATS:
            self.error("invalid type stats", variable)
            return
        self.expect(variable, slot)
        learned = self.unify(decl, index, slot, variable, variable.type)
        if index is None:
            decl.type = learned
        else:
            decl.index_types[index] = learned

    def visit_TryBlock(self, node: ast.TryBlock) -> None:
        self.expect(node.body, UNKNOWN)
        if node.catch_var is not None:
            self.expect(node.catch_var, STRING)
        self.expect(node.handler, UNKNOWN)

    def visit_DeleteStatement(self, node: ast.DeleteStatement) -> None:
        target = node.target
        if isinstance(target, ast.ArrayIndex):
            decl = target.base.referent if isinstance(target.base, ast.Symbol) else None
            self._indexes_of(decl, target.indexes)


def _hint(node: ast.Expr, t: Type) -> Type:
    """Where two known types meet (arguments, returns, indexes), only `unify` may complain."""
    return t if node.type is UNKNOWN else UNKNOWN
