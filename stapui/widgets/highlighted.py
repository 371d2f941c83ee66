"""A TextArea highlighted by a Pygments lexer instead of tree-sitter.

Textual's TextArea highlights through tree-sitter grammars, which SystemTap does not
have; it keeps a per-line map of (start byte, end byte, highlight name) that a theme
turns into styles. This widget fills that same map from Pygments tokens, so the editor
(SystemTap) and the artifact views (SystemTap text, C) share one mechanism.
"""

from __future__ import annotations

from pygments.lexer import Lexer
from pygments.token import Comment, Keyword, Name, Number, Operator, String, Token, _TokenType
from rich.style import Style
from textual.widgets import TextArea
from textual.widgets.text_area import TextAreaTheme

# Pygments token families, most specific first, to the theme's highlight names.
_HIGHLIGHT_NAMES: list[tuple[_TokenType, str]] = [
    (Comment.Preproc, "preprocessor"),
    (Comment, "comment"),
    (String.Escape, "string.escape"),
    (String.Interpol, "string.escape"),
    (String, "string"),
    (Number, "number"),
    (Keyword.Type, "type.builtin"),
    (Keyword.Pseudo, "at-operator"),
    (Keyword, "keyword"),
    (Name.Function, "function"),
    (Name.Builtin, "function.builtin"),
    (Name.Namespace, "probe-point"),
    (Name.Variable, "target"),
    (Name.Decorator, "macro"),
    (Operator, "operator"),
]


def highlight_name(token: _TokenType) -> str | None:
    for family, name in _HIGHLIGHT_NAMES:
        if token in family:
            return name
    return None


THEME = TextAreaTheme(
    name="stapui",
    base_style=Style(color="#e6e6e6", bgcolor="#1e1f24"),
    gutter_style=Style(color="#6c7080", bgcolor="#1e1f24"),
    cursor_style=Style(color="#1e1f24", bgcolor="#e6e6e6"),
    cursor_line_style=Style(bgcolor="#2c2e36"),
    cursor_line_gutter_style=Style(color="#c0c4d0", bgcolor="#2c2e36"),
    bracket_matching_style=Style(bgcolor="#4a4f5e", bold=True),
    selection_style=Style(bgcolor="#3d4a6b"),
    syntax_styles={
        "comment": Style(color="#7f8496", italic=True),
        "preprocessor": Style(color="#d7a65f"),
        "string": Style(color="#a5d67a"),
        "string.escape": Style(color="#6fd3c4"),
        "number": Style(color="#c49bf0"),
        "type.builtin": Style(color="#67b7f0"),
        "at-operator": Style(color="#f0a35e"),
        "keyword": Style(color="#f07178", bold=True),
        "function": Style(color="#82aaff"),
        "function.builtin": Style(color="#89ddff"),
        "probe-point": Style(color="#ffcb6b"),
        "target": Style(color="#f78c6c"),
        "macro": Style(color="#f0a35e"),
        "operator": Style(color="#b0b6c8"),
    },
)


class HighlightedTextArea(TextArea):
    """TextArea whose highlight map comes from `lexer` (any Pygments lexer)."""

    def __init__(self, text: str = "", *, lexer: Lexer | None = None, **kwargs) -> None:
        self._lexer = _keep_newlines(lexer)
        super().__init__(text, **kwargs)
        self.register_theme(THEME)
        self.theme = "stapui"

    def set_lexer(self, lexer: Lexer | None) -> None:
        self._lexer = _keep_newlines(lexer)
        self._build_highlight_map()
        self.refresh()

    def _build_highlight_map(self) -> None:
        """Re-lex the document and rebuild the per-line byte-range map (called on every edit)."""
        self._line_cache.clear()
        highlights = self._highlights
        highlights.clear()
        lexer = getattr(self, "_lexer", None)
        if lexer is None:
            return
        row, byte = 0, 0
        for token, value in lexer.get_tokens(self.document.text):
            name = highlight_name(token) if token is not Token.Text else None
            for index, piece in enumerate(value.split("\n")):
                if index:
                    row, byte = row + 1, 0
                width = len(piece.encode("utf-8"))
                if name and width:
                    highlights[row].append((byte, byte + width, name))
                byte += width


def _keep_newlines(lexer: Lexer | None) -> Lexer | None:
    """Pygments strips leading blank lines by default, which would shift every row."""
    if lexer is not None:
        lexer.stripnl = False
        lexer.stripall = False
    return lexer
