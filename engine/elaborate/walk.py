"""Bottom-up rewriting of a tree for pass 2 (the optimiser's folding and elision)."""

from __future__ import annotations

from typing import Callable

from engine.parse.ast import Node, child_fields


def transform(node: Node, rewrite: Callable[[Node], Node]) -> Node:
    """Rebuild `node` bottom-up, replacing each node by `rewrite(node)`."""
    for name in child_fields(type(node)):
        value = getattr(node, name)
        if isinstance(value, Node):
            setattr(node, name, transform(value, rewrite))
        elif isinstance(value, list) and any(isinstance(v, Node) for v in value):
            setattr(node, name, [transform(v, rewrite) if isinstance(v, Node) else v for v in value])
    return rewrite(node)
