"""stap string literals to C string literals.

The parser keeps a literal's raw text (escapes not interpreted); stap's lexer accepts
the C escapes, octal `\\ooo` and hex `\\xHH`. The translator decodes them once here and
re-encodes the bytes as a portable C literal.
"""

from __future__ import annotations

_SIMPLE = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34, "'": 39, "?": 63}


def decode(raw: str) -> bytes:
    """The bytes a stap string literal denotes."""
    out = bytearray()
    data = raw.encode("utf-8", "surrogateescape")
    i = 0
    while i < len(data):
        ch = data[i]
        i += 1
        if ch != 0x5C or i >= len(data):
            out.append(ch)
            continue
        esc = chr(data[i])
        i += 1
        if esc in _SIMPLE:
            out.append(_SIMPLE[esc])
        elif esc in "01234567":
            j = i
            while j < len(data) and j < i + 2 and chr(data[j]) in "01234567":
                j += 1
            out.append(int(esc + data[i:j].decode(), 8) & 0xFF)
            i = j
        elif esc == "x":
            j = i
            while j < len(data) and j < i + 2 and chr(data[j]) in "0123456789abcdefABCDEF":
                j += 1
            out.append(int(data[i:j].decode() or "0", 16) & 0xFF)
            i = j
        else:
            out.extend(b"\\" + esc.encode())
    return bytes(out)


def c_literal(value: bytes | str) -> str:
    """A C string literal for `value` (printable ASCII kept, the rest as octal escapes)."""
    if isinstance(value, str):
        value = value.encode("utf-8", "surrogateescape")
    parts = ['"']
    for byte in value:
        if byte in (0x22, 0x5C):
            parts.append("\\" + chr(byte))
        elif byte == 0x3F:
            parts.append("\\?")  # no trigraphs
        elif 0x20 <= byte < 0x7F:
            parts.append(chr(byte))
        elif byte == 10:
            parts.append("\\n")
        elif byte == 9:
            parts.append("\\t")
        else:
            parts.append(f"\\{byte:03o}")
    parts.append('"')
    return "".join(parts)


def c_comment(text: str) -> str:
    """`text` made safe inside a C block comment."""
    return text.replace("*/", "* /")
