"""A statistic's histogram drawn as bars, in stap's value/count layout."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from engine.run.records import HIST_LINEAR, Stat


def bucket_label(hist, index: int) -> str:
    if hist.kind == HIST_LINEAR and index == 0:
        return f"<{hist.start}"
    if hist.kind == HIST_LINEAR and index == len(hist.buckets) - 1:
        return f">{hist.stop}"
    return str(hist.bucket_low(index))


def render_histogram(name: str, stat: Stat, width: int = 40) -> Text:
    """`name` then stap's table: value |bars count, trimmed to the buckets in use (+1 each side)."""
    text = Text()
    text.append(f"{name}", "bold")
    text.append(f"  count={stat.count} sum={stat.sum} min={stat.min} max={stat.max} avg={stat.avg}\n", "dim")
    hist = stat.hist
    if hist is None or not any(hist.buckets):
        text.append("(no histogram data)\n", "dim")
        return text
    used = [i for i, count in enumerate(hist.buckets) if count]
    first, last = max(used[0] - 1, 0), min(used[-1] + 1, len(hist.buckets) - 1)
    labels = [bucket_label(hist, i) for i in range(first, last + 1)]
    label_width = max(len(label) for label in labels + ["value"])
    peak = max(hist.buckets)
    bar_width = max(width - label_width - 12, 8)
    text.append(f"{'value':>{label_width}} |{'-' * bar_width} count\n", "dim")
    for label, index in zip(labels, range(first, last + 1)):
        count = hist.buckets[index]
        bar = "█" * (count * bar_width // peak) if peak else ""
        text.append(f"{label:>{label_width}} |", "dim")
        text.append(f"{bar:<{bar_width}}", "green")
        text.append(f" {count}\n")
    return text


class HistogramView(Static):
    """One statistic global; `show` redraws it in place, sized to the widget's width."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.name_and_stat: tuple[str, Stat] | None = None

    def show(self, name: str, stat: Stat) -> None:
        self.name_and_stat = (name, stat)
        self.refresh(layout=True)

    def render(self) -> Text:
        if self.name_and_stat is None:
            return Text()
        name, stat = self.name_and_stat
        return render_histogram(name, stat, max(self.content_size.width, 30))
