"""perf.sw.NAME / perf.hw.NAME / perf.type(T).config(C) [.sample(N)], timer.profile.

Sampling perf events, one per CPU, each with the probe's BPF capture program attached:
the handler runs every N-th increment of the counter (default 1 000 000, as stap),
with the context of the task that was interrupted. timer.profile is the software
cpu_clock sampled once per tick on every CPU (stap's fallback on kernels without the
profile timer). Hardware events need a PMU; without one (virtual machines) pass 2 says so.
"""

from __future__ import annotations

from pathlib import Path

from engine.elaborate.probes.base import DerivedProbe, ProbeProvider, ResolutionError, ResolveContext, register
from engine.parse.ast import ProbePoint

PERF_TYPE_HARDWARE, PERF_TYPE_SOFTWARE = 0, 1
DEFAULT_PERIOD = 1_000_000
TICK_NS = 1_000_000_000 // 250  # the timer tick (HZ=250) timer.profile samples at
PMU_DEVICE = Path("/sys/bus/event_source/devices/cpu")

SOFTWARE = {
    "cpu_clock": 0, "task_clock": 1, "page_faults": 2, "context_switches": 3, "cpu_migrations": 4,
    "page_faults_min": 5, "page_faults_maj": 6, "alignment_faults": 7, "emulation_faults": 8,
}
HARDWARE = {
    "cpu_cycles": 0, "instructions": 1, "cache_references": 2, "cache_misses": 3, "branch_instructions": 4,
    "branch_misses": 5, "bus_cycles": 6, "stalled_cycles_frontend": 7, "stalled_cycles_backend": 8,
    "ref_cpu_cycles": 9,
}


def _patterns() -> tuple[str, ...]:
    heads = [f"perf.sw.{name}" for name in SOFTWARE] + [f"perf.hw.{name}" for name in HARDWARE]
    heads.append("perf.type(number).config(number)")
    return tuple(head + suffix for head in heads for suffix in ("", ".sample(number)")) + (
        "timer.profile",
        "timer.profile.tick",
    )


class PerfProvider(ProbeProvider):
    family = "perf"
    description = "sampling perf events: perf.sw.NAME, perf.hw.NAME, perf.type(T).config(C), .sample(N); timer.profile"
    patterns = _patterns()

    def resolve(self, point: ProbePoint, ctx: ResolveContext) -> list[DerivedProbe]:
        return [self._derive(point, match.args) for match in self.match(point)]

    def _derive(self, point: ProbePoint, args: dict) -> DerivedProbe:
        if "profile" in args:
            text = "timer.profile.tick" if "tick" in args else "timer.profile"
            return self._event(point, text, PERF_TYPE_SOFTWARE, SOFTWARE["cpu_clock"], TICK_NS)
        period = DEFAULT_PERIOD if args.get("sample") is None else args["sample"]
        if period <= 0:
            raise ResolutionError("perf sample period must be greater than 0", point.components[-1])
        kind, config, text = _event_identity(args)
        if kind == PERF_TYPE_HARDWARE and not PMU_DEVICE.exists():
            raise ResolutionError(
                f"{text} needs a hardware performance-monitoring unit, and this machine has none "
                f"({PMU_DEVICE} is missing; virtual machines usually hide it)",
                point.components[0],
            )
        if args.get("sample") is not None:
            text += f".sample({period})"
        return self._event(point, text, kind, config, period)

    def _event(self, point: ProbePoint, text: str, kind: int, config: int, period: int) -> DerivedProbe:
        mechanism = f"perf event type {kind} config {config}, every {period} counts on each CPU, BPF program attached"
        data = {"perf_type": kind, "perf_config": config, "perf_period": period}
        return self.derive(point, text, mechanism, data=data)


def _event_identity(args: dict) -> tuple[int, int, str]:
    """(perf type, config, the point's text without .sample) for a matched point."""
    if "type" in args:
        kind, config = args["type"], args["config"]
        return kind, config, f"perf.type({kind}).config({config})"
    for name, number in SOFTWARE.items():
        if name in args and "sw" in args:
            return PERF_TYPE_SOFTWARE, number, f"perf.sw.{name}"
    name = next(name for name in HARDWARE if name in args)
    return PERF_TYPE_HARDWARE, HARDWARE[name], f"perf.hw.{name}"


register(PerfProvider())
