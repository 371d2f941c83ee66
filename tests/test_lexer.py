"""The SystemTap Pygments lexer: exact tokens on hand-written lines, and the whole tapset
library of the installed SystemTap as a corpus (round trip, no Error tokens)."""

from __future__ import annotations

import pytest
from pygments.token import Comment, Error, Keyword, Name, Number, Operator, Punctuation, String, Whitespace

from stapui.lexer import SystemTapLexer
from tests.support import STAP_TAPSET_DIR, require

LEXER = SystemTapLexer()


def significant(text: str) -> list[tuple[object, str]]:
    """Tokens without whitespace, with adjacent string pieces kept apart."""
    return [(t, v) for t, v in LEXER.get_tokens(text) if t not in Whitespace and v.strip()]


def test_probe_points_are_one_unit_not_member_accesses():
    assert significant('probe kernel.function("vfs_*").return, timer.ms(100)? {') == [
        (Keyword.Declaration, "probe"),
        (Name.Namespace, "kernel"),
        (Punctuation, "."),
        (Name.Namespace, "function"),
        (Punctuation, "("),
        (String.Double, '"'),
        (String.Double, "vfs_*"),
        (String.Double, '"'),
        (Punctuation, ")"),
        (Punctuation, "."),
        (Name.Namespace, "return"),
        (Punctuation, ","),
        (Name.Namespace, "timer"),
        (Punctuation, "."),
        (Name.Namespace, "ms"),
        (Punctuation, "("),
        (Number.Integer, "100"),
        (Punctuation, ")"),
        (Punctuation, "?"),
        (Punctuation, "{"),
    ]


def test_alias_definition_leaves_probe_state_at_the_equals_sign():
    assert significant("probe syscall.x = kernel.trace(\"a:b\") { n = 1 }")[:6] == [
        (Keyword.Declaration, "probe"),
        (Name.Namespace, "syscall"),
        (Punctuation, "."),
        (Name.Namespace, "x"),
        (Operator, "="),
        (Name, "kernel"),
    ]


def test_handler_body_tokens():
    assert significant('printf("%-5d %s\\n", $fd, execname()) a[tid()] <<< $$parms @count(a) x = $1 . @2') == [
        (Name.Builtin, "printf"),
        (Punctuation, "("),
        (String.Double, '"'),
        (String.Interpol, "%-5d"),
        (String.Interpol, "%s"),
        (String.Escape, "\\n"),
        (String.Double, '"'),
        (Punctuation, ","),
        (Name.Variable, "$fd"),
        (Punctuation, ","),
        (Name.Function, "execname"),
        (Punctuation, "("),
        (Punctuation, ")"),
        (Punctuation, ")"),
        (Name, "a"),
        (Punctuation, "["),
        (Name.Function, "tid"),
        (Punctuation, "("),
        (Punctuation, ")"),
        (Punctuation, "]"),
        (Operator, "<<<"),
        (Name.Variable.Magic, "$$parms"),
        (Keyword.Pseudo, "@count"),
        (Punctuation, "("),
        (Name, "a"),
        (Punctuation, ")"),
        (Name, "x"),
        (Operator, "="),
        (Name.Variable.Global, "$1"),
        (Operator, "."),
        (Name.Variable.Global, "@2"),
    ]


def test_function_declaration_embedded_c_and_preprocessor():
    text = 'function f:long (x:long) %{ /* pure */ STAP_RETURN(1); %}\n%( arch == "x86_64" %? a %: b %)'
    tokens = significant(text)
    assert tokens[:5] == [
        (Keyword.Declaration, "function"),
        (Name.Function, "f"),
        (Operator, ":"),
        (Keyword.Type, "long"),
        (Punctuation, "("),
    ]
    assert (Comment.Preproc, "%{") in tokens and (Comment.Preproc, "%}") in tokens
    assert (Comment.Multiline, "/* pure */") in tokens  # the C lexer handles the embedded body
    assert [v for t, v in tokens if t is Comment.Preproc] == ["%{", "%}", "%(", "%?", "%:", "%)"]


def test_comments_and_numbers():
    assert significant("# one\n// two\n/* three\n four */ 0x1F 017 42") == [
        (Comment.Single, "# one"),
        (Comment.Single, "// two"),
        (Comment.Multiline, "/*"),
        (Comment.Multiline, " three\n four "),
        (Comment.Multiline, "*/"),
        (Number.Hex, "0x1F"),
        (Number.Oct, "017"),
        (Number.Integer, "42"),
    ]


def test_unterminated_string_ends_at_the_line():
    tokens = significant('x = "abc\nprobe begin {}')
    assert (Keyword.Declaration, "probe") in tokens
    assert (Name.Namespace, "begin") in tokens


@pytest.mark.parametrize(
    "text",
    ["%{ never closed", "/* never closed", "probe", "@", "$", "\x00\x01\xff\ufffd", "probe a.b(", '"\\'],
)
def test_half_typed_input_round_trips_without_errors(text):
    tokens = list(LEXER.get_tokens_unprocessed(text))
    assert "".join(v for _, _, v in tokens) == text
    assert not [v for _, t, v in tokens if t in Error]


def tapset_files():
    return sorted(STAP_TAPSET_DIR.rglob("*.stp")) + sorted(STAP_TAPSET_DIR.rglob("*.stpm"))


def test_the_whole_systemtap_tapset_library_lexes_cleanly():
    files = tapset_files()
    require(len(files) > 100, f"SystemTap tapsets in {STAP_TAPSET_DIR} (apt-get install systemtap)")
    problems = []
    for path in files:
        text = path.read_text(errors="replace")
        tokens = list(LEXER.get_tokens_unprocessed(text))
        if "".join(v for _, _, v in tokens) != text:
            problems.append(f"{path}: text not preserved")
        errors = [(i, v) for i, t, v in tokens if t in Error]
        if errors:
            problems.append(f"{path}: Error tokens at {errors[:3]}")
        if not any(t is Keyword.Declaration for _, t, _ in tokens) and path.suffix == ".stp":
            problems.append(f"{path}: no declaration keyword found")
    assert problems == []
