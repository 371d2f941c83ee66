"""Per-probe hit counts and rates, with a sparkline of recent rates."""

from __future__ import annotations

from textual.widgets import DataTable

from stapui.run_model import ProbeActivity

_BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values) -> str:
    values = list(values)
    if not values:
        return ""
    peak = max(values) or 1
    return "".join(_BLOCKS[min(int(v * (len(_BLOCKS) - 1) / peak), len(_BLOCKS) - 1)] for v in values)


class ProbeStatsTable(DataTable):
    def on_mount(self) -> None:
        self.add_columns("probe", "hits", "rate/s", "avg ns", "recent")
        self.cursor_type = "row"

    def show(self, probes: list[ProbeActivity]) -> None:
        self.clear()
        for activity in sorted(probes, key=lambda a: -a.hits):
            self.add_row(activity.point, str(activity.hits), f"{activity.rate:.0f}", str(activity.avg_ns),
                         sparkline(activity.rates))
