"""Drives lark's LALR parser over preprocessed tokens, with stap's error recovery.

Tokens are fed one at a time to lark's parser state (the tokenizer already did
lark's lexer's job). On an error the parse of the current top-level item is
abandoned, the error reported in stap's words (see `errors.py`), and tokens are
skipped up to the next `probe`, `global`, `private`, `function` or `%{`, where a
fresh parse starts: the recovery stap's parser does, so several errors are
reported at once.
"""

from __future__ import annotations

import functools
import hashlib
import os
from importlib import resources
from pathlib import Path

from lark import Lark, Token as LarkToken
from lark.lexer import Lexer

from engine.diagnostics import Diagnostic
from engine.parse.builder import Builder, ParseContext, ParseProblem, span
from engine.parse.errors import unexpected_token_message
from engine.parse.lexer import Token, describe

SYNC_TYPES = frozenset({"PROBE", "GLOBAL", "PRIVATE", "FUNCTION", "EMBEDDED"})
# What the driver watches for, in one lookup per token: brackets change the nesting
# depth; a top-level keyword (or `%{`) names the item being parsed.
_TRACKED: dict[str, int | str] = {"LBRACE": 1, "LPAR": 1, "LSQB": 1, "RBRACE": -1, "RPAR": -1, "RSQB": -1}
_TRACKED |= {kind: kind.lower() for kind in SYNC_TYPES}
MAX_NESTING = 2000  # deeper brackets are refused (stap would exhaust its stack)


class _NoLexer(Lexer):
    """Placeholder: tokens come from engine/parse/lexer.py, fed by `parse_tokens`."""

    def __init__(self, conf):
        pass

    def lex(self, state, parser_state):
        return iter(())


@functools.cache
def _lark() -> tuple[Lark, Builder]:
    builder = Builder(ParseContext(False))
    grammar = resources.files("engine.parse").joinpath("grammar.lark").read_text()
    cache_dir = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").absolute() / "stapui"
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        # named after the grammar: checkouts and installed copies with other grammars keep their own
        digest = hashlib.sha256(grammar.encode()).hexdigest()[:16]
        cache: str | bool = str(cache_dir / f"grammar-{digest}.lark.cache")
    except OSError:
        cache = False
    lark = Lark(grammar, parser="lalr", lexer=_NoLexer, transformer=builder, keep_all_tokens=True, cache=cache)
    return lark, builder


def parse_tokens(tokens: list[Token], end_name: str, privileged: bool) -> tuple[list, list[Diagnostic]]:
    """Parse a whole file's tokens; return its top-level items and the errors found."""
    lark, builder = _lark()
    context = ParseContext(privileged)
    builder.context = context
    items: list = []
    diagnostics: list[Diagnostic] = []
    start = 0
    while True:
        try:
            items.extend(_parse_from(lark, tokens, start, context))
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
    each reduce action is pre-resolved to (callback, length, goal), shifts to ints.
    """

    def __init__(self, lark: Lark):
        parser = lark.parser.parser.parser
        table = parser.parse_table
        callbacks = parser.callbacks
        self.chains: dict[tuple[int, int, str], int] = {}
        self.start = table.start_states["start"]
        self.end = table.end_states["start"]
        self.actions: dict[int, dict[str, object]] = {}
        for state, row in table.states.items():
            compiled: dict[str, object] = {}
            for symbol, (action, arg) in row.items():
                if action.name == "Shift":
                    compiled[symbol] = arg
                elif _passes_child_through(arg):
                    compiled[symbol] = str(arg.origin.name)  # `?rule`, one child: no node (str(): fresh tables hold Tokens)
                else:
                    compiled[symbol] = (callbacks[arg], len(arg.expansion), str(arg.origin.name))
            self.actions[state] = compiled

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


def _passes_child_through(rule) -> bool:
    return rule.options.expand1 and len(rule.expansion) == 1 and rule.alias is None


@functools.cache
def _tables() -> _Tables:
    return _Tables(_lark()[0])


def _parse_from(lark: Lark, tokens: list[Token], start: int, context: ParseContext) -> list:
    tables = _tables()
    actions = tables.actions
    chains = tables.chains
    states = [tables.start]
    values: list = []
    depth = 0
    index = start
    end = LarkToken("$END", "", 0, 0, 0)
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
