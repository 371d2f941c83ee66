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
