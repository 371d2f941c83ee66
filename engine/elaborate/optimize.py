"""The optimiser: stap's elisions, with its warnings (for the user's own code only).

1. Assignments to locals that are never read become their value
   (`Eliding assignment to 'x'`).
2. Expression statements without side effects disappear
   (`Eliding side-effect-free expression : identifier 'x'`).
3. Handlers left empty disappear (`Probe 'begin' has been elided`).
4. Whatever is no longer referenced — functions, globals, locals — is dropped
   silently, as stap drops unused tapset parts.
5. After type inference, operations on literals become literals (`fold_literals`).
`-u` keeps 1–3 from happening; `-w` (in the CLI) hides the warnings.
"""

from __future__ import annotations

import copy

from engine.elaborate.effects import Effects, is_global
from engine.elaborate.errors import first_token, semantic_error, warning
from engine.elaborate.program import Program
from engine.elaborate.walk import transform
from engine.parse.ast import walk
from engine.parse import ast


def optimize(program: Program, unoptimized: bool) -> None:
    effects = Effects()
    for holder in _bodies(program):
        if id(holder) in program.with_defined:
            holder.body = transform(holder.body, _fold)
    if not unoptimized:
        _elide(program, effects)
        _warn_empty_functions(program)
        _elide_empty_probes(program)
    _drop_unreferenced(program)
    if not program.probes:
        program.diagnostics.append(semantic_error("no probes found"))


def _elide(program: Program, effects: Effects) -> None:
    """Rounds of 1 then 2 until nothing more goes, as stap loops: `x = f(y)` elided
    leaves `f(y)`, which may go next, and then `y` may be unread. A body left as it was
    by a round is done (its locals are its own); after the first round, only what 1
    left behind can go in 2."""
    pending = _bodies(program)
    first = True
    while pending:
        assigned = [h for h in pending if _once_per_copy(program, h, lambda: _elide_assignments(program, h))]
        swept = {id(h) for h in (pending if first else assigned)
                 if _once_per_copy(program, h, lambda: _elide_statements(program, h, effects))}
        changed = swept | {id(h) for h in assigned}
        pending = [h for h in pending if id(h) in changed]
        first = False


def _bodies(program: Program) -> list[ast.Probe | ast.FunctionDecl]:
    functions = [f for f in program.functions if isinstance(f.body, ast.Block)]
    return [*program.probes, *functions]


def _once_per_copy(program: Program, holder, step) -> int:
    """Run `step` on one handler, then repeat its warnings for each further probe the
    handler serves: stap gives every derived probe its own copy of the body, so it warns
    once per copy (-v shows them all; without it they count as suppressed). Returns
    what `step` returns: how many things it elided."""
    start = len(program.diagnostics)
    elided = step()
    copies = len(holder.derived) if isinstance(holder, ast.Probe) else 1
    warned = program.diagnostics[start:]
    program.diagnostics += [copy.copy(d) for _ in range(copies - 1) for d in warned]
    return elided


def _warn(program: Program, message: str, node: ast.Node) -> None:
    if node.span is not None and not node.span.file.is_tapset:
        program.diagnostics.append(warning(message, node))


# -- 0. constants: @defined and the branches it decides (done even with -u, as stap does) ------


def _fold(node: ast.Node) -> ast.Node:
    """Replace @defined by its literal and keep only the branch it selects."""
    if isinstance(node, ast.DefinedOp):
        return _decided(node.value, node)
    if isinstance(node, ast.UnaryExpr) and node.op == "!" and _is_decided(node.operand):
        return _decided(int(not node.operand.value), node)
    if isinstance(node, ast.TernaryExpr) and _is_decided(node.cond):
        return node.true_value if node.cond.value else node.false_value
    if isinstance(node, ast.IfStatement) and _is_decided(node.cond):
        kept = node.then if node.cond.value else node.else_
        return kept if kept is not None else ast.NullStatement(span=node.span)
    return node


def _decided(value: int, node: ast.Node) -> ast.NumberLiteral:
    literal = ast.NumberLiteral(value, str(value), type=ast.Type.LONG, span=node.span)
    literal.decided = True  # came from @defined: the branch it guards was never resolved
    return literal


def _is_decided(node: ast.Node) -> bool:
    return getattr(node, "decided", False)


# -- 1. assignments to unread locals -----------------------------------------------------


def _elide_assignments(program: Program, holder) -> int:
    read, candidates, nested = _read_locals(holder.body)
    dead = {id(node) for node in candidates if id(_target_local(node)) not in read}
    if not dead:
        return 0  # nothing to elide: no rewrite of the whole body
    replaced = program.elided_targets
    elided = 0

    def elide(node: ast.AssignmentExpr) -> ast.Expr:
        nonlocal elided
        _warn(program, f"Eliding assignment to '{node.target.name}'", node)
        replaced[id(node.value)] = node.target
        elided += 1
        return node.value

    def rewrite(node: ast.Node) -> ast.Node:
        if isinstance(node, ast.TryBlock) and id(node) in dead:
            node.catch_var = None  # a catch variable nobody reads is not kept either
        elif isinstance(node, ast.ExprStatement) and id(node.expr) in dead:  # reached when skipping expressions
            node.expr = elide(node.expr)
        elif isinstance(node, ast.AssignmentExpr) and id(node) in dead:
            return elide(node)
        return node

    # only an assignment inside an expression needs every expression rewritten
    holder.body = transform(holder.body, rewrite, skip=() if dead & nested else ast.Expr)
    return elided


def _target_local(node: ast.Node) -> ast.VarDecl:
    return node.catch_var.referent if isinstance(node, ast.TryBlock) else node.target.referent


def _read_locals(body: ast.Node) -> tuple[set[int], list[ast.Node], set[int]]:
    """ids of the local declarations whose value is read somewhere in `body`; the
    candidates for 1 (`local = value` assignments, try blocks with a catch variable);
    and ids of the assignments not directly an expression statement."""
    written: set[int] = set()
    symbols: list[ast.Symbol] = []
    candidates: list[ast.Node] = []
    statements: set[int] = set()  # ids of the expressions that are whole statements
    for node in walk(body):  # a target comes after its assignment: filtered at the end
        if isinstance(node, ast.Symbol):
            if node.referent is not None:
                symbols.append(node)
        elif isinstance(node, ast.ExprStatement):
            statements.add(id(node.expr))
        elif isinstance(node, ast.AssignmentExpr):
            if node.op == "=":
                written.add(id(node.target))
                target = node.target
                if isinstance(target, ast.Symbol) and target.referent is not None and not is_global(target.referent):
                    candidates.append(node)
        elif isinstance(node, ast.ForeachLoop):
            written.update(id(s) for s in [*node.indexes, node.value] if s is not None)
        elif isinstance(node, ast.TryBlock) and node.catch_var is not None:
            written.add(id(node.catch_var))
            if node.catch_var.referent is not None:
                candidates.append(node)
    read = {id(node.referent) for node in symbols if id(node) not in written}
    nested = {id(node) for node in candidates if isinstance(node, ast.AssignmentExpr) and id(node) not in statements}
    return read, candidates, nested


# -- 2. side-effect-free statements -------------------------------------------------------


def _elide_statements(program: Program, holder, effects: Effects) -> int:
    replaced = program.elided_targets
    elided = 0

    def rewrite(node: ast.Node) -> ast.Node:
        nonlocal elided
        if isinstance(node, ast.Block):
            node.statements = [s for s in node.statements if not isinstance(s, ast.NullStatement)]
        if isinstance(node, ast.ExprStatement) and not effects.expression(node.expr):
            token = replaced.get(id(node.expr)) or first_token(node.expr)
            _warn(program, "Eliding side-effect-free expression ", token)
            elided += 1
            return ast.NullStatement(span=node.span)
        if isinstance(node, ast.ExprStatement):
            node.expr = _essential(node.expr, effects)
        return node

    holder.body = transform(holder.body, rewrite, skip=ast.Expr)  # statements only
    if isinstance(holder.body, ast.Block):
        holder.body.statements = [s for s in holder.body.statements if not isinstance(s, ast.NullStatement)]
    return elided


def _essential(expr: ast.Expr, effects: Effects) -> ast.Expr:
    """The part of an unused value that has effects: `f() + 1` as a statement is `f()`."""
    if isinstance(expr, (ast.BinaryExpr, ast.ComparisonExpr, ast.ConcatExpr)):
        if not effects.expression(expr.left):
            return _essential(expr.right, effects)
        if not effects.expression(expr.right):
            return _essential(expr.left, effects)
    if isinstance(expr, ast.UnaryExpr):
        return _essential(expr.operand, effects)
    return expr


def _warn_empty_functions(program: Program) -> None:
    for function in program.functions:
        body = function.body
        if isinstance(body, ast.Block) and _is_empty(body):
            _warn(program, f"side-effect-free function '{function.name}'", function)


# -- 3. empty handlers -----------------------------------------------------------------------


def _elide_empty_probes(program: Program) -> None:
    kept = []
    for probe in program.probes:
        if _is_empty(probe.body):
            for derived in probe.derived:  # stap names the point written, through aliases the alias's name
                where = derived.reference.components[0] if derived.reference is not None else probe
                _warn(program, f"Probe '{_family_word(derived.point)}' has been elided", where)
        else:
            kept.append(probe)
    program.probes = kept


def _is_empty(statement: ast.Stmt) -> bool:
    if isinstance(statement, ast.Block):
        return all(_is_empty(s) for s in statement.statements)
    return isinstance(statement, ast.NullStatement)


def _family_word(point: str) -> str:
    return point.split(".")[0].split("(")[0]


# -- 4. unreferenced functions, globals and locals --------------------------------------------


def _drop_unreferenced(program: Program) -> None:
    functions: dict[int, ast.FunctionDecl] = {}
    variables: set[int] = set()
    pending: list[ast.Node] = [p.body for p in program.probes]
    pending += [d.condition for p in program.probes for d in p.derived if d.condition is not None]
    while pending:
        for node in walk(pending.pop()):
            if isinstance(node, ast.FunctionCall) and node.referent is not None:
                if id(node.referent) not in functions:
                    functions[id(node.referent)] = node.referent
                    pending.append(node.referent.body)
            elif isinstance(node, ast.Symbol) and node.referent is not None:
                variables.add(id(node.referent))
    program.functions = [f for f in program.functions if id(f) in functions]
    program.globals = [g for g in program.globals if id(g) in variables]
    for holder in [*program.probes, *program.functions]:
        holder.locals = [v for v in holder.locals if id(v) in variables]


# -- 5. literal folding, after type inference (stap's second optimisation pass; not with -u) --


def fold_literals(program: Program) -> None:
    """Type errors are found in the code as written (`if (0) x = "a"` still conflicts);
    then stap folds what literals decide, as its -p2 shows."""
    for holder in _bodies(program):
        holder.body = transform(holder.body, _fold_literals)
    for derived in (d for p in program.probes for d in p.derived if d.condition is not None):
        transform(derived.condition, _fold_literals)  # stap folds inside a guard, never its root

_ARITH = {
    "+": lambda x, y: x + y, "-": lambda x, y: x - y, "*": lambda x, y: x * y,
    "&": lambda x, y: x & y, "|": lambda x, y: x | y, "^": lambda x, y: x ^ y,
    "<<": lambda x, y: x << (y & 63), ">>": lambda x, y: x >> (y & 63),
    ">>>": lambda x, y: (x % 2**64) >> (y & 63),
}
_COMPARE = {"<": lambda x, y: x < y, "<=": lambda x, y: x <= y, ">": lambda x, y: x > y,
            ">=": lambda x, y: x >= y, "==": lambda x, y: x == y, "!=": lambda x, y: x != y}


def _fold_literals(node: ast.Node) -> ast.Node:
    """Operations on literals become literals, a literal condition keeps its branch:
    `-1`, `9`, `"ab"`, as stap's -p2 shows them (the runtime semantics of arith.c)."""
    if isinstance(node, ast.UnaryExpr) and isinstance(node.operand, ast.NumberLiteral):
        value = node.operand.value
        return _number({"-": -value, "+": value, "!": int(value == 0), "~": ~value}[node.op], node)
    if isinstance(node, (ast.BinaryExpr, ast.ComparisonExpr, ast.LogicalExpr)):
        folded = _fold_operation(node.op, node.left, node.right)
        return _number(folded, node) if folded is not None else node
    if isinstance(node, ast.ConcatExpr) and all(isinstance(n, ast.StringLiteral) for n in (node.left, node.right)):
        return ast.StringLiteral(node.left.value + node.right.value, type=ast.Type.STRING, span=node.left.span)
    if isinstance(node, ast.TernaryExpr) and isinstance(node.cond, ast.NumberLiteral):
        return node.true_value if node.cond.value else node.false_value
    if isinstance(node, ast.IfStatement) and isinstance(node.cond, ast.NumberLiteral):
        kept = node.then if node.cond.value else node.else_
        return kept if kept is not None else ast.NullStatement(span=node.span)
    return node


def _fold_operation(op: str, left: ast.Node, right: ast.Node) -> int | None:
    if all(isinstance(n, ast.StringLiteral) and "\\" not in n.value for n in (left, right)) and op in _COMPARE:
        return int(_COMPARE[op](left.value.encode(), right.value.encode()))
    if not (isinstance(left, ast.NumberLiteral) and isinstance(right, ast.NumberLiteral)):
        return None
    x, y = left.value, right.value
    if op in _ARITH:
        return _ARITH[op](x, y)
    if op in _COMPARE:
        return int(_COMPARE[op](x, y))
    if op in ("&&", "||"):
        return int(bool(x) and bool(y)) if op == "&&" else int(bool(x) or bool(y))
    if op == "/" and y != 0:  # division by 0 stays, to fail at run time
        return -x if y == -1 else abs(x) // abs(y) * (1 if (x < 0) == (y < 0) else -1)
    if op == "%" and y != 0:
        return 0 if y in (1, -1) else abs(x) % abs(y) * (1 if x >= 0 else -1)
    return None


def _number(value: int, node: ast.Node) -> ast.NumberLiteral:
    value = (value + 2**63) % 2**64 - 2**63  # 64-bit wrap-around
    return ast.NumberLiteral(value, str(value), type=ast.Type.LONG, span=node.span)
