"""The SystemTap abstract syntax tree, as plain data.

One dataclass per node kind, children listed as fields, no behaviour beyond `children()`.
The parser builds these; the -p1/-p2 printers, the elaborator and the C emitter are
separate visitors (see `Visitor`). Node kinds follow stap's staptree.h families so that
printing and elaboration can mirror stap exactly.

Fields marked "elaboration" are None/UNKNOWN after pass 1 and are filled in by pass 2;
later passes read them and never re-derive them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import Enum
from functools import lru_cache
from typing import Any, Iterator

from engine.diagnostics import Span


class Type(Enum):
    """stap's value types (exp_type): pe_unknown, pe_long, pe_string, pe_stats."""

    UNKNOWN = "unknown"
    LONG = "long"
    STRING = "string"
    STATS = "stats"


@dataclass(eq=False)
class Node:
    span: Span | None = field(default=None, kw_only=True, repr=False, compare=False)

    def children(self) -> Iterator["Node"]:
        """Yield direct child nodes, in source order."""
        for name in child_fields(type(self)):
            value = getattr(self, name)
            if isinstance(value, Node):
                yield value
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, Node):
                        yield item


# Fields that hold cross-references filled by elaboration, never owned children.
_NOT_CHILDREN = frozenset({"span", "referent", "derived", "locals", "alias_chain"})


@lru_cache(maxsize=None)
def child_fields(cls: type) -> tuple[str, ...]:
    """Names of the fields of `cls` that may hold child nodes (or lists of them).

    Computed once per class: `dataclasses.fields()` on every visit dominated pass 2 for
    alias-heavy scripts (hundreds of derived handlers).
    """
    return tuple(f.name for f in fields(cls) if f.name not in _NOT_CHILDREN)


# ---------------------------------------------------------------------------
# Expressions


@dataclass(eq=False)
class Expr(Node):
    type: Type = field(default=Type.UNKNOWN, kw_only=True, compare=False)  # elaboration


@dataclass(eq=False)
class NumberLiteral(Expr):
    value: int
    text: str = ""  # the source spelling (e.g. "0x10"), for printers


@dataclass(eq=False)
class StringLiteral(Expr):
    value: str  # the raw text between the quotes, escapes not yet interpreted


@dataclass(eq=False)
class Symbol(Expr):
    """A plain identifier: variable, array base, foreach key, catch variable."""

    name: str
    referent: "VarDecl | None" = field(default=None, kw_only=True, compare=False)  # elaboration


@dataclass(eq=False)
class TargetComponent(Node):
    """One step after a target value: `->name` / `.name` (MEMBER) or `[index]` (INDEX)."""

    kind: str  # "member" or "index"
    name: str = ""  # member name
    index: Expr | None = None  # index expression (literal or expression)


@dataclass(eq=False)
class TargetSymbol(Expr):
    """`$var`, `$var->a[3]`, `$var$`, `$var$$`, `&$var`, `$$vars`, `$$parms`, `$$locals`, `$$return`.

    `name` includes the sigil(s) as written: "$var", "$$parms".
    `pretty` is "", "$" or "$$" for the pretty-print suffixes.
    """

    name: str
    components: list[TargetComponent] = field(default_factory=list)
    pretty: str = ""
    addressof: bool = False


@dataclass(eq=False)
class CastOp(Expr):
    """`@cast(expr, "type" [, "module"])->a->b`."""

    operand: Expr
    type_name: str
    module: str | None = None
    components: list[TargetComponent] = field(default_factory=list)
    pretty: str = ""
    addressof: bool = False


@dataclass(eq=False)
class AtVarOp(Expr):
    """`@var("name@cu" [, "module"])->a`."""

    target_name: str
    cu_name: str | None = None
    module: str | None = None
    components: list[TargetComponent] = field(default_factory=list)
    pretty: str = ""
    addressof: bool = False


@dataclass(eq=False)
class AutocastOp(Expr):
    """`expr->member...` on a value that is not a target variable (typed by pass 2)."""

    operand: Expr
    components: list[TargetComponent] = field(default_factory=list)
    pretty: str = ""
    addressof: bool = False


@dataclass(eq=False)
class DefinedOp(Expr):
    """`@defined(expr)`."""

    operand: Expr


@dataclass(eq=False)
class ProbewriteOp(Expr):
    """`@probewrite(var)`."""

    operand: Expr


@dataclass(eq=False)
class EntryOp(Expr):
    """`@entry(expr)` in return probes."""

    operand: Expr


@dataclass(eq=False)
class PerfOp(Expr):
    """`@perf("name")`."""

    operand: StringLiteral


@dataclass(eq=False)
class ConstOp(Expr):
    """`@const("NAME")` (guru mode): a C constant."""

    operand: StringLiteral


@dataclass(eq=False)
class RegisterOp(Expr):
    """`@kregister(N)` / `@uregister(N)` where the stap version has them."""

    user: bool
    operand: Expr


@dataclass(eq=False)
class EmbeddedExpr(Expr):
    """`%{ code %}` used as an expression (guru mode or tapsets)."""

    code: str


@dataclass(eq=False)
class UnaryExpr(Expr):
    op: str  # "-", "+", "!", "~"
    operand: Expr


@dataclass(eq=False)
class CrementExpr(Expr):
    """`++x`, `x--` ... (stap's pre_crement / post_crement)."""

    op: str  # "++" or "--"
    operand: Expr
    prefix: bool


@dataclass(eq=False)
class BinaryExpr(Expr):
    """Arithmetic and bitwise: + - * / % << >> >>> & | ^."""

    op: str
    left: Expr
    right: Expr


@dataclass(eq=False)
class ComparisonExpr(Expr):
    op: str  # < <= > >= == !=
    left: Expr
    right: Expr


@dataclass(eq=False)
class LogicalExpr(Expr):
    op: str  # "&&" or "||"
    left: Expr
    right: Expr


@dataclass(eq=False)
class ConcatExpr(Expr):
    """String concatenation `a . b`."""

    left: Expr
    right: Expr


@dataclass(eq=False)
class RegexExpr(Expr):
    """`s =~ "re"` / `s !~ "re"`; the right side must be a string literal."""

    op: str
    left: Expr
    pattern: StringLiteral


@dataclass(eq=False)
class TernaryExpr(Expr):
    cond: Expr
    true_value: Expr
    false_value: Expr


@dataclass(eq=False)
class AssignmentExpr(Expr):
    """`=`, the compound forms (`+=` ... `.=`) and `<<<` (stats aggregation)."""

    op: str
    target: Expr  # Symbol, ArrayIndex, or a target expression (guru writes)
    value: Expr


@dataclass(eq=False)
class HistOp(Expr):
    """`@hist_linear(v, start, stop, interval)` / `@hist_log(v)`."""

    kind: str  # "linear" or "log"
    operand: Expr
    params: list[NumberLiteral] = field(default_factory=list)


@dataclass(eq=False)
class ArrayIndex(Expr):
    """`a[i, j]`; `base` is a Symbol or a HistOp (indexing a histogram bucket).

    An index of None stands for `*` (wildcard, in `delete` and `in`).
    """

    base: Expr
    indexes: list[Expr | None]


@dataclass(eq=False)
class ArrayIn(Expr):
    """`[i, j] in a` / `i in a`."""

    operand: ArrayIndex


@dataclass(eq=False)
class StatOp(Expr):
    """`@count(x)`, `@sum`, `@min`, `@max`, `@avg`, `@variance(x [, bit_shift])`."""

    op: str  # "count", "sum", "min", "max", "avg", "variance"
    operand: Expr
    params: list[NumberLiteral] = field(default_factory=list)


@dataclass(eq=False)
class FunctionCall(Expr):
    name: str
    args: list[Expr] = field(default_factory=list)
    referent: "FunctionDecl | None" = field(default=None, kw_only=True, compare=False)  # elaboration


@dataclass(eq=False)
class PrintFormat(Expr):
    """The print family: print println printd printdln printf sprint sprintln sprintd
    sprintdln sprintf. For printf/sprintf `format` is the format literal; for printd* it
    is the delimiter; a histogram print (`print(@hist_log(x))`) sets `hist`.
    """

    name: str
    format: StringLiteral | None = None
    args: list[Expr] = field(default_factory=list)
    hist: HistOp | None = None


# ---------------------------------------------------------------------------
# Statements


@dataclass(eq=False)
class Stmt(Node):
    pass


@dataclass(eq=False)
class Block(Stmt):
    statements: list[Stmt] = field(default_factory=list)


@dataclass(eq=False)
class TryBlock(Stmt):
    body: Block
    catch_var: Symbol | None
    handler: Block


@dataclass(eq=False)
class EmbeddedCode(Stmt):
    """`%{ ... %}` as a statement, function body or top-level embed."""

    code: str


@dataclass(eq=False)
class NullStatement(Stmt):
    pass


@dataclass(eq=False)
class ExprStatement(Stmt):
    expr: Expr


@dataclass(eq=False)
class IfStatement(Stmt):
    cond: Expr
    then: Stmt
    else_: Stmt | None = None


@dataclass(eq=False)
class ForLoop(Stmt):
    """`for (init; cond; incr)`; `while (cond)` is a ForLoop with no init or incr."""

    init: Stmt | None
    cond: Expr
    incr: Stmt | None
    body: Stmt
    is_while: bool = False


@dataclass(eq=False)
class ForeachLoop(Stmt):
    """`foreach ([a, b-] in arr[slice] limit n)` and `foreach (v = [a, b] in arr+)`.

    `sort_column` is 0 for the value, 1..N for a key, None for no sort;
    `sort_direction` is +1, -1 or 0. `array_slice` holds the `arr[i, *]` indexes.
    """

    indexes: list[Symbol]
    base: Expr  # Symbol or HistOp
    body: Stmt
    value: Symbol | None = None
    array_slice: list[Expr | None] | None = None
    sort_column: int | None = None
    sort_direction: int = 0
    limit: Expr | None = None
    sort_aggregate: str | None = None  # `foreach (k in stats @sum-)`: the statistic sorted on


@dataclass(eq=False)
class ReturnStatement(Stmt):
    value: Expr | None = None


@dataclass(eq=False)
class DeleteStatement(Stmt):
    target: Expr  # Symbol or ArrayIndex


@dataclass(eq=False)
class NextStatement(Stmt):
    pass


@dataclass(eq=False)
class BreakStatement(Stmt):
    pass


@dataclass(eq=False)
class ContinueStatement(Stmt):
    pass


# ---------------------------------------------------------------------------
# Declarations and probes


@dataclass(eq=False)
class VarDecl(Node):
    """A global, local, function parameter or foreach/catch variable.

    For globals: `init` (literal), `maxsize` (`global a[100]`), `wrap` (`global a%`),
    `arity` (number of indexes, 0 for scalars; None until known).
    """

    name: str
    init: Expr | None = None
    maxsize: int | None = None
    wrap: bool = False
    private: bool = False
    declared_type: Type = Type.UNKNOWN  # from `name:long` annotations
    # elaboration
    type: Type = field(default=Type.UNKNOWN, kw_only=True, compare=False)
    index_types: list[Type] = field(default_factory=list, kw_only=True, compare=False)
    arity: int | None = field(default=None, kw_only=True, compare=False)


@dataclass(eq=False)
class ProbePointComponent(Node):
    """One dotted part of a probe point: `kernel`, `function("sys_*")`, `ms(100)`, `*`."""

    functor: str
    arg: Expr | None = None  # NumberLiteral or StringLiteral


@dataclass(eq=False)
class ProbePoint(Node):
    components: list[ProbePointComponent]
    optional: bool = False  # `?`
    sufficient: bool = False  # `!`
    condition: Expr | None = None  # `if (cond)`


@dataclass(eq=False)
class Probe(Node):
    points: list[ProbePoint]
    body: Block
    privileged: bool = False
    # elaboration: local variables, resolved probes (provider-specific), alias chain
    locals: list[VarDecl] = field(default_factory=list, kw_only=True, compare=False)
    derived: list[Any] = field(default_factory=list, kw_only=True, compare=False)
    alias_chain: list[Any] = field(default_factory=list, kw_only=True, compare=False)


@dataclass(eq=False)
class ProbeAlias(Node):
    """`probe a.b = target.points { prologue }` or `probe a.b += target { epilogue }`."""

    alias_points: list[ProbePoint]
    points: list[ProbePoint]
    body: Block
    epilogue: bool = False
    privileged: bool = False
    epilogue_body: Block | None = None  # `probe a = b { prologue }, { epilogue }`


@dataclass(eq=False)
class FunctionDecl(Node):
    """`function name:type (p:type, ...) { body }` or with an embedded-C body.

    `pragmas` are the `/* pure */`, `/* unprivileged */` ... markers of embedded bodies.
    """

    name: str
    params: list[VarDecl]
    body: Block | EmbeddedCode
    return_type: Type = Type.UNKNOWN  # declared
    private: bool = False
    pragmas: list[str] = field(default_factory=list)
    # elaboration
    type: Type = field(default=Type.UNKNOWN, kw_only=True, compare=False)
    locals: list[VarDecl] = field(default_factory=list, kw_only=True, compare=False)


@dataclass(eq=False)
class StapFile(Node):
    """One parsed script or tapset file."""

    name: str
    probes: list[Probe] = field(default_factory=list)
    aliases: list[ProbeAlias] = field(default_factory=list)
    functions: list[FunctionDecl] = field(default_factory=list)
    globals: list[VarDecl] = field(default_factory=list)
    embeds: list[EmbeddedCode] = field(default_factory=list)
    is_tapset: bool = False
    privileged: bool = False


# ---------------------------------------------------------------------------
# Visiting


class Visitor:
    """Dispatch on node class name: `visit_BinaryExpr(node)`; falls back to `generic_visit`.

    Visitors that compute values (printers, emitters) define a method per node kind;
    analyses that only care about a few kinds rely on `generic_visit` to walk the rest.
    """

    def visit(self, node: Node) -> Any:
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:
            return self.generic_visit(node)
        return method(node)

    def generic_visit(self, node: Node) -> Any:
        for child in node.children():
            self.visit(child)
        return None


def walk(node: Node) -> Iterator[Node]:
    """Yield `node` and all its descendants, depth first in source order.

    A node's children are listed when the walk resumes after yielding it, so a caller
    may rewrite the fields of a node it has just been given. (Inlined rather than
    built on `children()`: pass 2 walks every handler several times.)
    """
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        kids = []
        for name in child_fields(type(current)):
            value = getattr(current, name)
            if isinstance(value, Node):
                kids.append(value)
            elif isinstance(value, list):
                kids += [item for item in value if isinstance(item, Node)]
        kids.reverse()
        stack += kids