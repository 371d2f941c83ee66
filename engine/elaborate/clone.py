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
    duplicate = object.__new__(type(node))  # copy.copy's protocol costs 5x this
    duplicate.__dict__.update(node.__dict__)
    for name in child_fields(type(node)):
        value = getattr(node, name)
        if isinstance(value, Node):
            setattr(duplicate, name, clone(value))
        elif isinstance(value, list):
            setattr(duplicate, name, [clone(v) if isinstance(v, Node) else v for v in value])
    if hasattr(duplicate, "referent"):
        duplicate.referent = None
    for name in ("derived", "locals", "alias_chain"):
        if hasattr(duplicate, name):
            setattr(duplicate, name, [])
    return duplicate
