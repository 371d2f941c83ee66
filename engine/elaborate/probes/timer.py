"""timer.s/sec/ms/msec/us/usec/ns/nsec(N)[.randomize(M)], timer.hz(N), timer.jiffies(N)."""

from __future__ import annotations

from engine.elaborate.probes.base import DerivedProbe, ProbeProvider, ResolutionError, ResolveContext, register, similar
from engine.parse.ast import ProbePoint

# unit -> (nanoseconds per unit, smallest interval stap accepts in that unit)
_UNITS = {
    "s": (1_000_000_000, 1),
    "sec": (1_000_000_000, 1),
    "ms": (1_000_000, 1),
    "msec": (1_000_000, 1),
    "us": (1_000, 100),
    "usec": (1_000, 100),
    "ns": (1, 100_000),
    "nsec": (1, 100_000),
}
_MAX_NS = 86_400 * 1_000_000_000  # one day, stap's upper bound
_HZ = 250  # the jiffy length this runtime emulates (CONFIG_HZ of Debian kernels)


class TimerProvider(ProbeProvider):
    """Interval timers run by the runtime's main loop (stap uses hrtimers / kernel timers)."""

    family = "timer"
    description = "periodic handlers: timer.s/ms/us/ns(N), timer.hz(N), timer.jiffies(N), .randomize(M)"
    patterns = tuple(
        f"timer.{unit}(number){suffix}"
        for unit in (*_UNITS, "jiffies")
        for suffix in ("", ".randomize(number)")
    ) + ("timer.hz(number)",)

    def resolve(self, point: ProbePoint, ctx: ResolveContext) -> list[DerivedProbe]:
        matches = self.match(point)
        if not any("*" in component.functor for component in point.components):
            return [self._derive(point, match.args) for match in matches]
        return self._wildcard(point, matches)

    def _wildcard(self, point: ProbePoint, matches: list) -> list[DerivedProbe]:
        """stap skips the timers of a wildcard that fail (`timer.*(200)` has no ns timer,
        200 ns being too short) and lists the others by name; none is a mismatch."""
        derived = []
        for match in matches:
            try:
                derived.append(self._derive(point, match.args))
            except ResolutionError:
                continue
        if derived:
            return sorted(derived, key=lambda d: d.point)
        wildcard = next(component for component in point.components if "*" in component.functor)
        near = similar(wildcard.functor, [*_UNITS, "hz", "jiffies"])
        raise ResolutionError(
            f"probe point mismatch: didn't find any wildcard matches (similar: {', '.join(near)})", wildcard,
            "operator '*'" if wildcard.functor == "*" else None,
        )

    def _derive(self, point: ProbePoint, args: dict) -> DerivedProbe:
        unit = next(name for name in args if name not in ("timer", "randomize"))
        value = args[unit]
        interval_ns = _interval_ns(unit, value)
        randomize = args.get("randomize")
        randomize_ns = 0 if randomize is None else _randomize_ns(unit, randomize, interval_ns)
        text = f"timer.{unit}({value})" + (f".randomize({randomize})" if randomize is not None else "")
        data = {"interval_ns": interval_ns, "randomize_ns": randomize_ns}
        return self.derive(point, text, "runtime interval timer (timerfd, CLOCK_MONOTONIC)", data=data)


def _interval_ns(unit: str, value: int) -> int:
    if unit == "hz":
        if value <= 0:
            raise ResolutionError("frequency must be greater than 0")
        return 1_000_000_000 // value
    if unit == "jiffies":
        if value <= 0:
            raise ResolutionError("invalid interval for jiffies timer")
        return value * (1_000_000_000 // _HZ)
    scale, low = _UNITS[unit]
    high = _MAX_NS // scale
    if not low <= value <= high:
        raise ResolutionError(f"interval value out of range ({low}, {high})")
    return value * scale


def _randomize_ns(unit: str, randomize: int, interval_ns: int) -> int:
    scale = 1_000_000_000 // _HZ if unit == "jiffies" else _UNITS[unit][0]
    randomize_ns = randomize * scale
    if randomize < 0 or randomize_ns > interval_ns:
        raise ResolutionError("randomization value out of range")
    return randomize_ns


register(TimerProvider())
