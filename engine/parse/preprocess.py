"""stap's preprocessor: conditionals, `@define` macros, command-line arguments.

It works on tokens, between the tokenizer and the parser, as stap's does:
`%( cond %? then %: else %)` keeps one branch, `@define name(a, b) %( body %)`
records a macro that `@name(x, y)` expands, `$N`/`@N` become the N-th argument (as
tokens or as a string) and `$#`/`@#` the argument count. Errors become JUNK tokens
that the parser reports when it reaches them, so they appear in stap's order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Iterator

from engine.diagnostics import SourceFile
from engine.parse.conditions import Conditions, compare, compare_versions, match_glob
from engine.parse.lexer import Token, describe, junk_token, retoken, tokenize

MAX_EXPANSION_DEPTH = 200
KNOWN_CONDITIONS = frozenset(
    {"kernel_v", "kernel_vr", "systemtap_v", "arch", "runtime", "systemtap_privilege", "guru_mode"}
)
_SPECIAL = frozenset({"AT_UNKNOWN", "TARGET", "ARGC"})  # may be @define, a macro, $N, @N, $#, @#
_BRACKETS = frozenset({"LPAR", "LSQB", "LBRACE", "RPAR", "RSQB", "RBRACE"})
_ARG_RE = re.compile(r"[$@]([0-9]+)")

CONDITION_ERROR = (
    "expected 'arch', 'kernel_v', 'kernel_vr', 'systemtap_v',\n"
    "             'runtime', 'systemtap_privilege', 'CONFIG_...', or\n"
    "             comparison between strings or integers"
)


@dataclass
class Macro:
    name: str
    params: list[str]
    body: list[Token]


class Preprocessor:
    """Turns one file's raw tokens into the tokens the parser sees."""

    def __init__(self, conditions: Conditions, args: list[str], macros: dict[str, Macro]):
        self.conditions = conditions
        self.args = args
        self.library_macros = macros
        self.macros: dict[str, Macro] = {}  # defined in this file
        self.stack: list[Iterator[Token]] = []
        self.open_conditionals: list[tuple[str, Token]] = []  # ("then" | "else", its %() per open %(

    # -- token input ------------------------------------------------------------

    def _next(self) -> Token | None:
        while self.stack:
            token = next(self.stack[-1], None)
            if token is not None:
                return token
            self.stack.pop()
        return None

    def _push(self, tokens: Iterable[Token]) -> None:
        self.stack.append(iter(tokens))

    # -- main loop ---------------------------------------------------------------

    def process(self, tokens: Iterable[Token]) -> list[Token]:
        self._push(tokens)
        out: list[Token] = []
        append = out.append
        while self.stack:
            top = self.stack[-1]
            for token in top:  # the common case, plain tokens, without a call per token
                kind = token.type
                if kind == "PP":
                    out.extend(self._conditional(token))
                elif kind in _SPECIAL:
                    out.extend(self._special(token))
                else:
                    append(token)
                    continue
                if not self.stack or self.stack[-1] is not top:
                    break  # a macro body was pushed (or `top` ran out): read from the new top
            else:
                if self.stack and self.stack[-1] is top:
                    self.stack.pop()
        if self.open_conditionals:
            opener = self.open_conditionals[-1][1]
            out.append(junk_token(opener, "incomplete conditional at end of file", saw=describe(opener)))
        return out

    def _special(self, token: Token) -> list[Token]:
        """`@define`, `$#`, `$N`/`@N`, and macro calls; other tokens pass through."""
        value = token.value
        if value == "@define":
            return self._define(token)
        if value in ("$#", "@#"):
            count = str(len(self.args))
            return [retoken(token, "NUMBER" if value == "$#" else "STRING_LITERAL", count)]
        m = _ARG_RE.match(value)
        if m:
            return self._argument(token, int(m.group(1)))
        if value[0] == "@":
            macro = self.macros.get(value[1:]) or self.library_macros.get(value[1:])
            if macro is not None:
                return self._expand(token, macro)
        return [token]

    # -- arguments ---------------------------------------------------------------

    def _argument(self, token: Token, number: int) -> list[Token]:
        if not 1 <= number <= len(self.args):
            return [junk_token(token, f"command line argument out of range [1-{len(self.args)}]")]
        arg = self.args[number - 1]
        if token.value[0] == "@":
            return [retoken(token, "STRING_LITERAL", arg)]
        source = SourceFile(token.file.name, arg, token.file.is_tapset)
        return [_at(t, token) for t in tokenize(source)]

    # -- conditionals ----------------------------------------------------------------

    def _conditional(self, token: Token) -> list[Token]:
        if token.value == "%(":
            return self._open_conditional(token)
        if not self.open_conditionals:
            return [junk_token(token, "incomplete conditional - missing '%('", saw=describe(token))]
        if token.value == "%)":
            self.open_conditionals.pop()
            return []
        if token.value == "%:" and self.open_conditionals[-1][0] == "then":
            # end of the taken branch: drop the else branch
            self.open_conditionals.pop()
            end = self._skip_branch(stop_at_else=False)
            return [] if end is not None else [self._unterminated(token)]
        return [junk_token(token, "incomplete conditional - missing '%('", saw=describe(token))]

    def _open_conditional(self, start: Token) -> list[Token]:
        result = self._condition(start)
        if isinstance(result, Token):
            return [result]
        if result:
            self.open_conditionals.append(("then", start))
            return []
        end = self._skip_branch(stop_at_else=True)
        if end is None:
            return [self._unterminated(start)]
        if end.value == "%:":
            self.open_conditionals.append(("else", start))
        return []

    def _unterminated(self, token: Token) -> Token:
        return junk_token(token, "incomplete conditional at end of file", saw=describe(token))

    def _skip_branch(self, stop_at_else: bool) -> Token | None:
        """Skip tokens of an untaken branch; return the `%:`/`%)` that ends it."""
        nesting = 0
        while (token := self._next()) is not None:
            if token.type != "PP":
                continue
            if token.value == "%(":
                nesting += 1
            elif token.value == "%)":
                if nesting == 0:
                    return token
                nesting -= 1
            elif token.value == "%:" and nesting == 0 and stop_at_else:
                return token
        return None

    def _condition(self, start: Token) -> bool | Token:
        """Evaluate `a op b && ... || ...` up to `%?`; a JUNK token on error."""
        result = False
        while True:
            conjunction = True
            while True:
                value = self._comparison(start)
                if isinstance(value, Token):
                    return value
                conjunction = conjunction and value
                joiner = self._condition_token()
                if joiner is None or joiner.value != "&&":
                    break
            result = result or conjunction
            if joiner is not None and joiner.value == "||":
                continue
            if joiner is None or joiner.value != "%?":
                return junk_token(start, "expected '%?' marker for conditional", saw=describe(start))
            return result

    def _condition_token(self) -> Token | None:
        token = self._next()
        if token is not None and token.type in _SPECIAL:
            expanded = self._special(token)
            if len(expanded) != 1:
                self._push(expanded[1:])
            token = expanded[0] if expanded else self._next()
        return token

    def _comparison(self, start: Token) -> bool | Token:
        left = self._condition_token()
        op = self._condition_token()
        right = self._condition_token()
        if left is None or op is None or right is None:
            return junk_token(left or start, CONDITION_ERROR, saw=describe(left))
        if left.type == "JUNK":
            return left
        if left.type == "IDENT" and left.value not in KNOWN_CONDITIONS and not left.value.startswith("CONFIG_"):
            return junk_token(left, CONDITION_ERROR, saw=describe(left))
        if op.value not in ("==", "!=", "<", "<=", ">", ">=") or op.type == "STRING_LITERAL":
            return junk_token(op, "expected comparison operator", saw=describe(op))
        value = evaluate(self.conditions, left, op.value, right)
        if value is None:
            return junk_token(left, CONDITION_ERROR, saw=describe(left))
        if isinstance(value, str):
            return junk_token(right, value, saw=describe(right))
        return value

    # -- macros ---------------------------------------------------------------------

    def _define(self, token: Token) -> list[Token]:
        name = self._next()
        if name is None or name.type != "IDENT":
            return [junk_token(name or token, "expected identifier", saw=describe(name))]
        params: list[str] = []
        opener = self._next()
        if opener is not None and opener.value == "(":
            while True:
                param = self._next()
                if param is None or param.type != "IDENT":
                    return [junk_token(param or opener, "expected identifier", saw=describe(param))]
                params.append(param.value)
                sep = self._next()
                if sep is not None and sep.value == ")":
                    break
                if sep is None or sep.value != ",":
                    return [junk_token(sep or param, "expected ',' or ')'", saw=describe(sep))]
            opener = self._next()
        if opener is None or opener.value != "%(":
            return [junk_token(opener or name, "expected '%('", saw=describe(opener))]
        body = self._balanced_body()
        if body is None:
            return [junk_token(token, "unterminated macro definition", saw=describe(token))]
        if name.value in self.macros:
            return [junk_token(name, f"attempt to redefine macro '@{name.value}' in the same file", saw=describe(name))]
        self.macros[name.value] = Macro(name.value, params, body)
        return []

    def _balanced_body(self) -> list[Token] | None:
        body: list[Token] = []
        nesting = 0
        while (token := self._next()) is not None:
            if token.type == "PP" and token.value == "%(":
                nesting += 1
            elif token.type == "PP" and token.value == "%)":
                if nesting == 0:
                    return body
                nesting -= 1
            body.append(token)
        return None

    def _expand(self, token: Token, macro: Macro) -> list[Token]:
        if len(self.stack) > MAX_EXPANSION_DEPTH:
            return [junk_token(token, f"recursive macro expansion of '@{macro.name}' too deep", saw=describe(token))]
        actuals: dict[str, list[Token]] = {}
        if macro.params:
            args = self._macro_arguments(token)
            if isinstance(args, Token):
                return [args]
            if len(args) != len(macro.params):
                return [
                    junk_token(
                        token,
                        f"macro @{macro.name} expects {len(macro.params)} parameters, got {len(args)}",
                        saw=describe(token),
                    )
                ]
            actuals = dict(zip(macro.params, args))
        body = []
        for t in macro.body:
            if t.type != "STRING_LITERAL" and t.value[:1] == "@" and t.value[1:] in actuals:
                body.extend(actuals[t.value[1:]])
            else:
                body.append(t)
        self._push(body)
        return []

    def _macro_arguments(self, token: Token) -> list[list[Token]] | Token:
        opener = self._next()
        if opener is None or opener.value != "(":
            return junk_token(opener or token, "expected '('", saw=describe(opener))
        args: list[list[Token]] = [[]]
        nesting = 0
        while (t := self._next()) is not None:
            if t.type in _BRACKETS:
                if t.type in ("LPAR", "LSQB", "LBRACE"):
                    nesting += 1
                else:
                    if nesting == 0 and t.value == ")":
                        return args if args != [[]] else []
                    nesting -= 1
            elif t.type == "COMMA" and nesting == 0:
                args.append([])
                continue
            args[-1].append(t)
        return junk_token(token, "unterminated macro invocation", saw=describe(token))


def _at(token: Token, place: Token) -> Token:
    """`token` moved to where `$N` stood."""
    junk = token.junk
    if junk is not None:
        return junk_token(place, junk.message, junk.label, junk.saw)
    return retoken(place, token.type, token.value)


def evaluate(cond: Conditions, left: Token, op: str, right: Token) -> bool | str | None:
    """One comparison; None if `left` names nothing stap knows, a message on a bad right side."""
    name = left.value if left.type == "IDENT" else None
    right_kind = "STRING" if right.type == "STRING_LITERAL" else right.type
    if name in ("kernel_v", "kernel_vr", "systemtap_v"):
        if right_kind != "STRING":
            return "expected string literal"
        value = {"kernel_v": cond.kernel_v, "kernel_vr": cond.kernel_vr, "systemtap_v": cond.systemtap_v}[name]
        return compare_versions(op, value, right.value)
    if name in ("arch", "runtime", "systemtap_privilege"):
        if right_kind != "STRING":
            return "expected string literal"
        value = {"arch": cond.arch, "runtime": cond.runtime, "systemtap_privilege": cond.privilege}[name]
        result = match_glob(op, value, right.value)
        return "expected '==' or '!='" if result is None else result
    if name == "guru_mode":
        if right.type != "NUMBER":
            return "expected number"
        return compare(op, int(cond.guru), _number(right.value))
    if name is not None and name.startswith("CONFIG_"):
        value = cond.config.get(name, "")
        if right.type == "IDENT" and right.value.startswith("CONFIG_"):
            other = cond.config.get(right.value, "")
            if value.lstrip("-").isdigit() and other.lstrip("-").isdigit():
                return compare(op, int(value), int(other))
            return compare(op, value, other)
        if right_kind == "STRING":
            glob = match_glob(op, value, right.value)
            return compare(op, value, right.value) if glob is None else glob
        if right.type == "NUMBER":
            return compare(op, _number(value), _number(right.value))
        return "expected string or number literal"
    if left.type == right.type == "NUMBER":
        return compare(op, _number(left.value), _number(right.value))
    if left.type == right.type == "STRING_LITERAL":
        return compare(op, left.value, right.value)
    return None


def _number(text: str) -> int:
    try:
        return int(text, 0) if not (len(text) > 1 and text[0] == "0" and text[1].isdigit()) else int(text, 8)
    except ValueError:
        return 0
