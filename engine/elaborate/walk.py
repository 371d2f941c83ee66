"""Fast tree walking for pass 2: child field names are computed once per node class.

`dataclasses.fields()` on every visit dominated elaboration time for alias-heavy
scripts (hundreds of derived handlers); these helpers keep the same order and the
same notion of "child" as `ast.Node.children`.
"""

from __future__ import annotations

from dataclasses import fields
from functools import lru_cache
from typing import Callable, Iterator

from engine.parse.ast import Node

_ANNOTATIONS = frozenset({"span", "referent", "derived", "locals", "alias_chain"})


@lru_cache(maxsize=None)
def child_fields(cls: type) -> tuple[str, ...]:
    """Names of the fields of `cls` that may hold child nodes (or lists of them)."""
    return tuple(f.name for f in fields(cls) if f.name not in _ANNOTATIONS)


def children(node: Node) -> Iterator[Node]:
    for name in child_fields(type(node)):
        value = getattr(node, name)
        if isinstance(value, Node):
            yield value
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, Node):
                    yield item


def walk(node: Node) -> Iterator[Node]:
    """`node` and all its descendants, depth first in source order."""
    pending = [iter((node,))]
    while pending:
        current = next(pending[-1], None)
        if current is None:
            pending.pop()
            continue
        yield current
        pending.append(children(current))


def transform(node: Node, rewrite: Callable[[Node], Node]) -> Node:
    """Rebuild `node` bottom-up, replacing each node by `rewrite(node)`."""
    for name in child_fields(type(node)):
        value = getattr(node, name)
        if isinstance(value, Node):
            setattr(node, name, transform(value, rewrite))
        elif isinstance(value, list) and any(isinstance(v, Node) for v in value):
            setattr(node, name, [transform(v, rewrite) if isinstance(v, Node) else v for v in value])
    return rewrite(node)
