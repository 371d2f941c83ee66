"""Which stacks a kernel probe's handler needs captured at probe time.

Handlers run in the runtime after the event, so the stacks of the probed task are
copied into the record by the capture program (bpf_get_stack) when, and only when,
the handler (or a function it calls, followed through pass 2's referents) calls a
backtrace function. Stack slots go last in the record, kernel before user: the
runtime finds them from the record's end (runtime_c/stack_record.c). The user stack
comes with its modules, just before the stacks: the same walk with each frame's file
by build-id and file offset, so the runtime can name the frames of a process that has
exited before the handler ran (its /proc/PID/maps is gone by then).
"""

from __future__ import annotations

from engine.parse import ast
from engine.translate.bpf import plan as P

KERNEL_STACK_FUNCTIONS = frozenset({"backtrace", "print_backtrace", "sprint_backtrace", "stack", "callers"})
USER_STACK_FUNCTIONS = frozenset(
    {"ubacktrace", "print_ubacktrace", "print_ubacktrace_brief", "sprint_ubacktrace", "ucallers", "uaddr"}
)


def stack_captures(body: ast.Node | None) -> list[P.Capture]:
    """The stack captures `body` needs, in record order: the user stack's modules, the
    kernel stack, the user stack."""
    called = _called_functions(body) if body is not None else set()
    user = bool(called & USER_STACK_FUNCTIONS)
    captures = [P.Capture("user modules", P.USER_MODULES, 0, 0)] if user else []
    if called & KERNEL_STACK_FUNCTIONS:
        captures.append(P.Capture("kernel stack", P.KERNEL_STACK, 0, 0))
    if user:
        captures.append(P.Capture("user stack", P.USER_STACK, 0, 0))
    return captures


def _called_functions(body: ast.Node) -> set[str]:
    """Names of every function called from `body`, directly or through script functions."""
    names: set[str] = set()
    pending, visited = [body], set()
    while pending:
        node = pending.pop()
        for call in ast.walk(node):
            if not isinstance(call, ast.FunctionCall):
                continue
            names.add(call.name)
            referent = call.referent
            if referent is not None and id(referent) not in visited and isinstance(referent.body, ast.Block):
                visited.add(id(referent))
                pending.append(referent.body)
    return names
