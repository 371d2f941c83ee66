"""Turn runs into table rows: figures above the bare run and ratios to bpftrace and the floor."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.workloads.tracers import Run, lost_warnings

TRACERS = ("perf", "bpftrace", "pystap")


@dataclass
class Row:
    """One line of the suite's table: a metric of one script under each tracer."""

    bench: str
    script: str
    metric: str
    values: dict[str, float | None]  # tracer -> value (None: no result)
    ratios: bool = True  # print pystap/bpftrace and pystap/floor
    notes: list[str] = field(default_factory=list)


def per_event_ns(run: Run) -> float | None:
    return run.cpu_ns / run.events if run.events else None


def overhead_ns(run: Run, bare: Run) -> float | None:
    """CPU nanoseconds per event the tracer adds to the workload's bare loop (the trap or
    tracepoint and any BPF program run in the workload's context, so they count here)."""
    traced, base = per_event_ns(run), per_event_ns(bare)
    return traced - base if traced is not None and base is not None else None


def events_per_s(run: Run) -> float | None:
    return run.events / run.wall_ns * 1e9 if run.events else None


def cpu_per_million(run: Run) -> float | None:
    return run.tracer_cpu_s / run.events * 1e6 if run.events else None


def failures(runs: dict[str, Run]) -> list[str]:
    """Why a way has no figure, which ways ran while other tracers were attached, and the
    losses the tracers reported themselves."""
    notes = [f"{way}: {run.failed}" for way, run in runs.items() if run.failed]
    notes += [f"{way}: other BPF tracers were loaded during the run: {', '.join(run.others)}"
              for way, run in runs.items() if run.others]
    return notes + [f"{way}: {line}" for way, run in runs.items() for line in lost_warnings(run)]


def _cell(value: float | None) -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if 0 < abs(value) < 0.01:  # a tracer's CPU at /proc's 10 ms resolution: not zero
        return f"{value:.2g}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def _ratio(top: float | None, bottom: float | None) -> str:
    return f"{top / bottom:.2f}x" if top is not None and bottom and bottom > 0 else "n/a"


def render(rows: list[Row]) -> str:
    """The table, one row per metric, with the notes (failures, lost events) under it."""
    head = ["benchmark", "script", "metric", "bare", *TRACERS, "pystap/bpftrace", "pystap/floor"]
    lines = []
    for r in rows:
        cells = [r.bench, r.script, r.metric, _cell(r.values.get("bare"))]
        cells += [_cell(r.values.get(t)) for t in TRACERS]
        if r.ratios:
            cells += [_ratio(r.values.get("pystap"), r.values.get("bpftrace")),
                      _ratio(r.values.get("pystap"), r.values.get("perf"))]
        else:
            cells += ["", ""]
        lines.append(cells)
    widths = [max(len(c[i]) for c in [head, *lines]) for i in range(len(head))]
    text = [" | ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip() for cells in [head, *lines]]
    text.insert(1, "-+-".join("-" * w for w in widths))
    notes = [f"  note ({r.bench} {r.script}): {n}" for r in rows for n in r.notes]
    return "\n".join(text + sorted(set(notes), key=notes.index))
