"""Which kernel probes aggregate in the kernel, and why the others do not (pass 3).

A kernel probe's handler normally runs in the runtime, fed by a ring-buffer record.
When the handler only counts, sums or aggregates statistics into globals
(`a[k...] <<< v`, `a[k...]++`, `a[k...] += v`, `n++`, `s <<< v`, optionally under
conditions), with every key and value computable at probe time (constants, pid(),
tid(), uid(), gid(), cpu(), execname(), integer target variables, locals set from
those, small pure functions), its capture program updates per-CPU BPF maps instead
(aggregate_bpf.py) and the runtime merges what they gained into the user-space
globals before anything reads them (runtime_c/bpf_agg_merge.c).

`analyse(program, defines)` decides per probe and says why; per global it checks
what the merge cannot reproduce:

- a read of the global by another kernel probe's handler: that handler runs after its
  event, the merge would hand it later events too;
- `global a%`: wrap-around evicts in insertion order;
- @variance: computed in order of arrival (Welford's method), per-CPU maps cannot;
- @min/@max (read, or printed with the whole statistic) of a global the script also
  deletes: a minimum cannot be taken back out of a map that is never cleared.

The latency pattern is kept in the kernel too: a global long array used only as a
per-thread stash of times by in-kernel handlers -- `start[tid()] = gettimeofday_ns()`,
`tid() in start`, `gettimeofday_ns() - start[tid()]`, `delete start[tid()]` -- becomes a
BPF hash map of CLOCK_MONOTONIC times (their differences are what the script reads),
and stays empty in user space.

-DSTP_NO_KERNEL_AGGREGATION keeps every handler in user space (for comparisons).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.parse import ast
from engine.translate.bpf import plan as P
from engine.translate.bpf.uprobe_attach import _reads as user_reads, _values as user_values, is_user_probe
from engine.translate.cstrings import decode

DISABLE = "STP_NO_KERNEL_AGGREGATION"
CONTEXT_FUNCTIONS = frozenset({"pid", "tid", "uid", "gid", "cpu"})
STRING_CONTEXT = "execname"
TIME = "gettimeofday_ns"  # stashed, and read back only as a difference
ARITHMETIC = frozenset({"+", "-", "*", "&", "|", "^", "<<", ">>"})
MAX_UPDATES = 16  # aggregation statements per handler (one stack slot each)
MAX_KEY_BYTES = 128  # of the indexes computed at probe time (integers 8, execname() 16)
INLINE_DEPTH = 8


class NotEligible(Exception):
    """Why a handler stays in user space (the message completes "user-space handler: ...")."""


@dataclass
class Value:
    """An expression of the handler and the locals/parameters in force where it is read."""

    expr: ast.Expr
    env: dict[int, "Value | None"]


@dataclass
class Key:
    """One index of the updated array: a constant, or computed at probe time."""

    value: Value | None = None  # computed: an integer, or execname() when `comm`
    comm: bool = False
    constant: int | str | None = None


@dataclass
class Update:
    """One aggregation statement: `target[keys] <<< value` (stat) or `target[keys] += value`."""

    stmt: ast.Stmt
    target: ast.VarDecl
    stat: bool
    keys: list[Key]
    value: Value
    negate: bool = False
    guards: list[tuple[Value, bool]] = field(default_factory=list)  # (condition, must be true)
    stash: str = ""  # "store": target[keys] = gettimeofday_ns(); "delete": delete target[keys]

    def describe(self) -> str:
        if self.stash:
            keys = ", ".join(_describe_key(k) for k in self.keys)
            return f"{'stash the time in' if self.stash == 'store' else 'delete'} {self.target.name}[{keys}]"
        what = "aggregate" if self.stat else "count" if _is_one(self.value.expr) else "sum"
        what = {"count": "count down", "sum": "subtract from"}.get(what, what) if self.negate else what
        keys = [_describe_key(k) for k in self.keys]
        return f"{what} {self.target.name}" + (f" by {', '.join(keys)}" if keys else "")


@dataclass
class Decision:
    probe: ast.Probe
    updates: list[Update]
    reason: str  # empty when in the kernel
    stash_symbols: set[int] = field(default_factory=set)  # id() of the Symbols naming a stash global
    stash_reads: dict[int, ast.VarDecl] = field(default_factory=dict)  # stash globals read (in, time difference)

    def touched(self) -> set[int]:
        """id() of the globals the in-kernel handler updates or stashes in."""
        return {id(u.target) for u in self.updates} | self.stashes

    @property
    def stashes(self) -> set[int]:
        return {id(u.target) for u in self.updates if u.stash} | set(self.stash_reads)

    @property
    def in_kernel(self) -> bool:
        return not self.reason

    def summary(self) -> str:
        points = ", ".join(dict.fromkeys(d.point for d in self.probe.derived))
        if self.in_kernel:
            return f"probe {points}: in-kernel aggregation ({'; '.join(u.describe() for u in self.updates)})"
        return f"probe {points}: user-space handler: {self.reason}"


@dataclass
class AggregationPlan:
    decisions: list[Decision] = field(default_factory=list)
    scope: frozenset[int] = frozenset()  # id() of the program's globals

    def decision(self, probe: ast.Probe) -> Decision | None:
        return next((d for d in self.decisions if d.probe is probe), None)

    def aggregated_globals(self) -> set[int]:
        return {id(u.target) for d in self.decisions if d.in_kernel for u in d.updates if not u.stash}

    def report(self) -> list[str]:
        return [d.summary() for d in self.decisions]

    def reads_aggregated(self, body: ast.Node) -> bool:
        """Whether `body` (or a function it calls) mentions a global aggregated in the kernel."""
        used = {id(n.referent) for n in _reachable(body) if isinstance(n, ast.Symbol) and _is_global(n, self.scope)}
        return bool(used & self.aggregated_globals())


def analyse(program: Any, defines: dict[str, str], is_kernel_probe, timing: bool = False) -> AggregationPlan:
    """Decide for every kernel probe of `program` whether it aggregates in the kernel
    (with `timing`, -t, every handler runs in user space, where it is timed)."""
    kernel = [p for p in program.probes if p.derived and any(is_kernel_probe(d) for d in p.derived)]
    plan = AggregationPlan(scope=frozenset(id(g) for g in program.globals))
    for probe in kernel:
        if DISABLE in defines or timing:
            why = f"kernel aggregation disabled (-D{DISABLE})" if DISABLE in defines else "-t times every handler"
            plan.decisions.append(Decision(probe, [], why))
            continue
        try:
            if not all(is_kernel_probe(d) for d in probe.derived):
                raise NotEligible("not every probe point is a kernel probe")
            if any(d.condition is not None for d in probe.derived):
                raise NotEligible("its probe point condition is evaluated in user space")
            if any("process_lifecycle" in d.data for d in probe.derived):
                raise NotEligible("process.begin/.end events are matched to processes in user space")
            handler = _Handler(probe, plan.scope)
            updates = handler.updates()
            plan.decisions.append(Decision(probe, updates, "", handler.stash_symbols, handler.stash_reads))
        except NotEligible as why:
            plan.decisions.append(Decision(probe, [], str(why)))
    _check_globals(plan, program, kernel)
    return plan


# ---------------------------------------------------------------------------
# One handler


class _Handler:
    """Walks a handler's statements in order, with the locals they set."""

    def __init__(self, probe: ast.Probe, scope: frozenset[int]):
        self.probe = probe
        self.scope = scope
        self.env: dict[int, Value | None] = {}
        self.found: list[Update] = []
        self.stash_symbols: set[int] = set()
        self.stash_reads: dict[int, ast.VarDecl] = {}
        self.deleted: set[int] = set()  # stash globals deleted from: read no more after

    def updates(self) -> list[Update]:
        self.statement(self.probe.body, [])
        if not self.found:
            raise NotEligible("no aggregation statement")
        if len(self.found) > MAX_UPDATES:
            raise NotEligible(f"more than {MAX_UPDATES} aggregation statements")
        return self.found

    def statement(self, stmt: ast.Stmt, guards: list[tuple[Value, bool]]) -> None:
        if isinstance(stmt, ast.Block):
            for inner in stmt.statements:
                self.statement(inner, guards)
        elif isinstance(stmt, ast.NullStatement):
            return
        elif isinstance(stmt, ast.IfStatement):
            cond = self.value(stmt.cond)
            self.statement(stmt.then, guards + [(cond, True)])
            if stmt.else_ is not None:
                self.statement(stmt.else_, guards + [(cond, False)])
        elif isinstance(stmt, ast.ExprStatement):
            self.expression_statement(stmt, guards)
        elif isinstance(stmt, ast.DeleteStatement) and isinstance(stmt.target, ast.ArrayIndex):
            decl, keys = self.stash_slot(stmt.target)
            self.deleted.add(id(decl))
            self.found.append(Update(stmt, decl, False, keys, Value(stmt.target, {}), guards=list(guards), stash="delete"))
        else:
            raise NotEligible(f"has {_describe_statement(stmt)}")

    def stash_slot(self, target: ast.ArrayIndex) -> tuple[ast.VarDecl, list[Key]]:
        """The stash global and integer keys of `stash[keys]`."""
        decl, indexes, symbol = _global_target(target, self.scope)
        if decl is None or decl.type is not ast.Type.LONG or not indexes:
            raise NotEligible(f"uses {_text(target.base)}[...], not a stash of times")
        if id(decl) in self.deleted:
            raise NotEligible(f"uses {decl.name} after deleting from it")
        keys = [self.key(index) for index in indexes]
        if any(k.comm or isinstance(k.constant, str) for k in keys):
            raise NotEligible(f"indexes the stash {decl.name} with a string")
        self.stash_symbols.add(id(symbol))
        return decl, keys

    def expression_statement(self, stmt: ast.ExprStatement, guards: list[tuple[Value, bool]]) -> None:
        expr = stmt.expr
        if isinstance(expr, ast.AssignmentExpr) and isinstance(expr.target, ast.Symbol) and _is_local(expr.target, self.scope):
            if expr.op != "=":
                raise NotEligible(f"updates local {expr.target.name} with {expr.op}")
            value: Value | None = Value(expr.value, dict(self.env))
            if not isinstance(expr.value, ast.StringLiteral) and not _is_execname(expr.value):  # usable as keys
                try:
                    self.check(value)
                except NotEligible:
                    _check_pure(expr.value, self.scope)
                    value = None  # not computable: an error only if something reads it
            self.env[id(expr.target.referent)] = None if guards else value
            return
        if isinstance(expr, ast.AssignmentExpr) and expr.op == "=" and isinstance(expr.target, ast.ArrayIndex):
            if not (isinstance(expr.value, ast.FunctionCall) and expr.value.name == TIME and not expr.value.args):
                raise NotEligible(_describe_expression(expr))
            decl, keys = self.stash_slot(expr.target)
            self.found.append(Update(stmt, decl, False, keys, Value(expr.value, {}), guards=list(guards), stash="store"))
            return
        update = self.update(stmt, expr)
        update.guards = list(guards)
        self.found.append(update)

    def update(self, stmt: ast.ExprStatement, expr: ast.Expr) -> Update:
        if isinstance(expr, ast.CrementExpr):
            target, stat = expr.operand, False
            value = Value(ast.NumberLiteral(1, "1", type=ast.Type.LONG), {})
            negate = expr.op == "--"
        elif isinstance(expr, ast.AssignmentExpr) and expr.op in ("+=", "-=", "<<<"):
            target, stat, negate = expr.target, expr.op == "<<<", expr.op == "-="
            value = self.value(expr.value)
        else:
            raise NotEligible(_describe_expression(expr))
        decl, indexes, _ = _global_target(target, self.scope)
        if decl is None:
            raise NotEligible(_describe_expression(expr))
        if decl.type is not (ast.Type.STATS if stat else ast.Type.LONG):
            raise NotEligible(f"updates {decl.name}, a {decl.type.name.lower()} global, with {expr.op if hasattr(expr, 'op') else ''}")
        keys = [self.key(index) for index in indexes]
        if sum(16 if k.comm else 8 for k in keys if k.constant is None) > MAX_KEY_BYTES:
            raise NotEligible(f"indexes {decl.name} with more than {MAX_KEY_BYTES} bytes")
        return Update(stmt, decl, stat, keys, value, negate)

    def key(self, index: ast.Expr | None) -> Key:
        if index is None:
            raise NotEligible("indexes an array with *")
        index = self.resolve_local(index)
        if isinstance(index, ast.NumberLiteral):
            return Key(constant=index.value)
        if isinstance(index, ast.StringLiteral):
            return Key(constant=decode(index.value).decode("utf-8", "replace"))
        if _is_execname(index):
            return Key(Value(index, dict(self.env)), comm=True)
        return Key(self.value(index))

    def resolve_local(self, expr: ast.Expr) -> ast.Expr:
        """A local set from a literal or execname() reads as what it was set from."""
        if isinstance(expr, ast.Symbol) and _is_local(expr, self.scope):
            known = self.env.get(id(expr.referent))
            if known is not None and isinstance(known.expr, (ast.NumberLiteral, ast.StringLiteral, ast.FunctionCall)):
                if not isinstance(known.expr, ast.FunctionCall) or _is_execname(known.expr):
                    return known.expr
        return expr

    def value(self, expr: ast.Expr) -> Value:
        """`expr` as computed at probe time (raises NotEligible when it cannot be)."""
        value = Value(expr, dict(self.env))
        self.check(value)
        return value

    def check(self, value: Value, depth: int = 0) -> None:
        """Raise NotEligible unless `value` is an integer the capture program can compute
        (tests, as in conditions, are 0 or 1)."""
        if isinstance(value.expr, ast.ArrayIn) and value.expr.operand is not None:
            self.stash_read(value.expr.operand, value.env)
        elif isinstance(value.expr, ast.BinaryExpr) and _is_time_difference(value.expr):
            self.stash_read(value.expr.right, value.env)
        else:
            _check_value(self, value, depth)

    def stash_read(self, target: ast.ArrayIndex, env: dict[int, "Value | None"]) -> None:
        saved, self.env = self.env, env
        try:
            decl, _ = self.stash_slot(target)
        finally:
            self.env = saved
        self.stash_reads[id(decl)] = decl


def _is_time_difference(expr: ast.BinaryExpr) -> bool:
    """`gettimeofday_ns() - stash[...]`."""
    left, right = expr.left, expr.right
    return (expr.op == "-" and isinstance(left, ast.FunctionCall) and left.name == TIME and not left.args
            and isinstance(right, ast.ArrayIndex))


def _check_value(handler: "_Handler", value: Value, depth: int) -> None:
    """_Handler.check for everything but the stash forms."""
    probe, scope = handler.probe, handler.scope
    expr, env = value.expr, value.env
    if depth > INLINE_DEPTH:
        raise NotEligible("calls functions nested too deeply")
    if isinstance(expr, ast.NumberLiteral):
        return
    if isinstance(expr, ast.Symbol):
        if not _is_local(expr, scope):
            raise NotEligible(f"reads global {expr.name}")
        known = env.get(id(expr.referent))
        if known is None:
            raise NotEligible(f"reads local {expr.name}, which is not set from values known at probe time")
        handler.check(known, depth + 1)
        return
    if isinstance(expr, ast.TargetSymbol) or isinstance(expr, ast.EntryOp):
        for derived in probe.derived:
            target_read(derived, expr)
        return
    if isinstance(expr, ast.FunctionCall):
        if expr.name in CONTEXT_FUNCTIONS and not expr.args:
            return
        inline = inline_call(value)
        if inline is None:
            raise NotEligible(f"calls {expr.name}")
        handler.check(inline, depth + 1)
        return
    if isinstance(expr, ast.UnaryExpr) and expr.op in ("-", "~", "+", "!"):
        handler.check(Value(expr.operand, env), depth)
        return
    if isinstance(expr, ast.BinaryExpr) and expr.op in ARITHMETIC:
        if expr.op in ("<<", ">>") and not (isinstance(expr.right, ast.NumberLiteral) and 0 <= expr.right.value < 64):
            raise NotEligible(f"shifts by {_text(expr.right)}, not a constant below 64")
        handler.check(Value(expr.left, env), depth)
        handler.check(Value(expr.right, env), depth)
        return
    if isinstance(expr, ast.LogicalExpr):
        handler.check(Value(expr.left, env), depth)
        handler.check(Value(expr.right, env), depth)
        return
    if isinstance(expr, ast.ComparisonExpr):
        if string_comparison(expr) is not None:
            return
        if expr.left.type is ast.Type.STRING or expr.right.type is ast.Type.STRING:
            raise NotEligible("compares strings other than execname() with a literal")
        handler.check(Value(expr.left, env), depth)
        handler.check(Value(expr.right, env), depth)
        return
    raise NotEligible(_describe_expression(expr))


def string_comparison(expr: ast.ComparisonExpr) -> str | None:
    """The literal of `execname() == "text"` (either order, == or !=), else None."""
    if expr.op not in ("==", "!="):
        return None
    for this, other in ((expr.left, expr.right), (expr.right, expr.left)):
        if _is_execname(this) and isinstance(other, ast.StringLiteral):
            return decode(other.value).decode("utf-8", "replace")
    return None


def inline_call(value: Value) -> Value | None:
    """A call of a script function whose body is `return expr`: expr with the arguments."""
    call = value.expr
    function = call.referent
    if function is None or not isinstance(function.body, ast.Block) or len(function.params) != len(call.args):
        return None
    statements = _flatten(function.body)
    if len(statements) != 1 or not isinstance(statements[0], ast.ReturnStatement) or statements[0].value is None:
        return None
    if any(local not in function.params for local in function.locals):
        return None
    env = {id(param): Value(arg, value.env) for param, arg in zip(function.params, call.args)}
    return Value(statements[0].value, env)


def target_read(derived: Any, expr: ast.Expr) -> Any:
    """How `derived`'s capture program reads the integer target `expr`: a plan.Capture
    (tracepoint field) or a DWARF Capture recipe (uprobe, raw tracepoint)."""
    if isinstance(expr, ast.EntryOp):
        raise NotEligible("uses @entry values")
    if is_user_probe(derived):
        for node, resolved in zip(user_reads(derived), user_values(derived)):
            if node is expr:
                capture = resolved.capture
                if type(capture).__name__ != "Capture":
                    raise NotEligible(f"reads {_text(expr)}, which is not an integer")
                if capture.at_entry:
                    raise NotEligible(f"reads {_text(expr)} at the function's entry")
                if capture.load_base and derived.is_return:
                    raise NotEligible(f"reads {_text(expr)} relative to the load address in a return probe")
                return capture
    else:
        for value in derived.targets:
            if value.expr is expr:
                read = value.capture
                if read.form != P.LONG_READ or read.captures[0].kind != P.INT:
                    raise NotEligible(f"reads {_text(expr)}, which is not an integer")
                return read.captures[0]
    raise NotEligible(f"reads {_text(expr)}, not resolved for {derived.point}")


# ---------------------------------------------------------------------------
# Globals


def _check_globals(plan: AggregationPlan, program: Any, kernel: list[ast.Probe]) -> None:
    """Send back to user space, one at a time, every handler touching a global the merge
    cannot keep exact (a handler sent back can make a stash global unusable for others)."""
    while True:
        problems = _global_problems(program, kernel, plan)
        for decision in plan.decisions:
            problem = next((problems[g] for g in decision.touched() if g in problems), None) if decision.in_kernel else None
            if problem:
                decision.reason, decision.updates = problem, []
                decision.stash_symbols, decision.stash_reads = set(), {}
                break
        else:
            return


def _global_problems(program: Any, kernel: list[ast.Probe], plan: AggregationPlan) -> dict[int, str]:
    problems: dict[int, str] = {}
    scope = plan.scope
    additive = {id(_global_target(_target_of(u.stmt), scope)[2])
                for d in plan.decisions for u in _all_updates(d, scope) if not u.stash}
    stash_symbols = {s for d in plan.decisions if d.in_kernel for s in d.stash_symbols}
    stashes = {g for d in plan.decisions if d.in_kernel for g in d.stashes}
    deleted: set[int] = set()
    stat_reads: dict[int, set[str]] = {}
    for probe in program.probes:
        is_kernel = probe in kernel
        where = probe.derived[0].point if probe.derived else "a probe"
        conditions = [d.condition for d in probe.derived if d.condition is not None]
        for node in [n for root in [probe.body, *conditions] for n in _reachable(root)]:
            if isinstance(node, ast.DeleteStatement):
                decl = _global_target(node.target, scope)[0]
                if decl is not None:
                    deleted.add(id(decl))
            elif isinstance(node, ast.StatOp) or isinstance(node, ast.HistOp):
                decl = _global_target(node.operand, scope)[0]
                if decl is not None:
                    stat_reads.setdefault(id(decl), set()).add(getattr(node, "op", "hist"))
            elif isinstance(node, ast.ForeachLoop) and node.sort_aggregate:
                decl = _global_target(node.base, scope)[0]
                if decl is not None:
                    stat_reads.setdefault(id(decl), set()).add(node.sort_aggregate)
            elif not isinstance(node, ast.Symbol) or not _is_global(node, scope) or id(node) in stash_symbols:
                continue
            elif id(node.referent) in stashes:
                problems.setdefault(id(node.referent), f"global {node.name} is also used by the handler of {where} "
                                    "as more than a stash of times")
            elif is_kernel and id(node) not in additive:
                problems.setdefault(id(node.referent), f"global {node.name} is also read by the handler of "
                                    f"{where}, which runs after its event")
    for decl in program.globals:
        if decl.wrap:
            problems.setdefault(id(decl), f"global {decl.name}% wraps around in insertion order")
        reads = stat_reads.get(id(decl), set())
        if "variance" in reads:
            problems.setdefault(id(decl), f"@variance({decl.name}) depends on the order values arrive in")
        if id(decl) in deleted and reads & {"min", "max"}:
            problems.setdefault(id(decl), f"@min/@max of {decl.name} cannot be merged across its deletes")
    return problems


def _all_updates(decision: Decision, scope: frozenset[int]) -> list[Update]:
    """The additive statements of every kernel handler, in the kernel or not."""
    if decision.updates:
        return decision.updates
    found = []
    for node in ast.walk(decision.probe.body):
        if isinstance(node, ast.ExprStatement):
            expr = node.expr
            if isinstance(expr, ast.CrementExpr) or (isinstance(expr, ast.AssignmentExpr) and expr.op in ("+=", "-=", "<<<")):
                target = _global_target(_target_of(node), scope)[0]
                if target is not None:
                    found.append(Update(node, target, False, [], Value(expr, {})))
    return found


def _reachable(body: ast.Node) -> list[ast.Node]:
    """Every node of `body` and of the script functions it calls, transitively."""
    nodes, pending, seen = [], [body], set()
    while pending:
        for node in ast.walk(pending.pop()):
            nodes.append(node)
            if isinstance(node, ast.FunctionCall) and node.referent is not None and id(node.referent) not in seen:
                seen.add(id(node.referent))
                if isinstance(node.referent.body, ast.Block):
                    pending.append(node.referent.body)
    return nodes


# ---------------------------------------------------------------------------
# Small helpers


def _target_of(stmt: ast.ExprStatement) -> ast.Expr:
    expr = stmt.expr
    return expr.operand if isinstance(expr, ast.CrementExpr) else expr.target


def _global_target(target: ast.Expr, scope: frozenset[int]) -> tuple[ast.VarDecl | None, list, ast.Node | None]:
    """(global, indexes, the Symbol naming it) of `g` or `g[...]`; (None, [], None) otherwise."""
    if isinstance(target, ast.ArrayIndex) and isinstance(target.base, ast.Symbol) and _is_global(target.base, scope):
        return target.base.referent, list(target.indexes), target.base
    if isinstance(target, ast.Symbol) and _is_global(target, scope):
        return target.referent, [], target
    return None, [], None


def _is_global(symbol: ast.Symbol, scope: frozenset[int]) -> bool:
    """`scope` holds id() of the program's globals (pass 2's program.globals)."""
    return symbol.referent is not None and id(symbol.referent) in scope


def _is_local(symbol: ast.Symbol, scope: frozenset[int]) -> bool:
    return symbol.referent is not None and not _is_global(symbol, scope)


def _is_execname(expr: ast.Expr) -> bool:
    return isinstance(expr, ast.FunctionCall) and expr.name == STRING_CONTEXT and not expr.args


def _is_one(expr: ast.Expr) -> bool:
    return isinstance(expr, ast.NumberLiteral) and expr.value == 1


def _flatten(block: ast.Block) -> list[ast.Stmt]:
    out = []
    for stmt in block.statements:
        out += _flatten(stmt) if isinstance(stmt, ast.Block) else [] if isinstance(stmt, ast.NullStatement) else [stmt]
    return out


def _check_pure(expr: ast.Expr, scope: frozenset[int]) -> None:
    """An unused local may be set from anything without side effects, as stap elides it:
    literals, target values, locals, and calls of /* pure */ embedded-C functions or of
    functions that just return an expression."""
    for node in ast.walk(expr):
        if isinstance(node, (ast.AssignmentExpr, ast.CrementExpr, ast.PrintFormat, ast.EmbeddedExpr)):
            raise NotEligible(_describe_expression(node))
        if isinstance(node, ast.FunctionCall) and node.name not in CONTEXT_FUNCTIONS | {STRING_CONTEXT}:
            body = node.referent.body if node.referent is not None else None
            pure = isinstance(body, ast.EmbeddedCode) and "/* pure */" in body.code
            if not pure and inline_call(Value(node, {})) is None:
                raise NotEligible(f"calls {node.name}")
        if isinstance(node, ast.Symbol) and _is_global(node, scope):
            raise NotEligible(f"reads global {node.name}")


def _describe_key(key: Key) -> str:
    if key.constant is not None:
        return f'"{key.constant}"' if isinstance(key.constant, str) else str(key.constant)
    return _text(key.value.expr)


def _text(expr: ast.Expr) -> str:
    if isinstance(expr, ast.FunctionCall):
        return f"{expr.name}()"
    if isinstance(expr, (ast.Symbol, ast.TargetSymbol)):
        return expr.name
    if isinstance(expr, ast.NumberLiteral):
        return str(expr.value)
    return "an expression"


def _describe_statement(stmt: ast.Stmt) -> str:
    names = {
        ast.ForLoop: "a loop", ast.ForeachLoop: "a foreach loop", ast.DeleteStatement: "a delete",
        ast.ReturnStatement: "a return", ast.NextStatement: "next", ast.BreakStatement: "break",
        ast.ContinueStatement: "continue", ast.TryBlock: "a try block", ast.EmbeddedCode: "embedded C",
    }
    return names.get(type(stmt), type(stmt).__name__)


def _describe_expression(expr: ast.Expr) -> str:
    if isinstance(expr, ast.PrintFormat):
        return f"calls {expr.name}"
    if isinstance(expr, ast.FunctionCall):
        return f"calls {expr.name}"
    if isinstance(expr, ast.AssignmentExpr):
        target = expr.target.base if isinstance(expr.target, ast.ArrayIndex) else expr.target
        return f"assigns {_text(target)} with {expr.op}"
    if isinstance(expr, ast.CrementExpr):
        return f"uses {expr.op} on {_text(expr.operand)}"
    if isinstance(expr, (ast.BinaryExpr, ast.ComparisonExpr, ast.LogicalExpr)):
        return f"uses operator {expr.op} there"
    if isinstance(expr, ast.StringLiteral) or expr.type is ast.Type.STRING:
        return "uses a string value"
    return f"uses {type(expr).__name__}"
