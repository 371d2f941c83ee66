"""Deep copies of AST subtrees that share spans, source files and literals' text.

Alias expansion gives every derived probe its own copy of the alias body and the
user's handler, because symbol resolution annotates nodes (Symbol.referent) per probe.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import TypeVar

from engine.parse.ast import Node

N = TypeVar("N", bound=Node)

_ANNOTATIONS = frozenset({"referent", "derived", "locals", "alias_chain"})


def clone(node: N) -> N:
    """A fresh copy of `node` and every node below it; annotations are not copied."""
    changes = {}
    for f in fields(node):
        if f.name in _ANNOTATIONS or f.name == "span":
            continue
        value = getattr(node, f.name)
        if isinstance(value, Node):
            changes[f.name] = clone(value)
        elif isinstance(value, list) and any(isinstance(v, Node) for v in value):
            changes[f.name] = [clone(v) if isinstance(v, Node) else v for v in value]
    copy = replace(node, **changes)
    for name in _ANNOTATIONS & {f.name for f in fields(node)}:
        default = getattr(type(node), name, None)
        setattr(copy, name, [] if isinstance(getattr(node, name), list) else default)
    return copy
