"""The SystemTap tokenizer.

Hand-written rather than generated because stap's lexer has context lark's cannot
express: embedded C between `%{` and `%}` is one opaque token, `#`, `//` and `/* */`
are comments, `@name` spells operators and macro calls, and string escapes are kept
as written (stap passes them through to C). A token's kind is the grammar's
terminal name, so the LALR driver (parser.py) consumes tokens directly; each also
carries its `SourceFile`.
"""

from __future__ import annotations

import re

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

# One match per token: the whitespace and comments before it ("skip"), then the
# token. Groups named after a terminal give the token's kind directly. An unclosed
# string ("quote") stops where stap's lexer gives up on it: at the end of the line.
_TOKEN_RE = re.compile(
    r"""
    (?P<skip>(?:[ \t\r\f\v\n]+|\#[^\n]*|//[^\n]*|/\*[^*]*\*+(?:[^/*][^*]*\*+)*/|/\*.*)*)
    (?:
      (?P<ARGC>[$@]\#)
    | (?P<EMBEDDED>%\{[^%]*%+(?:[^}%][^%]*%+)*\}|%\{.*)
    | (?P<ident>[A-Za-z_$@][A-Za-z0-9_$]*)
    | (?P<NUMBER>[0-9][A-Za-z0-9_]*)
    | (?P<STRING_LITERAL>"(?:[^"\\\n]|\\[^\n])*")
    | (?P<quote>"(?:[^"\\\n]|\\[^\n])*)
    | (?P<op>"""
    + "|".join(re.escape(op) for op in OPERATORS)
    + r""")
    | (?P<other>[^\x00-\x7f]+|.)
    )?
    """,
    re.VERBOSE | re.DOTALL,
)

_KEEP_BACKSLASH = frozenset("abtnvfr01234567\\x")


class Token(str):
    """A token: its text (the str), kind and place, and its source file (for carets and privilege checks)."""

    __slots__ = ("type", "value", "line", "column", "file", "spaced")

    type: str  # the grammar's terminal name
    value: str
    line: int
    column: int
    file: SourceFile
    spaced: bool  # preceded by whitespace or a comment (probe-point names must be glued)
    junk: "Junk | None" = None  # see JunkToken

    def __reduce__(self):
        # the macro cache stores tokens
        return (_rebuild, (self.type, self.value, self.file, self.line, self.column, self.spaced, self.junk))


class JunkToken(Token):
    """A JUNK token: a lexical or preprocessor error, reported when the parser reaches it."""

    __slots__ = ("junk",)


def _rebuild(kind, value, file, line, col, spaced, junk) -> Token:
    token = make_token(kind, value, file, line, col, spaced, JunkToken if junk is not None else Token)
    if junk is not None:
        token.junk = junk
    return token


_new_str = str.__new__


def make_token(kind: str, value: str, file: SourceFile, line: int, col: int, spaced: bool = True, cls=Token) -> Token:
    token = _new_str(cls, value)
    token.type = kind
    token.value = value
    token.line = line
    token.column = col
    token.file = file
    token.spaced = spaced
    return token


def junk_token(at: Token, message: str, label: str = "at", saw: str = "junk ''") -> Token:
    """A JUNK token standing for a lexical or preprocessor error found at `at`."""
    token = make_token("JUNK", "", at.file, at.line, at.column, at.spaced, JunkToken)
    token.junk = Junk(message, label, saw)
    return token


def retoken(token: Token, kind: str, value: str) -> Token:
    """A token of another kind at the same place (argument substitution, macros)."""
    return make_token(kind, value, token.file, token.line, token.column, token.spaced)


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


def tokenize(file: SourceFile, skipped: list[tuple[int, int, str]] = ()) -> list[Token]:
    """The tokens of `file`. Kinds: IDENT NUMBER STRING_LITERAL EMBEDDED JUNK, keywords, operators.

    Keywords get their own upper-case kind (`PROBE`, `IF`); operators the grammar's
    terminal name (`LPAR`), or "OP" for those it does not know. `skipped` are the
    (start, end, kind) of text an outline steps over (outline.py): each becomes one
    token of that kind (BODY, MACRO_BODY) whose value is the text. This loop runs
    for every token of a file, so it is kept flat: one regex match per token, line
    numbers advanced only over skipped text.
    """
    text = file.text
    tokens: list[Token] = []
    append = tokens.append
    line = 1
    line_start = 0
    spaced = True
    pos = 0
    for stop, resume, skipped_kind in [*skipped, (len(text), len(text), "")]:
        for m in _TOKEN_RE.finditer(text, pos, stop):
            kind = m.lastgroup
            if kind == "skip":  # only whitespace or comments were left
                break
            start, end = m.span(kind)
            if start != pos:  # whitespace or comments: _advance, inlined
                spaced = True
                newlines = text.count("\n", pos, start)
                if newlines:
                    line += newlines
                    line_start = text.rindex("\n", pos, start) + 1
            pos = end
            value = text[start:end]
            if kind == "ident":
                kind = _WORD_KINDS.get(value) or _SIGIL_KINDS.get(value[0], "IDENT")
            elif kind == "op" or kind == "other":
                kind = OPERATOR_TERMINALS.get(value, "OP")
            elif kind == "STRING_LITERAL":
                value = value[1:-1]
                if "\\" in value:
                    value = _unescape(value)
            elif kind == "EMBEDDED" or kind == "quote":
                append(_special_token(file, kind, value, line, start - line_start + 1, spaced))
                line, line_start = _advance(text, start, end, line, line_start)
                spaced = False
                continue
            token = _new_str(Token, value)  # make_token, inlined: this is the hot loop
            token.type = kind
            token.value = value
            token.line = line
            token.column = start - line_start + 1
            token.file = file
            token.spaced = spaced
            append(token)
            spaced = False
        if skipped_kind:
            line, line_start = _advance(text, pos, stop, line, line_start)
            value = text[stop:resume]
            append(make_token(skipped_kind, value, file, line, stop - line_start + 1, spaced or stop != pos))
            line, line_start = _advance(text, stop, resume, line, line_start)
            pos = resume
            spaced = False
    if not text.isascii():
        _columns_in_bytes(file, tokens)
    return tokens


def _columns_in_bytes(file: SourceFile, tokens: list[Token]) -> None:
    """stap counts columns in bytes: on lines with non-ASCII text, turn character
    columns into UTF-8 byte columns (rare, so kept out of the tokenizer's loop)."""
    for token in tokens:
        prefix = file.line(token.line)[: token.column - 1]
        if not prefix.isascii():
            token.column = len(prefix.encode("utf-8", "surrogateescape")) + 1


def _advance(text: str, start: int, end: int, line: int, line_start: int) -> tuple[int, int]:
    """(line, offset of its first character) after stepping over text[start:end]."""
    newlines = text.count("\n", start, end)
    if newlines:
        return line + newlines, text.rindex("\n", start, end) + 1
    return line, line_start


def _special_token(file: SourceFile, kind: str, value: str, line: int, col: int, spaced: bool) -> Token:
    """Embedded C (without its `%{ %}`), or the JUNK token of an unclosed string."""
    if kind == "quote":
        quote = make_token("JUNK", '"', file, line, col, spaced)
        return junk_token(quote, "Could not find matching closing quote")
    code = value[2:-2] if value.endswith("%}") and len(value) >= 4 else value[2:]
    return make_token("EMBEDDED", code, file, line, col, spaced)


# Identifier-shaped words with a kind of their own: keywords (`PROBE`), `@operators`,
# `$`/`$$` (pretty-printing suffixes); other words take their kind from their sigil.
_WORD_KINDS = {word: word.upper() for word in KEYWORDS} | AT_OPERATORS | {"$": "PRETTY", "$$": "PRETTY"}
_SIGIL_KINDS = {"$": "TARGET", "@": "AT_UNKNOWN"}


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
