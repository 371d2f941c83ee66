"""The bundled tapset library: *.stp and *.stpm files in the SystemTap language.

Functions keep SystemTap's names, signatures and behaviour; values the runtime must
supply come from embedded C (`%{ ... %}`) written to the ABI in runtime_c/runtime.h,
with larger helpers in runtime_c/tapset_*.c (declared in runtime_c/tapset_support.h).

Functions this runtime cannot provide (kernel memory, kernel stacks, registers) are
still declared, so that a script using one is rejected by name with the reason rather
than as an unknown function. Their whole body is a marker comment:

    function kernel_string:string (addr:long)
    %{ /* unsupported: kernel memory cannot be read from user space */ %}

Pass 2 checks every function a script calls with `unsupported_reason` and reports
`unsupported_message(...)` as a semantic error at the call. A marked function must
never reach pass 3: its body is not C.
"""

from __future__ import annotations

import re
from typing import Any

_MARKER = re.compile(r"/\*\s*unsupported:\s*(.*?)\s*\*/", re.DOTALL)


def unsupported_reason(function: Any) -> str | None:
    """The reason a tapset function cannot run here, or None if it can.

    `function` is an `engine.parse.ast.FunctionDecl`; only an embedded-C body
    (`EmbeddedCode`, which has `code`) can carry the marker.
    """
    code = getattr(function.body, "code", None)
    if not isinstance(code, str):
        return None
    match = _MARKER.search(code)
    return " ".join(match.group(1).split()) if match else None


def unsupported_message(name: str, reason: str) -> str:
    """The semantic-error text for a call to an unsupported tapset function."""
    return f"function '{name}' is not supported by this runtime: {reason}"
