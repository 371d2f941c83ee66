"""printf-style format strings: which argument types a format consumes.

The parser already rejected malformed conversions; here we only need, per argument,
the type stap expects (`%s` a string, `%d` and friends a long; `*` width/precision a long).
"""

from __future__ import annotations

import re

from engine.parse.ast import Type

_CONVERSION = re.compile(r"%([-+ #0]*)(\*|\d+)?(?:\.(\*|\d+))?(l{0,2}|h{0,2}|z|j|t)?([a-zA-Z%])")


def argument_types(text: str) -> list[Type]:
    """The types of the arguments `text` consumes, in order."""
    types: list[Type] = []
    for match in _CONVERSION.finditer(text):
        _, width, precision, _, conversion = match.groups()
        if conversion == "%":
            continue
        types += [Type.LONG] * ((width == "*") + (precision == "*"))
        types.append(Type.STRING if conversion == "s" else Type.LONG)
    return types


MEMORY_DUMP_MAX = 4096  # stap dumps at most a page with one %m/%M


def user_memory_dumps(text: str) -> list[tuple[int, int]]:
    """(argument index, bytes) of each %#m/%#M whose precision is written (or absent: one
    byte): the user memory it prints, which a capture program can copy at probe time."""
    dumps: list[tuple[int, int]] = []
    at = 0
    for match in _CONVERSION.finditer(text):
        flags, width, precision, _, conversion = match.groups()
        if conversion == "%":
            continue
        at += (width == "*") + (precision == "*")
        size = max(int(precision or 0), 1) if precision != "*" else 0
        if conversion in "mM" and "#" in flags and 0 < size <= MEMORY_DUMP_MAX:
            dumps.append((at, size))
        at += 1
    return dumps


def memory_dump_sizes(text: str) -> list[tuple[int | None, int]]:
    """Each %m/%M's size, in order, as stap checks it against MEMORY_DUMP_MAX before the
    call: (index of the argument a `.*` precision takes, else None; the written size)."""
    sizes: list[tuple[int | None, int]] = []
    at = 0
    for match in _CONVERSION.finditer(text):
        _, width, precision, _, conversion = match.groups()
        if conversion == "%":
            continue
        at += width == "*"
        if conversion in "mM":
            sizes.append((at, 0) if precision == "*" else (None, max(int(precision or 0), 1)))
        at += (precision == "*") + 1
    return sizes
