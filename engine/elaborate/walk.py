"""Bottom-up rewriting of a tree for pass 2 (the optimiser's folding and elision)."""

from __future__ import annotations

from typing import Callable

from engine.parse.ast import Node, child_fields


def transform(node: Node, rewrite: Callable[[Node], Node], skip: type | tuple = ()) -> Node:
    """Rebuild `node` bottom-up, replacing each node by `rewrite(node)`; subtrees whose
    root is a `skip` instance are left as they are (a statement-level rewrite need not
    enter every expression)."""
    for name in child_fields(type(node)):
        value = getattr(node, name)
        if isinstance(value, Node):
            if not isinstance(value, skip):
                setattr(node, name, transform(value, rewrite, skip))
        elif isinstance(value, list) and any(isinstance(v, Node) for v in value):
            setattr(node, name, [transform(v, rewrite, skip) if isinstance(v, Node) and not isinstance(v, skip) else v
                                 for v in value])
    return rewrite(node)
