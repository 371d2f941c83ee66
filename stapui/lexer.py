"""A Pygments lexer for the SystemTap script language.

Written for stapui from the language reference (langref, `man stap`): comments in three
styles, `%{ %}` embedded C (lexed as C), the `%( %? %: %)` conditional preprocessor,
`@` operators and macros, `$target` variables, and probe points after `probe`, which are
lexed in their own state so `kernel.function("x").return` reads as one probe point rather
than as member accesses. The lexer never emits an Error token: any character it does not
know becomes plain Text, because the editor lexes half-typed scripts on every keystroke.
"""

from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups, include, using, words
from pygments.lexers.c_cpp import CLexer
from pygments.token import (
    Comment,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Text,
    Whitespace,
)

__all__ = ["SystemTapLexer", "KEYWORDS", "BUILTINS"]

KEYWORDS = (
    "probe", "global", "function", "private", "if", "else", "for", "foreach", "in",
    "limit", "while", "break", "continue", "next", "return", "delete", "try", "catch",
)  # fmt: skip

TYPES = ("long", "string")

# The print family and the other functions the translator itself implements.
BUILTINS = (
    "print", "println", "printd", "printdln", "printf", "sprint", "sprintln", "sprintd",
    "sprintdln", "sprintf",
)  # fmt: skip

AT_OPERATORS = (
    "cast", "var", "defined", "entry", "perf", "probewrite", "const", "kregister",
    "uregister", "count", "sum", "min", "max", "avg", "variance", "hist_linear",
    "hist_log", "define", "choose_defined",
)  # fmt: skip

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


class SystemTapLexer(RegexLexer):
    """SystemTap scripts (`.stp`) and macro libraries (`.stpm`)."""

    name = "SystemTap"
    aliases = ["systemtap", "stap"]
    filenames = ["*.stp", "*.stpm"]
    mimetypes = ["text/x-systemtap"]

    tokens = {
        "whitespace": [
            (r"\s+", Whitespace),
            (r"(#|//).*?$", Comment.Single),
            (r"/\*", Comment.Multiline, "block-comment"),
        ],
        "block-comment": [
            (r"[^*]+", Comment.Multiline),
            (r"\*/", Comment.Multiline, "#pop"),
            (r"\*", Comment.Multiline),
        ],
        "embedded": [
            (r"(?s)(%\{)(.*?)(%\})", bygroups(Comment.Preproc, using(CLexer), Comment.Preproc)),
            (r"%\{", Comment.Preproc, "embedded-unterminated"),
        ],
        "embedded-unterminated": [
            (r"(?s).+", using(CLexer)),
        ],
        "preprocessor": [
            (r"%[(?:)]", Comment.Preproc),
        ],
        "string": [
            (r'"', String.Double, "string-body"),
        ],
        "string-body": [
            (r'\\(.|\n)?', String.Escape),
            (r'%[-+ #0]*(\*|\d+)?(\.(\*|\d+))?[a-zA-Z%]', String.Interpol),
            (r'[^"\\%\n]+', String.Double),
            (r'%', String.Double),
            (r'"', String.Double, "#pop"),
            (r'\n', String.Double, "#pop"),  # unterminated: do not swallow the script
        ],
        "number": [
            (r"0[xX][0-9a-fA-F]+", Number.Hex),
            (r"0[0-7]+", Number.Oct),
            (r"\d+", Number.Integer),
        ],
        "root": [
            include("whitespace"),
            include("embedded"),
            include("preprocessor"),
            (r"\b(probe)\b", Keyword.Declaration, "probe-points"),
            (r"\b(function)(\s+)(" + _IDENT + ")", bygroups(Keyword.Declaration, Whitespace, Name.Function)),
            (r"\b(global)\b", Keyword.Declaration),
            (words(KEYWORDS, suffix=r"\b"), Keyword),
            (words(TYPES, suffix=r"\b"), Keyword.Type),
            (words(BUILTINS, suffix=r"\b(?=\s*\()"), Name.Builtin),
            include("expression"),
        ],
        "expression": [
            include("string"),
            include("number"),
            (r"\$\$(vars|locals|parms|return)(\$\$?)?", Name.Variable.Magic),
            (r"\$\d+", Name.Variable.Global),
            (r"@\d+", Name.Variable.Global),
            (r"\$" + _IDENT + r"(\$\$?)?", Name.Variable),
            (r"@(" + "|".join(AT_OPERATORS) + r")\b", Keyword.Pseudo),
            (r"@" + _IDENT, Name.Decorator),
            (_IDENT + r"(?=\s*\()", Name.Function),
            (_IDENT, Name),
            (r"<<<|>>>=?|<<=?|>>=?|\+\+|--|&&|\|\||[-+*/%&|^.!=<>]=?|=~|!~|[~?:]", Operator),
            (r"[{}\[\](),;]", Punctuation),
            (r".", Text),
        ],
        "probe-points": [
            include("whitespace"),
            include("string"),
            include("number"),
            (_IDENT + r"|\*", Name.Namespace),
            (r"\+?=", Operator, "#pop"),
            (r"\{", Punctuation, "#pop"),
            (r"\bif\b", Keyword, "#pop"),
            (r"[.,()?!]", Punctuation),
            (r".", Text, "#pop"),
        ],
    }
