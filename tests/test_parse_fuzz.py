"""Pass 1 never crashes or hangs: any input gives an AST or stap-shaped errors.

Property-based: binary garbage, invalid UTF-8, token soup built from the
language's own pieces, pathological nesting, and a 10 MB file must all end in
either a StapFile or a DiagnosticError whose diagnostics format cleanly.
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.diagnostics import DiagnosticError
from engine.parse import ast, parse_text
from engine.parse.printer import print_file

PIECES = [
    "probe", "begin", "end", "global", "function", "private", "if", "else", "for", "foreach", "in",
    "while", "return", "next", "delete", "try", "catch", "limit", "x", "$var", "$$parms", "@cast",
    "@var", "@count", "@hist_log", "@define", "@foo", "$1", "@1", "$#", "%(", "%?", "%:", "%)",
    "%{", "%}", "(", ")", "[", "]", "{", "}", ",", ";", ":", "?", ".", "->", "=", "+=", "<<<", "==",
    "=~", "+", "-", "*", "/", "%", "++", "!", "&", "|", "&&", "1", "0x10", "08", '"s"', '"', "#",
    "//", "/*", "*/", "\n", " ", "\t", "kernel_v", "arch", ">=", '"2.6"', "string", "long",
]


def outcome(text: str, **kwargs) -> str:
    """Parse; return "ok" or the formatted errors. Anything else raises (a bug)."""
    try:
        stapfile = parse_text(text, "<fuzz>", **kwargs)
    except DiagnosticError as error:
        return "".join(d.format() for d in error.diagnostics)
    assert isinstance(stapfile, ast.StapFile)
    print_file(stapfile)
    return "ok"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_binary_garbage(data):
    outcome(data.decode("utf-8", "surrogateescape"))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(PIECES), max_size=60), st.booleans())
def test_token_soup(pieces, guru):
    outcome(" ".join(pieces), guru=guru, args=["a"])


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_unicode_text(text):
    outcome(text)


def test_invalid_utf8_in_string_and_comment():
    text = b'probe begin { x = "\xff\xfe" # \xc3\x28\n }'.decode("utf-8", "surrogateescape")
    assert outcome(text) == "ok"


def test_deep_parentheses_are_an_error_not_a_recursion():
    text = "probe begin { x = " + "(" * 100000 + "1" + ")" * 100000 + " }"
    assert "too many nested parentheses, brackets or braces" in outcome(text)


def test_long_operator_chains_are_an_error_not_a_recursion():
    text = "probe begin { x = 1" + " + 1" * 100000 + " }"
    assert "nested more than 200 deep" in outcome(text)


def test_deep_blocks_and_unary_operators():
    assert "too many nested" in outcome("probe begin " + "{" * 50000 + "}" * 50000)
    assert "nested more than 200 deep" in outcome("probe begin { x = " + "!" * 50000 + "1 }")


def test_recursive_macro_is_an_error():
    text = "@define a %( @a %)\nprobe begin { x = @a }"
    assert "recursive macro expansion of '@a' too deep" in outcome(text)


def test_ten_megabytes_of_garbage():
    rng = random.Random(1)
    data = bytes(rng.getrandbits(8) for _ in range(1 << 16)) * 160  # 10 MiB
    result = outcome(data.decode("utf-8", "surrogateescape"))
    assert result.endswith(" parse errors.\n")


def test_ten_megabytes_of_script():
    body = "probe timer.ms(100) { x = 1 + 2; printf(\"%d\\n\", x) }\n"
    text = body * (10 * 1024 * 1024 // len(body) // 8) + "# " + "c" * (9 * 1024 * 1024) + "\n"
    assert len(text) > 10_000_000
    assert outcome(text) == "ok"
