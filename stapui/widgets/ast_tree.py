"""The parse tree as a collapsible tree; selecting a node points at its script line."""

from __future__ import annotations

from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from engine.parse.ast import Node
from stapui.messages import SourceLineSelected

# Scalar fields worth showing next to a node's kind, in this order.
_LABEL_FIELDS = ("name", "functor", "op", "value", "kind", "text", "type_name")


def node_label(node: Node) -> str:
    parts = [type(node).__name__]
    for name in _LABEL_FIELDS:
        value = getattr(node, name, None)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and value != "":
            parts.append(repr(value) if isinstance(value, str) else str(value))
            break
    if node.span is not None:
        parts.append(f"@{node.span.line}:{node.span.col}")
    return " ".join(parts)


def has_children(node: Node) -> bool:
    return next(iter(node.children()), None) is not None


class AstTree(Tree[Node]):
    """Children are built when a node is first expanded, so big scripts open instantly."""

    def __init__(self, **kwargs) -> None:
        super().__init__("parse tree", **kwargs)
        self.show_root = False

    def show_file(self, stap_file: Node | None) -> None:
        self.clear()
        if stap_file is None:
            return
        self.root.data = stap_file
        self._add_children(self.root)
        self.root.expand()

    def _add_children(self, parent: TreeNode[Node]) -> None:
        for child in parent.data.children():
            parent.add(node_label(child), data=child, allow_expand=has_children(child))

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[Node]) -> None:
        node = event.node
        if node.data is not None and not node.children:
            self._add_children(node)

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted[Node]) -> None:
        data = event.node.data
        if self.has_focus and data is not None and data.span is not None and not data.span.file.is_tapset:
            self.post_message(SourceLineSelected(data.span.line - 1))
