"""stap's parse-error messages, derived from what the LALR parser expected.

stap's parser is recursive descent: the message names what the function that
failed wanted ("expected ')'", "expected statement", "expected literal string or
number"). The LALR state's expected terminals say the same thing once the
terminals that would merely continue the phrase already read (binary operators,
`[`, `->`, ...) are set aside; what is left names the construct stap was in.
"""

from __future__ import annotations

from engine.parse.lexer import KEYWORDS, Token

KEYWORD_TERMINALS = frozenset(k.upper() for k in KEYWORDS)

# Terminals that extend an expression already complete: stap's parser returns from
# the expression and complains about what the enclosing construct wanted instead.
CONTINUATIONS = frozenset(
    """EQUAL PLUSEQ MINUSEQ STAREQ SLASHEQ PERCENTEQ SHLEQ SHREQ AMPEQ BAREQ CARETEQ DOTEQ AGGREGATE
    QMARK OROR ANDAND BAR CARET AMP IN LT LE GT GE EQEQ NE MATCH NOMATCH SHL SHR SHRU DOT PLUS MINUS
    STAR SLASH PERCENT INCR DECR ARROW LSQB PRETTY STRING_LITERAL""".split()
)

# Terminals that can start an expression.
EXPRESSION_STARTS = frozenset(
    """LPAR NUMBER STRING_LITERAL IDENT TARGET AMP STAT_OP AT_HIST_LINEAR AT_HIST_LOG AT_CAST AT_VAR
    AT_DEFINED AT_ENTRY AT_PERF AT_PROBEWRITE AT_REGISTER EMBEDDED BANG TILDE PLUS MINUS INCR DECR
    LSQB""".split()
)

STATEMENT_STARTS = frozenset({"LBRACE", "SEMICOLON", "TRY", "IF", "WHILE", "FOR", "FOREACH", "RETURN", "DELETE"})
TOPLEVEL = frozenset({"PROBE", "GLOBAL", "PRIVATE", "FUNCTION"})

SPELLING = {
    "SEMICOLON": ";", "EQUAL": "=", "PLUSEQ": "+=", "COMMA": ",", "QMARK": "?", "BANG": "!",
    "LPAR": "(", "RPAR": ")", "DOT": ".", "STAR": "*", "PERCENT": "%", "MINUS": "-", "LSQB": "[",
    "RSQB": "]", "COLON": ":", "LBRACE": "{", "RBRACE": "}", "PLUS": "+", "ARROW": "->",
}


def unexpected_token_message(expected: set[str], token: Token | None, previous: Token | None) -> str:
    """The message stap prints for an unexpected `token` given the expected terminals."""
    if token is not None and token.type == "AT_UNKNOWN":
        return f"unknown operator {token.value}"
    if token is not None and token.type == "OP" and token.value == "@":
        return "unknown operator @"
    if {"IDENT", "NEXT", "RETURN"} <= expected and not expected & {"LPAR", "STAR"}:
        return "expected identifier or keyword"
    if expected == {"RPAR", "COMMA", "STRING_LITERAL"}:  # after @cast's or @var's strings
        return "expected ')'"
    if expected == {"RPAR", "COMMA"}:  # after a call's last argument
        return "expected one of ') ,'"
    special = _SPECIAL_SETS.get(frozenset(expected))
    if special is not None:
        return special
    if {"IDENT", "STAR", "LBRACE"} <= expected and "LPAR" not in expected:
        return "expected identifier or '*' or '{'"
    if {"QMARK", "BANG", "COMMA", "LBRACE"} <= expected and "SEMICOLON" not in expected:
        return "expected one of ', { } = +='" if token is None else "expected probe point specifier"
    if TOPLEVEL <= expected:
        return "expected 'probe', 'global', 'private', 'function', or '%{'"
    wanted = expected - CONTINUATIONS
    if "NEXT" in wanted and "LBRACE" in wanted or STATEMENT_STARTS <= expected:
        return _statement_message(token)
    if token is None and not wanted & (EXPRESSION_STARTS - {"IDENT", "LPAR"}):
        return "unexpected end-of-file"
    if "IN" in expected and not expected & {"EQEQ", "LT", "ANDAND"}:
        return "expected 'in'"
    if expected == {"STRING_LITERAL"}:
        regex = previous is not None and previous.type in ("MATCH", "NOMATCH")
        return "expected literal string" if regex else "expected string"
    if expected == {"NUMBER"}:
        return "expected number"
    if {"STRING", "LONG"} <= wanted:
        return "expected 'string' or 'long'"
    if "IDENT" in wanted and len(wanted) <= 2:
        return "expected identifier"
    if len(wanted) == 1:
        return f"expected '{_spelling(next(iter(wanted)))}'"
    if wanted & EXPRESSION_STARTS:
        return "expected value" if token is None else "expected literal string or number"
    if token is None:
        return "unexpected end-of-file"
    if wanted == {"RSQB", "COMMA"}:
        return "expected one of '] ,'"
    names = sorted(_spelling(name) for name in wanted)
    return "expected one of '" + " ".join(names) + "'"


# Places where stap's wording is its own, keyed by the exact expected set.
_SPECIAL_SETS = {
    frozenset({"RPAR", "COMMA", "COLON"}): "expected ',' or ')'",
    frozenset({"LPAR", "LBRACE"}): "expected '{'",
    frozenset({"IDENT", "AT_HIST_LINEAR", "AT_HIST_LOG"}): "expected identifier or statistical operation",
    frozenset({"GLOBAL", "FUNCTION", "IDENT"}): "expected 'function' or identifier",
}


def _statement_message(token: Token | None) -> str:
    """stap parses anything that is not a keyword as an expression statement."""
    if token is None or token.type in KEYWORD_TERMINALS or token.type == "JUNK":
        return "expected statement"
    return "expected literal string or number"


def _spelling(name: str) -> str:
    return SPELLING.get(name, name.lower())
