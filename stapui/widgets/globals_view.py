"""Live globals from snapshots: a table per array, scalars together, histograms as bars.

Tables are sortable by any column (click its header or press `s` to cycle; again to
reverse) and share one filter (`f`). Widgets for a global are created the first time it
appears in a snapshot and updated in place afterwards.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Input, Static

from engine.run.records import V_STAT, ArrayValue, Snapshot, Stat
from stapui.widgets.histogram import HistogramView

MAX_ROWS = 500


def cell(value) -> str:
    if isinstance(value, Stat):
        return f"count={value.count} avg={value.avg} min={value.min} max={value.max}"
    return str(value)


def array_columns(name: str, array: ArrayValue) -> list[str]:
    keys = [f"[{i + 1}]" for i in range(len(array.key_types))]
    return keys + (["@count", "@avg", "@min", "@max"] if array.value_type == V_STAT else [name])


def array_rows(array: ArrayValue) -> list[tuple]:
    rows = []
    for keys, value in array.rows:
        if isinstance(value, Stat):
            rows.append((*keys, value.count, value.avg, value.min, value.max))
        else:
            rows.append((*keys, value))
    return rows


def sorted_rows(rows: list[tuple], column: int | None, reverse: bool, needle: str) -> list[tuple]:
    if needle:
        rows = [r for r in rows if any(needle in str(v) for v in r)]
    if column is not None:
        rows = sorted(rows, key=lambda r: (isinstance(r[column], str), r[column]), reverse=reverse)
    return rows[:MAX_ROWS]


class ArrayTable(DataTable):
    """One global array; remembers its sort column and direction."""

    BINDINGS = [Binding("s", "cycle_sort", "Sort column")]

    def __init__(self, name: str, **kwargs) -> None:
        super().__init__(zebra_stripes=True, cursor_type="row", **kwargs)
        self.global_name = name
        self.sort_column: int | None = None  # None: the runtime's order
        self.reverse = True
        self.rows_data: list[tuple] = []
        self.needle = ""

    def show(self, array: ArrayValue) -> None:
        if not self.columns:
            self.add_columns(*array_columns(self.global_name, array))
            self.sort_column = len(self.columns) - 1 if array.value_type != V_STAT else len(array.key_types)
        self.rows_data = array_rows(array)
        shown = f"{array.total_rows} rows" + (f", {len(array.rows)} sent" if array.total_rows != len(array.rows) else "")
        self.border_title = f"{self.global_name} · {shown}"
        self.redraw()

    def redraw(self) -> None:
        self.clear()
        self.add_rows([tuple(str(v) for v in row) for row in
                       sorted_rows(self.rows_data, self.sort_column, self.reverse, self.needle)])  # fmt: skip

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        self.sort_by(event.column_index)

    def sort_by(self, column: int) -> None:
        self.reverse = not self.reverse if column == self.sort_column else True
        self.sort_column = column
        self.redraw()

    def action_cycle_sort(self) -> None:
        column = 0 if self.sort_column is None else (self.sort_column + 1) % len(self.columns)
        self.sort_by(column)


class GlobalsView(VerticalScroll):
    """Everything from the latest snapshot; `show(snapshot)` updates in place."""

    BINDINGS = [Binding("f", "filter", "Filter rows")]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.seen: set[str] = set()

    def compose(self) -> ComposeResult:
        box = Input(placeholder="filter rows", id="globals-filter")
        box.display = False
        yield box
        yield Static("no snapshot yet (globals appear while the script runs)", id="globals-empty")
        scalars = DataTable(id="scalars", cursor_type="row")
        scalars.add_columns("global", "value")
        scalars.display = False
        yield scalars
        yield Vertical(id="arrays")
        yield Vertical(id="histograms")

    def reset(self) -> None:
        for name in self.seen:
            self.query_one(f"#g-{name}").remove()
        self.seen.clear()
        self.query_one("#scalars", DataTable).clear()
        self.query_one("#scalars").display = False
        self.query_one("#globals-empty").display = True

    def show(self, snapshot: Snapshot) -> None:
        self.query_one("#globals-empty").display = False
        scalars = []
        for name, value in sorted(snapshot.globals.items()):
            if isinstance(value, ArrayValue):
                self._widget(name, ArrayTable).show(value)
            elif isinstance(value, Stat) and value.hist is not None:
                self._widget(name, HistogramView).show(name, value)
            else:
                scalars.append((name, cell(value)))
        table = self.query_one("#scalars", DataTable)
        table.display = bool(scalars)
        table.clear()
        table.add_rows(scalars)

    def _widget(self, name: str, kind: type):
        if name not in self.seen:
            self.seen.add(name)
            widget = kind(name, id=f"g-{name}") if kind is ArrayTable else kind(id=f"g-{name}")
            self.query_one("#arrays" if kind is ArrayTable else "#histograms").mount(widget)
            return widget
        return self.query_one(f"#g-{name}", kind)

    def action_filter(self) -> None:
        box = self.query_one("#globals-filter", Input)
        box.display = True
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        for table in self.query(ArrayTable):
            table.needle = event.value
            table.redraw()
