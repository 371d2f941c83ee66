"""Deep copies of AST subtrees that share spans, source files and literals' text.

Alias expansion gives every derived probe its own copy of the alias body and the
user's handler, because symbol resolution annotates nodes (Symbol.referent) per probe.
"""

from __future__ import annotations

from typing import TypeVar

from engine.parse.ast import Node, child_fields

N = TypeVar("N", bound=Node)


def clone(node: N) -> N:
    """A fresh copy of `node` and every node below it, without elaboration annotations."""
    state = dict(node.__dict__)  # a dict copy: copy.copy's protocol costs 5x this
    for name in child_fields(type(node)):
        value = state[name]
        if isinstance(value, Node):
            state[name] = clone(value)
        elif isinstance(value, list):
            state[name] = [clone(v) if isinstance(v, Node) else v for v in value]
    if "referent" in state:
        state["referent"] = None
    for name in ("derived", "locals", "alias_chain"):
        if name in state:
            state[name] = []
    duplicate = object.__new__(type(node))
    duplicate.__dict__ = state
    return duplicate
