"""The SystemTap tokenizer.

Hand-written rather than generated because stap's lexer has context lark's cannot
express: embedded C between `%{` and `%}` is one opaque token, `#`, `//` and `/* */`
are comments, `@name` spells operators and macro calls, and string escapes are kept
as written (stap passes them through to C). Tokens are lark `Token`s so the LALR
parser consumes them directly; each also carries its `SourceFile`.
"""

from __future__ import annotations

import re
from typing import Iterator

from lark import Token as LarkToken

from engine.diagnostics import SourceFile

KEYWORDS = frozenset(
    "probe global function if else for foreach in limit return delete while break "
    "continue next string long try catch private".split()
)

# Operator spelling -> grammar terminal (named in grammar.lark). `%(` `%?` `%:` `%)`
# are the preprocessor's ("PP"); operators missing here reach the parser as "OP".
OPERATOR_TERMINALS = {
    ";": "SEMICOLON", "=": "EQUAL", "+=": "PLUSEQ", ",": "COMMA", "?": "QMARK", "!": "BANG",
    "(": "LPAR", ")": "RPAR", ".": "DOT", "*": "STAR", "%": "PERCENT", "-": "MINUS",
    "[": "LSQB", "]": "RSQB", ":": "COLON", "{": "LBRACE", "}": "RBRACE", "+": "PLUS",
    "-=": "MINUSEQ", "*=": "STAREQ", "/=": "SLASHEQ", "%=": "PERCENTEQ", "<<=": "SHLEQ",
    ">>=": "SHREQ", "&=": "AMPEQ", "|=": "BAREQ", "^=": "CARETEQ", ".=": "DOTEQ",
    "<<<": "AGGREGATE", "||": "OROR", "&&": "ANDAND", "|": "BAR", "^": "CARET", "&": "AMP",
    "<": "LT", "<=": "LE", ">": "GT", ">=": "GE", "==": "EQEQ", "!=": "NE", "=~": "MATCH",
    "!~": "NOMATCH", "<<": "SHL", ">>": "SHR", ">>>": "SHRU", "/": "SLASH", "~": "TILDE",
    "++": "INCR", "--": "DECR", "->": "ARROW",
    "%(": "PP", "%?": "PP", "%:": "PP", "%)": "PP",
}

# `@name` operators the grammar knows; other `@name`s are macros or unknown operators.
AT_OPERATORS = {
    "@cast": "AT_CAST", "@var": "AT_VAR", "@defined": "AT_DEFINED", "@entry": "AT_ENTRY",
    "@perf": "AT_PERF", "@probewrite": "AT_PROBEWRITE", "@kregister": "AT_REGISTER",
    "@uregister": "AT_REGISTER", "@const": "AT_CONST", "@hist_linear": "AT_HIST_LINEAR", "@hist_log": "AT_HIST_LOG",
    "@count": "STAT_OP", "@sum": "STAT_OP", "@min": "STAT_OP", "@max": "STAT_OP",
    "@avg": "STAT_OP", "@variance": "STAT_OP",
}

# Longest first: the regex alternation takes the first operator that matches.
OPERATORS = sorted(OPERATOR_TERMINALS, key=len, reverse=True)

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>[ \t\r\f\v]+)
  | (?P<nl>\n)
  | (?P<argc>[$@]\#)
  | (?P<comment>\#[^\n]*|//[^\n]*|/\*(?:[^*]|\*(?!/))*(?:\*/|\Z))
  | (?P<embedded>%\{(?:[^%]|%(?!\}))*(?:%\}|\Z))
  | (?P<ident>[A-Za-z_$@][A-Za-z0-9_$]*)
  | (?P<number>[0-9][A-Za-z0-9_]*)
  | (?P<string>")
  | (?P<op>"""
    + "|".join(re.escape(op) for op in OPERATORS)
    + r""")
  | (?P<other>[^\x00-\x7f]+|.)
    """,
    re.VERBOSE | re.DOTALL,
)

# Inside a string: runs of plain characters, escapes, and the end.
_STRING_RE = re.compile(r'((?:[^"\\\n]|\\[^\n])*)("|\\?\n|\\?\Z)')
_KEEP_BACKSLASH = frozenset("abtnvfr01234567\\x")


class Token(LarkToken):
    """A lark token that remembers its source file (for carets and privilege checks)."""

    __slots__ = ("file", "spaced", "junk")

    file: SourceFile
    spaced: bool  # preceded by whitespace or a comment (probe-point names must be glued)
    junk: "Junk | None"  # for JUNK tokens: the error to report when the parser reaches it


    def __reduce__(self):
        # lark's Token pickles only its own fields; keep ours (the macro cache stores tokens)
        return (_rebuild, (self.type, self.value, self.file, self.line, self.column, self.start_pos, self.spaced, self.junk))


def _rebuild(kind, value, file, line, col, pos, spaced, junk) -> Token:
    token = make_token(kind, value, file, line, col, pos, spaced)
    token.junk = junk
    return token


_new_str = str.__new__


def make_token(kind: str, value: str, file: SourceFile, line: int, col: int, pos: int = 0, spaced: bool = True) -> Token:
    token = _new_str(Token, value)  # lark's Token.__new__ does much more than we need
    token.type = kind
    token.value = value
    token.start_pos = pos
    token.line = line
    token.column = col
    token.end_line = token.end_column = token.end_pos = None
    token.file = file
    token.spaced = spaced
    token.junk = None
    return token


def junk_token(at: Token, message: str, label: str = "at", saw: str = "junk ''") -> Token:
    """A JUNK token standing for a lexical or preprocessor error found at `at`."""
    token = retoken(at, "JUNK", "")
    token.junk = Junk(message, label, saw)
    return token


def retoken(token: Token, kind: str, value: str) -> Token:
    """A token of another kind at the same place (argument substitution, macros)."""
    return make_token(kind, value, token.file, token.line, token.column, token.start_pos, token.spaced)


def describe(token: Token | None) -> str:
    """The token as stap's `saw:` line names it."""
    if token is None:
        return "end of input"
    kind = token.type
    if token.value in KEYWORDS and kind != "STRING_LITERAL":
        return "keyword"
    if kind == "EMBEDDED":
        return "embedded-code"
    if kind == "JUNK":
        return token.junk.saw if token.junk else "junk ''"
    label = {"IDENT": "identifier", "TARGET": "identifier", "NUMBER": "number", "STRING_LITERAL": "string"}.get(
        kind, "operator"
    )
    return f"{label} '{token.value}'"


class Junk:
    """A junk token's error: stap reports it when the parser reaches the token."""

    __slots__ = ("message", "label", "saw")

    def __init__(self, message: str, label: str, saw: str):
        self.message = message
        self.label = label  # "at" or "saw", as stap prints it
        self.saw = saw


def tokenize(file: SourceFile) -> Iterator[Token]:
    """Yield the tokens of `file`. Kinds: IDENT NUMBER STRING EMBEDDED OP JUNK and keywords.

    Keywords get their own upper-case kind (`PROBE`, `IF`); operators have kind "OP"
    until the parser front end maps them to grammar terminals.
    """
    text = file.text
    line = 1
    line_start = 0
    spaced = True
    match = _TOKEN_RE.match
    pos = 0
    end = len(text)
    while pos < end:
        m = match(text, pos)
        kind = m.lastgroup
        start = pos
        pos = m.end()
        col = start - line_start + 1
        if kind == "ws":
            spaced = True
            continue
        if kind == "nl":
            line += 1
            line_start = pos
            spaced = True
            continue
        if kind == "comment" or kind == "embedded":
            value = m.group()
            newlines = value.count("\n")
            if kind == "embedded":
                code = value[2:-2] if value.endswith("%}") and len(value) >= 4 else value[2:]
                yield make_token("EMBEDDED", code, file, line, col, start, spaced)
            if newlines:
                line += newlines
                line_start = start + value.rindex("\n") + 1
            spaced = kind == "comment" or spaced
            if kind == "embedded":
                spaced = False
            continue
        if kind == "string":
            token, pos = _string(file, text, pos, line, col, start, spaced)
            yield token
        elif kind == "ident":
            value = m.group()
            yield make_token(ident_kind(value), value, file, line, col, start, spaced)
        elif kind == "argc":
            yield make_token("ARGC", m.group(), file, line, col, start, spaced)
        elif kind == "number":
            yield make_token("NUMBER", m.group(), file, line, col, start, spaced)
        else:
            value = m.group()
            yield make_token(OPERATOR_TERMINALS.get(value, "OP"), value, file, line, col, start, spaced)
        spaced = False


def ident_kind(value: str) -> str:
    """The terminal of an identifier-shaped token: keyword, `$target`, `@operator`..."""
    first = value[0]
    if first == "$":
        return "PRETTY" if value in ("$", "$$") else "TARGET"
    if first == "@":
        return AT_OPERATORS.get(value, "AT_UNKNOWN")
    if value in KEYWORDS:
        return value.upper()
    return "IDENT"


def _string(file: SourceFile, text: str, pos: int, line: int, col: int, start: int, spaced: bool) -> tuple[Token, int]:
    """Scan a string literal after its opening quote; keep C escapes, drop `\\"`."""
    m = _STRING_RE.match(text, pos)
    body, close = m.group(1), m.group(2)
    if close != '"':
        quote = make_token("JUNK", '"', file, line, col, start, spaced)
        return junk_token(quote, "Could not find matching closing quote"), m.start(2)
    if "\\" in body:
        body = _unescape(body)
    return make_token("STRING_LITERAL", body, file, line, col, start, spaced), m.end()


def _unescape(body: str) -> str:
    out = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            if nxt in _KEEP_BACKSLASH:
                out.append("\\")
            out.append(nxt)
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)
