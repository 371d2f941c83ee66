"""Drives an LALR(1) parser built by lark over preprocessed tokens, with stap's error recovery.

lark analyses grammar.lark once; its tables, re-keyed for the tight driver loop
below, are cached on disk (named after the grammar's hash), so parsing needs
neither lark nor its grammar analysis: tokens (the tokenizer already did lark's
lexer's job) are fed one at a time to this driver, which calls one builder method
per reduction. On an error the parse of the current top-level item is abandoned,
the error reported in stap's words (see `errors.py`), and tokens are skipped up to
the next `probe`, `global`, `private`, `function` or `%{`, where a fresh parse
starts: the recovery stap's parser does, so several errors are reported at once.
"""

from __future__ import annotations

import functools
import hashlib
import os
from importlib import resources
from pathlib import Path

from engine.diagnostics import Diagnostic
from engine.parse.builder import Builder, ParseContext, ParseProblem, span
from engine.parse.cache import read_pickle, write_pickle
from engine.parse.errors import unexpected_token_message
from engine.parse.lexer import Token, describe, make_token

SYNC_TYPES = frozenset({"PROBE", "GLOBAL", "PRIVATE", "FUNCTION", "EMBEDDED"})
# What the driver watches for, in one lookup per token: brackets change the nesting
# depth; a top-level keyword (or `%{`) names the item being parsed.
_TRACKED: dict[str, int | str] = {"LBRACE": 1, "LPAR": 1, "LSQB": 1, "RBRACE": -1, "RPAR": -1, "RSQB": -1}
_TRACKED |= {kind: kind.lower() for kind in SYNC_TYPES}
MAX_NESTING = 2000  # deeper brackets are refused (stap would exhaust its stack)
TABLES_FORMAT = "1"  # part of the cached tables' name: bump when their data changes shape


def parse_tokens(tokens: list[Token], end_name: str, privileged: bool) -> tuple[list, list[Diagnostic]]:
    """Parse a whole file's tokens; return its top-level items and the errors found."""
    tables = _tables()
    context = ParseContext(privileged)
    tables.builder.context = context
    items: list = []
    diagnostics: list[Diagnostic] = []
    start = 0
    while True:
        try:
            items.extend(_parse_from(tables, tokens, start, context))
            return items, diagnostics
        except _Failure as failure:
            diagnostics.append(_diagnostic(failure, end_name))
            start = _resume_index(tokens, failure, diagnostics)
            if start >= len(tokens) and failure.index >= len(tokens):
                return items, diagnostics


class _Unexpected(Exception):
    def __init__(self, expected: set[str]):
        self.expected = expected


class _Failure(Exception):
    def __init__(self, message: str, token: Token | None, index: int, label: str = "saw", resume: int | None = None):
        self.message = message
        self.token = token
        self.index = index  # where the parser stood
        self.label = label
        self.resume = resume  # where to restart without skipping, or None to skip to a sync token
        self.at = None  # (Span, description) when the error names a place rather than a token


class _Tables:
    """lark's LALR(1) tables, re-keyed for a tight driver loop.

    lark's own `feed_token` hashes a grammar Rule object on every reduction; here
    each reduce action is pre-resolved to (builder method, length, goal), shifts to
    ints, and single-child `?rule` reductions (no node) to the goal's name.
    """

    def __init__(self, data: dict, builder: Builder):
        self.builder = builder
        self.start: int = data["start"]
        self.end: int = data["end"]
        self.chains: dict[tuple[int, int, str], int] = {}
        self.actions: dict[int, dict[str, object]] = {
            state: {symbol: _bound(action, builder) for symbol, action in row.items()}
            for state, row in data["actions"].items()
        }

    def follow_chain(self, below: int, state: int, kind: str) -> int:
        """The state reached after all single-child reductions `kind` triggers in `state`.

        Such reductions only replace the top state, so the result depends on the
        state beneath, the top state and the lookahead alone; the driver memoises it
        in `chains` (an expression's ~15 precedence levels become one lookup).
        """
        action = self.actions[state].get(kind)
        while action.__class__ is str:
            state = self.actions[below][action]
            action = self.actions[state].get(kind)
        return state

    def expected(self, state: int) -> set[str]:
        """The terminals `state` accepts, as error messages name them (BODY is never written)."""
        return {symbol for symbol in self.actions[state] if symbol.isupper() and symbol != "BODY"}


def _bound(action, builder: Builder):
    if action.__class__ is tuple:
        method, size, goal = action
        return getattr(builder, method), size, goal
    return action


@functools.cache
def _tables() -> _Tables:
    """The parser's tables: installed with the package (setup.py), else from the cache,
    else built by lark (and cached)."""
    grammar = resources.files("engine.parse").joinpath("grammar.lark").read_text()
    name = tables_name(grammar)
    data = read_pickle(Path(__file__).with_name(name))
    if data is None:
        path = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").absolute() / "stapui" / name
        data = read_pickle(path)
        if data is None:
            data = table_data(grammar)
            write_pickle(path, data)
    return _Tables(data, Builder(ParseContext(False)))


def tables_name(grammar: str) -> str:
    """The tables' file name: keyed by the grammar and their format, so stale ones are never read."""
    digest = hashlib.sha256(f"{TABLES_FORMAT}\0{grammar}".encode()).hexdigest()[:16]
    return f"grammar-{digest}.tables"


def install_tables(directory: Path) -> str:
    """Build the tables for the grammar in `directory` into it (setup.py, at install
    time), so a user's first parse does not wait for lark's analysis."""
    grammar = (directory / "grammar.lark").read_text()
    path = directory / tables_name(grammar)
    write_pickle(path, table_data(grammar))
    return f"parser tables prebuilt into {path}"


def table_data(grammar: str) -> dict:
    """lark's LALR(1) analysis of `grammar`, as plain data: {start, end, actions}.

    actions[state][terminal or rule] is a state to shift to (int), the goal of a
    reduction that only passes its one child up (str), or (builder method name,
    number of children, goal).
    """
    from lark import Lark  # the grammar analysis only: parsing does not need lark
    from lark.lexer import Lexer

    class NoLexer(Lexer):
        """Tokens come from engine/parse/lexer.py, fed to the driver by `parse_tokens`."""

        def __init__(self, conf):
            pass

        def lex(self, state, parser_state):
            return iter(())

    table = Lark(grammar, parser="lalr", lexer=NoLexer, keep_all_tokens=True).parser.parser.parser.parse_table
    actions = {}
    for state, row in table.states.items():
        actions[state] = {str(symbol): _plain_action(action, arg) for symbol, (action, arg) in row.items()}
    return {"start": table.start_states["start"], "end": table.end_states["start"], "actions": actions}


def _plain_action(action, arg):
    if action.name == "Shift":
        return arg
    goal = str(arg.origin.name)  # str(): lark's fresh tables hold Tokens as names
    if arg.options.expand1 and len(arg.expansion) == 1 and arg.alias is None:
        return goal  # `?rule` with one child: no node
    method = str(arg.alias or goal)
    if not hasattr(Builder, method):
        raise RuntimeError(f"grammar.lark: rule {method} has no Builder method")
    return method, len(arg.expansion), goal


def _parse_from(tables: _Tables, tokens: list[Token], start: int, context: ParseContext) -> list:
    actions = tables.actions
    chains = tables.chains
    states = [tables.start]
    values: list = []
    depth = 0
    index = start
    end = make_token("$END", "", None, 0, 0)
    count = len(tokens)
    try:
        while True:
            if index < count:
                token = tokens[index]
                kind = token.type
                tracked = _TRACKED.get(kind)
                if tracked is None:
                    pass
                elif tracked.__class__ is int:
                    depth += tracked
                    if depth > MAX_NESTING:
                        raise _Failure("too many nested parentheses, brackets or braces", token, index)
                else:
                    if depth <= 0:
                        context.kind = tracked
                    if kind == "EMBEDDED":
                        context.check_embedded(token, depth)
            else:
                token, kind = end, "$END"
            while True:
                action = actions[states[-1]].get(kind)
                if action is None:
                    raise _Unexpected(tables.expected(states[-1]))
                if action.__class__ is int:
                    states.append(action)
                    values.append(token)
                    break
                if action.__class__ is str:
                    key = (states[-2], states[-1], kind)
                    target = chains.get(key)
                    if target is None:
                        target = chains[key] = tables.follow_chain(states[-2], states[-1], kind)
                    states[-1] = target
                    continue
                callback, size, goal = action
                if size:
                    arguments = values[-size:]
                    del values[-size:]
                    del states[-size:]
                else:
                    arguments = []
                value = callback(arguments)
                if kind == "$END" and goal == "start" and len(states) == 1:
                    return value
                states.append(actions[states[-1]][goal])
                values.append(value)
            index += 1
    except _Unexpected as error:
        token = tokens[index] if index < len(tokens) else None
        previous = tokens[index - 1] if index > start else None
        raise _Failure(unexpected_token_message(error.expected, token, previous), token, index) from None
    except ParseProblem as problem:
        resume = None
        if not problem.recover:
            at = _index_of(tokens, problem.token, start)
            resume = at + 1 if problem.consumed else at
        failure = _Failure(problem.message, problem.token, index, problem.label, resume)
        failure.at = problem.at
        raise failure from None


def _index_of(tokens: list[Token], token: Token, start: int) -> int:
    for i in range(start, len(tokens)):
        if tokens[i] is token:
            return i
    return start


def _resume_index(tokens: list[Token], failure: _Failure, diagnostics: list[Diagnostic]) -> int:
    """Where parsing restarts: stap skips to the next top-level keyword or `%{`."""
    if failure.resume is not None:
        return failure.resume
    i = failure.index
    if failure.token is not None and failure.token.type == "JUNK":
        i += 1
    while i < len(tokens) and tokens[i].type not in SYNC_TYPES:
        if tokens[i].type == "JUNK":
            diagnostics.append(_junk_diagnostic(tokens[i]))
        i += 1
    return i


def _junk_diagnostic(token: Token) -> Diagnostic:
    junk = token.junk
    return Diagnostic("parse error", junk.message, span(token), saw=junk.saw, saw_label=junk.label)


def _diagnostic(failure: _Failure, end_name: str) -> Diagnostic:
    token = failure.token
    if failure.at is not None:
        where, saw = failure.at
        return Diagnostic("parse error", failure.message, where, saw=saw, saw_label=failure.label)
    if token is None:
        return Diagnostic("parse error", failure.message, None, saw=f"{end_name} EOF")
    if token.type == "JUNK" and token.junk is not None:
        return _junk_diagnostic(token)
    return Diagnostic("parse error", failure.message, span(token), saw=describe(token), saw_label=failure.label)
