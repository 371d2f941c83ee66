"""Builds AST nodes from the LALR parser's reductions, and nothing else.

The parser (parser.py) calls one method per grammar rule (or alias) as it reduces,
with all the rule's tokens kept, so every node gets the span of its first token. Checks that
need context stap's parser does while parsing (number ranges, `return` outside a
function, embedded code without -g) raise `ParseProblem` with the token to blame.
"""

from __future__ import annotations

import re

from engine.diagnostics import Span
from engine.parse import ast
from engine.parse.lexer import Token, retoken

PRINT_FAMILY = frozenset(
    "print println printd printdln printf sprint sprintln sprintd sprintdln sprintf".split()
)
_PRAGMA_RE = re.compile(r"/\*\s*([A-Za-z][\w-]*)\s*\*/")


class ParseProblem(Exception):
    """A parse error found while building: stap's message and the token it names."""

    def __init__(
        self, message: str, token: Token | None, label: str = "saw", recover: bool = True, at=None, consumed=True
    ):
        super().__init__(message)
        self.consumed = consumed  # with recover=False: parsing resumes after the token, or at it
        self.message = message
        self.token = token
        self.label = label
        self.recover = recover
        self.at = at  # a Span, when no single token is to blame


def span(item) -> Span | None:
    if isinstance(item, Token):
        return Span(item.file, item.line, item.column)
    return item.span


def parse_number(token: Token) -> int:
    """C's strtoull(text, 0) as stap uses it, wrapped to a signed 64-bit value."""
    text = token.value
    try:
        if text[:2] in ("0x", "0X"):
            value = int(text[2:], 16) if text[2:] else None
        elif len(text) > 1 and text[0] == "0":
            value = int(text[1:], 8)
        else:
            value = int(text, 10)
    except ValueError:
        value = None
    if value is None or value >= 1 << 64:
        raise ParseProblem("number invalid or out of range", token)
    return value - (1 << 64) if value >= 1 << 63 else value


def assemble(items: list, name: str, privileged: bool) -> ast.StapFile:
    """The file of the top-level items the parser returned, sorted by kind."""
    stapfile = ast.StapFile(name, privileged=privileged)
    for item in items:
        if isinstance(item, list):
            stapfile.globals.extend(item)
        elif isinstance(item, ast.Probe):
            stapfile.probes.append(item)
        elif isinstance(item, ast.ProbeAlias):
            stapfile.aliases.append(item)
        elif isinstance(item, ast.FunctionDecl):
            stapfile.functions.append(item)
        elif isinstance(item, ast.EmbeddedCode):
            stapfile.embeds.append(item)
    return stapfile


class Builder:
    """One method per rule (or `-> alias`); `c` holds the rule's children, every token included."""

    def __init__(self, context: "ParseContext"):
        self.context = context

    # -- top level ----------------------------------------------------------------

    def start(self, c):
        return c[0] if c else []

    def items(self, c):
        return [c[0]]

    def items_more(self, c):
        c[0].append(c[1])
        return c[0]

    def probe(self, c):
        return ast.Probe(c[1], c[2], span=span(c[0]))

    def alias(self, c):
        name_points = c[1]
        alias = ast.ProbeAlias(name_points, c[3], c[4], epilogue=c[2] == "+=", span=span(c[0]))
        if len(c) > 5:
            alias.epilogue_body = c[6]
        return alias

    def point_list_more(self, c):
        c[0].extend(c[2])
        return c[0]

    def point(self, c):
        """One written point: a ProbePoint per `{a,b}` alternative, sharing the suffix."""
        points, suffix = c[0], c[1:]
        flags = suffix.pop(0) if suffix and isinstance(suffix[0], list) else []  # `?` and `!` tokens
        for point in points:
            for flag in flags:
                point.optional = True
                point.sufficient = point.sufficient or flag == "!"
            if suffix:
                point.condition = suffix[0]
        return points

    def _list(self, c):
        """The first item of a left-recursive list (or none): `list_more` appends the others."""
        return c

    point_flags = global_vars = params = key_vars = index_list = target_components = _list

    def list_more(self, c):
        c[0].append(c[-1])  # after the separator, if any
        return c[0]

    def point_path_more(self, c):
        """All expansions of `a.{b,c}.d`, each a ProbePoint (alternatives may carry flags)."""
        heads, tails = c[0], c[2]
        if len(heads) == 1 and len(tails) == 1:  # `a.b`: the head is this parse's own, extend it
            return [_joined(heads[0], tails[0], heads[0])]
        return [_joined(head, tail, ast.ProbePoint([], span=head.span)) for head in heads for tail in tails]

    def point_elem(self, c):
        """One component, `name` or `name(arg)`: a point of its own until joined by `.`."""
        name = c[0]
        where = Span(name.file, name.line, name.column)
        component = ast.ProbePointComponent(name.value, c[2] if len(c) > 1 else None, span=where)
        return [ast.ProbePoint([component], span=where)]

    def point_alternatives(self, c):
        return c[1]

    def point_condition(self, c):
        return c[2]

    def comp_name_more(self, c):
        """`kernel5x`: pieces of a component name glued together, as stap's lexer reads them."""
        name, piece = c
        if piece.spaced:
            raise ParseProblem("expected one of '. , ( ? ! { = +='", piece)
        return retoken(name, name.type, name.value + piece.value)

    def comp_number(self, c):
        return ast.NumberLiteral(parse_number(c[0]), c[0].value, span=span(c[0]))

    def comp_negative(self, c):
        return ast.NumberLiteral(_negate(parse_number(c[1])), "-" + c[1].value, span=span(c[0]))

    # -- globals -------------------------------------------------------------------

    def global_decl(self, c):
        return c[1]

    def private_decl(self, c):
        item = c[1]  # a FunctionDecl, or a list of VarDecls
        for node in item if isinstance(item, list) else [item]:
            node.private = True
        return item

    def global_var(self, c):
        decl = ast.VarDecl(c[0].value, span=span(c[0]))
        for item in c[1:]:
            if item == "%":
                decl.wrap = True
            elif isinstance(item, int):
                decl.maxsize = item
            else:
                decl.init = item
        return decl

    def wrap(self, c):
        return "%"

    def global_size(self, c):
        return parse_number(c[1])

    def global_init(self, c):
        return c[1]

    def init_literal(self, c):
        return c[0]

    def init_number(self, c):
        return ast.NumberLiteral(parse_number(c[0]), c[0].value, span=span(c[0]))

    def init_negative(self, c):
        return ast.NumberLiteral(_negate(parse_number(c[1])), "-" + c[1].value, span=span(c[0]))

    # -- functions -----------------------------------------------------------------

    def function(self, c):
        name = c[1]
        rest = c[2:]
        return_type = ast.Type.UNKNOWN
        if isinstance(rest[0], ast.Type):
            return_type = rest[0]
            rest = rest[1:]
        params = rest[1] if isinstance(rest[1], list) else []
        body = rest[-1]
        pragmas = _PRAGMA_RE.findall(body.code) if isinstance(body, ast.EmbeddedCode) else []
        return ast.FunctionDecl(name.value, params, body, return_type, pragmas=pragmas, span=span(c[0]))

    def function_body(self, c):
        item = c[0]
        if isinstance(item, Token):
            return ast.EmbeddedCode(item.value, span=span(item))
        return item

    def param(self, c):
        decl = ast.VarDecl(c[0].value, span=span(c[0]))
        if len(c) > 1:
            decl.declared_type = c[1]
        return decl

    def type_annotation(self, c):
        return ast.Type.STRING if c[1] == "string" else ast.Type.LONG

    def top_embedded(self, c):
        return ast.EmbeddedCode(c[0].value, span=span(c[0]))

    # -- statements ------------------------------------------------------------------

    def block(self, c):
        return ast.Block(c[1], span=span(c[0]))

    def empty_block(self, c):
        return ast.Block([], span=span(c[0]))

    skipped_body = empty_block  # an outline's stand-in (outline.py): the file is parsed in full before use

    def statements(self, c):
        return [c[0]]

    def statements_more(self, c):
        c[0].append(c[1])
        return c[0]

    def null_stmt(self, c):
        return ast.NullStatement(span=span(c[0]))

    def expr_stmt(self, c):
        return ast.ExprStatement(c[0], span=c[0].span)

    def return_stmt(self, c):
        self.context.check_function(c[0])
        value = c[1] if len(c) > 1 and not isinstance(c[1], Token) else None
        return ast.ReturnStatement(value, span=span(c[0]))

    def delete_stmt(self, c):
        return ast.DeleteStatement(c[1], span=span(c[0]))

    def next_stmt(self, c):
        self.context.check_probe(c[0])
        return ast.NextStatement(span=span(c[0]))

    def break_stmt(self, c):
        return ast.BreakStatement(span=span(c[0]))

    def continue_stmt(self, c):
        return ast.ContinueStatement(span=span(c[0]))

    def try_stmt(self, c):
        catch_var = c[3] if len(c) == 5 else None
        return ast.TryBlock(c[1], catch_var, c[-1], span=span(c[0]))

    def catch_var(self, c):
        return ast.Symbol(c[1].value, span=span(c[1]))

    def if_stmt(self, c):
        else_ = c[6] if len(c) > 5 else None
        return ast.IfStatement(c[2], c[4], else_, span=span(c[0]))

    def while_stmt(self, c):
        return ast.ForLoop(None, c[2], None, c[4], is_while=True, span=span(c[0]))

    def for_stmt(self, c):
        init, cond, incr = c[2], c[4], c[6]
        init = ast.ExprStatement(init, span=init.span) if init is not None else None
        incr = ast.ExprStatement(incr, span=incr.span) if incr is not None else None
        if cond is None:
            cond = ast.NumberLiteral(1, "1", span=span(c[3]))
        return ast.ForLoop(init, cond, incr, c[8], span=span(c[0]))

    def for_init(self, c):
        return c[0] if c else None

    for_cond = for_init
    for_incr = for_init

    def foreach_stmt(self, c):
        value, keys, value_key_sort = c[2]
        base, array_slice = c[4]
        loop = ast.ForeachLoop([k for k, _ in keys], base, c[-1], value=value, array_slice=array_slice, span=span(c[0]))
        value_sort = None
        for item in c[5:-2]:
            if isinstance(item, tuple) and item[0] == "sort":
                value_sort = item[1]
            elif not isinstance(item, Token):
                loop.limit = item
        sorts = [(i + 1, d) for i, (_, d) in enumerate(keys) if d]
        if value_sort is None and value_key_sort is not None:
            value_sort = value_key_sort
        if value_sort is not None:
            loop.sort_column, loop.sort_direction = 0, value_sort[0]
            loop.sort_aggregate = value_sort[1]
        elif sorts:
            loop.sort_column, loop.sort_direction = sorts[0]
        return loop

    def foreach_vars(self, c):
        return None, c[0], None

    def foreach_value_keys(self, c):
        value = ast.Symbol(c[0].value, span=span(c[0]))
        sort = (c[1], None) if isinstance(c[1], int) else None
        return value, c[-1], sort

    def foreach_keys(self, c):
        return c if len(c) == 1 else c[1]  # `k` or `[k1, k2]`

    def key_var(self, c):
        return ast.Symbol(c[0].value, span=span(c[0])), (c[1] if len(c) > 1 else 0)

    def sort_sign(self, c):
        return 1 if c[0] == "+" else -1

    def foreach_array(self, c):
        item = c[0]
        if isinstance(item, Token):
            return ast.Symbol(item.value, span=span(item)), None
        return item, None

    def foreach_slice(self, c):
        return ast.Symbol(c[0].value, span=span(c[0])), c[2]

    def foreach_value_sort(self, c):
        aggregate = c[0].value[1:] if len(c) > 1 else None
        return ("sort", (c[-1], aggregate))

    def foreach_limit(self, c):
        return c[1]

    # -- expressions -------------------------------------------------------------------

    def assign(self, c):
        return ast.AssignmentExpr(c[1], c[0], c[2], span=c[0].span)

    def assign_op(self, c):
        return c[0].value

    def ternary_expr(self, c):
        return ast.TernaryExpr(c[0], c[2], c[4], span=c[0].span)

    def logical_or_expr(self, c):
        return ast.LogicalExpr("||", c[0], c[2], span=c[0].span)

    def logical_and_expr(self, c):
        return ast.LogicalExpr("&&", c[0], c[2], span=c[0].span)

    def bit_or_expr(self, c):
        return ast.BinaryExpr("|", c[0], c[2], span=c[0].span)

    def bit_xor_expr(self, c):
        return ast.BinaryExpr("^", c[0], c[2], span=c[0].span)

    def bit_and_expr(self, c):
        return ast.BinaryExpr("&", c[0], c[2], span=c[0].span)

    def in_single(self, c):
        index = ast.ArrayIndex(c[2], [c[0]], span=c[0].span)
        return ast.ArrayIn(index, span=c[0].span)

    def in_multi(self, c):
        index = ast.ArrayIndex(c[4], c[1], span=span(c[0]))
        return ast.ArrayIn(index, span=span(c[0]))

    def compare(self, c):
        return ast.ComparisonExpr(c[1], c[0], c[2], span=c[0].span)

    def regex(self, c):
        return ast.RegexExpr(c[1], c[0], c[2], span=c[0].span)

    def regex_literal(self, c):
        return c[0]

    def binary(self, c):
        return ast.BinaryExpr(c[1], c[0], c[2], span=c[0].span)

    def concat_expr(self, c):
        return ast.ConcatExpr(c[0], c[2], span=c[0].span)

    def _op(self, c):
        return c[0].value

    compare_op = regex_op = shift_op = add_op = mul_op = unary_op = crement_op = _op

    def unary_expr(self, c):
        return ast.UnaryExpr(c[0], c[1], span=span(c[0]) if isinstance(c[0], Token) else c[1].span)

    def postfix(self, c):
        return ast.CrementExpr(c[1], c[0], prefix=False, span=c[0].span)

    def prefix(self, c):
        return ast.CrementExpr(c[0], c[1], prefix=True, span=c[1].span)

    def value(self, c):
        return c[1]  # a parenthesised expression

    def number(self, c):
        return ast.NumberLiteral(parse_number(c[0]), c[0].value, span=span(c[0]))

    def string_lit(self, c):
        return ast.StringLiteral(c[0].value, span=span(c[0]))

    def string_lit_more(self, c):
        c[0].value += c[1].value  # adjacent literals are one string, as in C
        return c[0]

    def symbol(self, c):
        item = c[0]
        if isinstance(item, Token):
            return ast.Symbol(item.value, span=span(item))
        return item

    def array_index(self, c):
        return ast.ArrayIndex(ast.Symbol(c[0].value, span=span(c[0])), c[2], span=span(c[0]))

    def hist_index(self, c):
        return ast.ArrayIndex(c[0], [c[2]], span=c[0].span)

    def call(self, c):
        name = c[0].value
        args = c[2] if len(c) == 4 else []
        if name in PRINT_FAMILY:
            return self._print_format(c[0], args, c[-1])
        return ast.FunctionCall(name, args, span=span(c[0]))

    def _print_format(self, token: Token, args: list, closing: Token):
        name = token.value
        node = ast.PrintFormat(name, span=span(token))
        if name.endswith("printf") or "printd" in name:
            if not args or not isinstance(args[0], ast.StringLiteral):
                first = args[0] if args else None
                where = (first.span, _describe_node(first)) if first is not None else None
                raise ParseProblem("expected literal string", token, at=where)
            node.format = args[0]
            if name.endswith("printf") and not _valid_format(args[0].value):
                after = getattr(args, "separators", [None])[0] or closing
                raise ParseProblem("invalid or missing conversion specifier", after)
            args = args[1:]
        if len(args) == 1 and isinstance(args[0], ast.HistOp) and node.format is None:
            node.hist = args[0]
            args = []
        node.args = args
        return node

    def args(self, c):
        args = _ArgList(c)
        args.separators = []
        return args

    def args_more(self, c):
        c[0].append(c[2])
        c[0].separators.append(c[1])
        return c[0]

    def index_item(self, c):
        return c[0]

    def star_index(self, c):
        return None

    def target(self, c):
        name, pretty = _split_pretty(c[0].value, 2 if c[0].value.startswith("$$") else 1)
        components, pretty = _with_pretty(c[1], pretty)
        return ast.TargetSymbol(name, components, pretty, span=span(c[0]))

    def cast(self, c):
        strings = [x for x in c[3:] if isinstance(x, ast.StringLiteral)]
        components, pretty = _with_pretty(c[-1], "")
        module = strings[1].value if len(strings) > 1 else None
        return ast.CastOp(c[2], strings[0].value, module, components, pretty, span=span(c[0]))

    def atvar(self, c):
        strings = [x for x in c[2:] if isinstance(x, ast.StringLiteral)]
        components, pretty = _with_pretty(c[-1], "")
        name, _, cu_name = strings[0].value.partition("@")
        module = strings[1].value if len(strings) > 1 else None
        return ast.AtVarOp(name, cu_name or None, module, components, pretty, span=span(c[0]))

    def member(self, c):
        name, pretty = _split_pretty(c[1].value, 0)
        return ast.TargetComponent("member", name, span=span(c[0])), pretty

    def subscript(self, c):
        return ast.TargetComponent("index", index=c[1], span=span(c[0])), ""

    def pretty(self, c):
        return None, c[0].value

    def address_of(self, c):
        node = c[1]
        node.addressof = True
        node.span = span(c[0])
        return node

    def address_of_value(self, c):
        return ast.AutocastOp(c[1], addressof=True, span=span(c[0]))

    def stat_op(self, c):
        params = [ast.NumberLiteral(parse_number(t), t.value, span=span(t)) for t in c[4:-1:2]]
        return ast.StatOp(c[0].value[1:], c[2], params, span=span(c[0]))

    def defined_op(self, c):
        return ast.DefinedOp(c[2], span=span(c[0]))

    def entry_op(self, c):
        return ast.EntryOp(c[2], span=span(c[0]))

    def perf_op(self, c):
        return ast.PerfOp(c[2], span=span(c[0]))

    def probewrite_op(self, c):
        return ast.ProbewriteOp(c[2], span=span(c[0]))

    def register_op(self, c):
        return ast.RegisterOp(c[0].value == "@uregister", c[2], span=span(c[0]))

    def const_op(self, c):
        self.context.check_guru(c[0], "using @const operator not permitted; need stap -g")
        code = f"/* pure */ /* unprivileged */ /* stable */ {c[2].value}"
        return ast.EmbeddedExpr(code, span=span(c[0]))

    def autocast(self, c):
        first = ast.TargetComponent("member", c[2].value, span=span(c[1]))
        name, pretty = _split_pretty(c[2].value, 0)
        first.name = name
        components, pretty = _with_pretty([(first, pretty)] + c[3], "")
        return ast.AutocastOp(c[0], components, pretty, span=c[0].span)

    def member_name(self, c):
        return c[0]

    def autocast_index(self, c):
        first = ast.TargetComponent("index", index=c[4], span=span(c[3]))
        components, pretty = _with_pretty([(first, "")] + c[6], "")
        return ast.AutocastOp(c[1], components, pretty, span=span(c[0]))

    def autocast_base(self, c):
        return c[1]

    def embedded_expr(self, c):
        return ast.EmbeddedExpr(c[0].value, span=span(c[0]))

    def hist_linear(self, c):
        return ast.HistOp("linear", c[2], [c[4], c[6], c[8]], span=span(c[0]))  # literals, signed (init_literal)

    def hist_log(self, c):
        return ast.HistOp("log", c[2], span=span(c[0]))

    def indexable(self, c):
        return c[0]


class _ArgList(list):
    """Call arguments, remembering the commas (stap blames one for a bad printf format)."""

    separators: list


# As stap's parser reads a conversion: one flag at most (a '0' after it starts the width)
# and no length modifier but 'l'; `%+-5d` or `%lld` are parse errors there.
_FORMAT_RE = re.compile(r"%(?:%|[-+ #0]?(?:\*|\d+)?(?:\.(?:\*|\d+))?l?[diouxXscpbmM])")


def _valid_format(text: str) -> bool:
    return "%" not in _FORMAT_RE.sub("", text)


def _describe_node(node) -> str:
    if isinstance(node, (ast.Symbol, ast.FunctionCall, ast.PrintFormat)):
        return f"identifier '{node.name}'"
    if isinstance(node, ast.NumberLiteral):
        return f"number '{node.text}'"
    return "operator '('"


def _joined(head: ast.ProbePoint, tail: ast.ProbePoint, into: ast.ProbePoint) -> ast.ProbePoint:
    """`into` made `head.tail`: head's components, then tail's with its flags (only a suffix has flags)."""
    if head.optional or head.sufficient or head.condition is not None:
        first = head.components[0]
        where = (first.span, f"identifier '{first.functor}'")
        raise ParseProblem("'?', '!' or condition must only be specified in suffix", None, label="at", at=where)
    into.components = head.components + tail.components
    into.optional, into.sufficient, into.condition = tail.optional, tail.sufficient, tail.condition
    return into


def _negate(value: int) -> int:
    """-value in 64-bit two's complement (so -9223372036854775808 stays itself)."""
    value = -value & ((1 << 64) - 1)
    return value - (1 << 64) if value >= 1 << 63 else value


def _split_pretty(text: str, sigils: int) -> tuple[str, str]:
    """Split `$var$$` into ("$var", "$$"): trailing dollars ask for pretty printing."""
    base = text[sigils:].rstrip("$")
    return text[: sigils + len(base)], text[sigils + len(base) :]


def _with_pretty(items: list, pretty: str) -> tuple[list, str]:
    components = []
    for component, suffix in items:
        if component is not None:
            components.append(component)
        pretty = suffix or pretty
    return components, pretty


class ParseContext:
    """What the builder needs to know about where it is: privilege and enclosing declaration."""

    def __init__(self, privileged: bool):
        self.privileged = privileged
        self.kind = "unknown"  # "probe", "function", "global", "embedded" (the current top-level item)

    def check_embedded(self, token: Token, depth: int) -> None:
        """Embedded C needs -g outside tapsets; checked as the parser reaches it, like stap."""
        if self.privileged or token.file.is_tapset:
            return
        if depth > 0:
            message = "embedded expression code in unprivileged script; need stap -g"
            raise ParseProblem(message, token, recover=False, consumed=False)
        raise ParseProblem("embedded code in unprivileged script; need stap -g", token, recover=False)

    def check_guru(self, token: Token, message: str) -> None:
        if not (self.privileged or token.file.is_tapset):
            raise ParseProblem(message, token, recover=False)

    def check_function(self, token: Token) -> None:
        if self.kind != "function":
            raise ParseProblem("found 'return' not in function context", token)

    def check_probe(self, token: Token) -> None:
        return None
