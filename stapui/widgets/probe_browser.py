"""The probe browser: families, their probe-point shapes, and what this machine offers.

A lazily loaded tree: families come from the engine's provider registry; a shape with a
string argument (`kernel.trace(string)`, `syscall.*`) is listed through the engine only
when opened, in a worker. Typing in the filter narrows the loaded leaves. Enter on a leaf
asks for a ready-to-run probe skeleton to be inserted in the editor.
"""

from __future__ import annotations

import re
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Tree
from textual.widgets.tree import TreeNode

from stapui.catalogue import Catalogue, Family, Listing, pattern_skeleton
from stapui.messages import InsertProbe

_DEFAULT_NUMBERS = {"s": 1, "sec": 1, "ms": 100, "msec": 100, "us": 1000, "usec": 1000, "ns": 100000,
                    "nsec": 100000, "hz": 10, "jiffies": 25, "randomize": 10}  # fmt: skip
BINARY_SHAPES = ('function("*")', 'mark("*")', "begin", "end")
_GROUP_OVER = 40  # listings longer than this are grouped (tracepoints by subsystem)


def concrete_point(pattern: str) -> str:
    """A shape without string arguments made runnable: `timer.ms(number)` -> `timer.ms(100)`."""
    return re.sub(r"(\w+)\(number\)", lambda m: f"{m.group(1)}({_DEFAULT_NUMBERS.get(m.group(1), 1)})", pattern)


def skeleton(point: str, variables: list) -> str:
    """The probe inserted for `point`: prints its probe point, lists its context variables."""
    lines = [f"probe {point} {{"]
    if variables:
        lines.append("    # " + " ".join(str(v) for v in variables))
    lines.append('    printf("%s\\n", pp())')
    lines.append("}")
    return "\n".join(lines) + "\n"


def listable(pattern: str) -> bool:
    """Shapes whose concrete probes come from the machine (listed when opened)."""
    return "(string)" in pattern or "*" in pattern


def group_key(point: str) -> str:
    match = re.search(r'"(\w+):', point)
    return match.group(1) if match else point.split(".")[0]


class ProbeBrowser(Vertical):
    """Filter input over a tree of probe families."""

    def __init__(self, catalogue: Catalogue, **kwargs) -> None:
        super().__init__(**kwargs)
        self.catalogue = catalogue
        self.families: list[Family] = []
        self.listings: dict[str, Listing] = {}
        self.filter_text = ""

    def compose(self) -> ComposeResult:
        yield Input(placeholder="filter probes (type to narrow)", id="probe-filter")
        tree: Tree = Tree("probes", id="probe-tree")
        tree.show_root = False
        yield tree

    @property
    def tree(self) -> Tree:
        return self.query_one("#probe-tree", Tree)

    def on_mount(self) -> None:
        self.tree.root.add_leaf("loading probe families…")
        self._load_families()

    @work(thread=True, group="catalogue")
    def _load_families(self) -> None:
        try:
            families = self.catalogue.families()
        except Exception as error:
            families = [Family("(catalogue failed)", "", [], f"{type(error).__name__}: {error}")]
        self.app.call_from_thread(self._set_families, families)

    def _set_families(self, families: list[Family]) -> None:
        self.families = families
        self.rebuild()

    # -- tree building ---------------------------------------------------------

    def rebuild(self) -> None:
        tree = self.tree
        tree.clear()
        if self.filter_text.startswith("/") and Path(self.filter_text).is_file():
            self._add_binary(self.filter_text)
        for family in self.families:
            label = Text(family.name, "bold")
            label.append(f"  {family.description}", "dim")
            if family.unavailable:
                label.append(f"  (unavailable: {family.unavailable})", "red")
            node = tree.root.add(label, data=("family", family))
            for pattern in family.patterns:
                self._add_pattern(node, pattern)
            if self.filter_text and any(n.children or self._matches(n.data[1]) for n in node.children):
                node.expand()

    def _add_binary(self, path: str) -> None:
        """A path typed in the filter: that binary's functions, SDT markers and process probes."""
        node = self.tree.root.add(Text(f'process("{path}")', "bold"), data=("binary", path))
        for shape in BINARY_SHAPES:
            self._add_pattern(node, f'process("{path}").{shape}')
        node.expand()

    def _add_pattern(self, parent: TreeNode, pattern: str) -> None:
        if not listable(pattern):
            if self._matches(pattern):
                point = concrete_point(pattern)
                parent.add_leaf(point, data=("leaf", point, []))
            return
        node = parent.add(pattern, data=("pattern", pattern))
        listing = self.listings.get(pattern)
        if listing is not None:
            self._fill(node, listing)
            if self.filter_text and node.children:
                node.expand()

    def _matches(self, text: str) -> bool:
        return self.filter_text.lower() in text.lower()

    def _fill(self, node: TreeNode, listing: Listing) -> None:
        node.remove_children()
        if listing.error:
            node.add_leaf(Text(listing.error, "red"), data=("error", listing.error))
            return
        probes = [p for p in listing.probes if self._matches(p.point)]
        if len(probes) <= _GROUP_OVER:
            for probe in probes:
                self._add_probe(node, probe)
            return
        groups: dict[str, list] = {}
        for probe in probes:
            groups.setdefault(group_key(probe.point), []).append(probe)
        for key, members in sorted(groups.items()):
            group = node.add(f"{key} ({len(members)})", data=("group", key))
            for probe in members:
                self._add_probe(group, probe)

    def _add_probe(self, parent: TreeNode, probe) -> None:
        label = Text(probe.point)
        if probe.variables:
            label.append("  " + " ".join(str(v) for v in probe.variables), "dim")
        parent.add_leaf(label, data=("leaf", probe.point, list(probe.variables)))

    # -- events --------------------------------------------------------------------

    def on_tree_node_expanded(self, event: Tree.NodeExpanded) -> None:
        data = event.node.data
        if data and data[0] == "pattern" and data[1] not in self.listings:
            event.node.add_leaf("listing…")
            self._load_listing(event.node, data[1])

    @work(thread=True, group="catalogue")
    def _load_listing(self, node: TreeNode, pattern: str) -> None:
        listing = self.catalogue.list_probes(pattern_skeleton(pattern))
        self.app.call_from_thread(self._set_listing, node, pattern, listing)

    def _set_listing(self, node: TreeNode, pattern: str, listing: Listing) -> None:
        self.listings[pattern] = listing
        self._fill(node, listing)

    def on_tree_node_selected(self, event: Tree.NodeSelected) -> None:
        data = event.node.data
        if data and data[0] == "leaf":
            event.stop()
            self.post_message(InsertProbe(skeleton(data[1], data[2])))

    def on_input_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self.rebuild()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.tree.focus()
