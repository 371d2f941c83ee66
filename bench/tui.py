"""Workbench responsiveness under load (issue 7). Run: python3 bench/tui.py [--rate N] [--keys K]

The real app (headless, 120x40, Textual's pilot) runs a script on a kernel tracepoint
while a paced workload makes N getpid calls per second (default 100 000). Measured:

- keystroke-to-screen: from a key press to the first screen update showing the edited
  line (the compositor's output, which a terminal driver would write);
- snapshot-to-screen: from the runtime taking a snapshot of the globals (its CLOCK_MONOTONIC
  stamp) to the first screen update after the globals table was redrawn with it;
- events lost: the workload's own call count minus what the script counted, and the
  LOST records the runtime sent.

Without root (no tracepoints) the script is a 10 kHz timer instead, and says so.
Goals: both medians under 50 ms, no events lost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.workloads import SYS_COMM, build  # noqa: E402
from stapui.app import StapUI, build_app  # noqa: E402
from stapui.widgets.globals_view import GlobalsView  # noqa: E402

TRACEPOINT_SCRIPT = """global calls, lines
probe kernel.trace("syscalls:sys_enter_getpid") {
    if (execname() == "%s") {
        calls++
        if (calls %% 1000 == 0) { lines++; printf("%%d calls\\n", calls) }
    }
}
"""
TIMER_SCRIPT = """global calls, lines
probe timer.us(100) { calls++; if (calls % 100 == 0) { lines++; printf("%d calls\\n", calls) } }
"""


class ScreenClock:
    """Timestamps every screen update the app composes (App._display)."""

    def __init__(self, app: StapUI) -> None:
        self.updates: list[float] = []
        original = app._display

        def display(screen, renderable) -> None:
            original(screen, renderable)
            if renderable is not None:
                self.updates.append(time.monotonic())

        app._display = display

    def first_after(self, moment: float) -> float | None:
        return next((t for t in self.updates if t >= moment), None)


async def until(pilot, condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the run did not reach the expected state")
        await pilot.pause(0.01)


async def keystrokes(pilot, clock: ScreenClock, count: int) -> list[float]:
    """Type `count` characters at the end of the script; latency of each to the screen."""
    app: StapUI = pilot.app
    editor = app.editor
    editor.focus()
    editor.cursor_location = (editor.document.line_count - 1, 0)
    await pilot.press("#", "space")
    latencies = []
    for index in range(count):
        before = len(editor.text)
        pressed = time.monotonic()
        await pilot.press("x")
        await until(pilot, lambda: len(editor.text) > before and clock.first_after(pressed) is not None, 10)
        changed_at = clock.first_after(pressed)
        latencies.append(changed_at - pressed)
        await asyncio.sleep(0.02)  # a fast typist: 50 keys/s
    return latencies


async def snapshots(pilot, clock: ScreenClock, count: int) -> list[float]:
    """For `count` snapshots: runtime stamp -> first screen update after the table redraw."""
    app: StapUI = pilot.app
    view = app.query_one(GlobalsView)
    drawn: list[tuple[int, float]] = []
    original = view.show

    def show(snapshot) -> None:
        original(snapshot)
        drawn.append((snapshot.time_ns, time.monotonic()))

    view.show = show
    await until(pilot, lambda: len(drawn) >= count + 1, 30 + count)
    view.show = original
    latencies = []
    for stamp_ns, shown_at in drawn[1:]:
        on_screen = clock.first_after(shown_at)
        if on_screen is not None:
            latencies.append(on_screen - stamp_ns / 1e9)
    return latencies


def start_workload(rate: int, seconds: int) -> subprocess.Popen:
    exe = build("bench_sys", SYS_COMM)
    return subprocess.Popen([str(exe), "getpid", f"{seconds}s", "1", str(rate)], stdout=subprocess.PIPE, text=True)


async def measure(rate: int, keys: int, snaps: int) -> dict:
    root = os.geteuid() == 0
    script = TRACEPOINT_SCRIPT % SYS_COMM if root else TIMER_SCRIPT
    app = build_app(["-e", script])
    async with app.run_test(size=(120, 40)) as pilot:
        clock = ScreenClock(app)
        await pilot.press("f5")
        await until(pilot, lambda: app.model is not None and app.model.snapshots >= 1, 180)
        seconds = 4 + keys // 25 + snaps
        workload = start_workload(rate, seconds) if root else None
        await pilot.press("ctrl+g")
        key_latencies = await keystrokes(pilot, clock, keys)
        snap_latencies = await snapshots(pilot, clock, snaps)
        made = None
        if workload is not None:
            out, _ = workload.communicate(timeout=seconds + 30)
            made = int(out.split()[1])
            await pilot.pause(1.5)  # let the last events and a snapshot arrive
        counted = app.model.snapshot.globals.get("calls", 0)
        lost_records = app.model.lost_total
        app.action_stop()
        await until(pilot, lambda: app.handle is None, 30)
    return {"root": root, "keys": key_latencies, "snapshots": snap_latencies, "made": made,
            "counted": counted, "lost_records": lost_records, "rate": rate, "seconds": seconds}  # fmt: skip


def ms(values: list[float]) -> str:
    if not values:
        return "no samples"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"median {statistics.median(values) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, max {max(values) * 1000:.1f} ms (n={len(values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=100_000, help="workload getpid calls per second")
    parser.add_argument("--keys", type=int, default=100, help="keystrokes to time")
    parser.add_argument("--snapshots", type=int, default=8, help="snapshots to time")
    args = parser.parse_args()
    result = asyncio.run(measure(args.rate, args.keys, args.snapshots))
    load = f"{args.rate} getpid/s traced" if result["root"] else "a 10 kHz timer probe (not root: no tracepoints)"
    print(f"load: {load}, the app at 120x40")
    print(f"keystroke-to-screen: {ms(result['keys'])}")
    print(f"snapshot-to-screen:  {ms(result['snapshots'])}")
    if result["made"] is not None:
        print(f"events: workload made {result['made']}, script counted {result['counted']}, "
              f"lost {result['made'] - result['counted']}; LOST records: {result['lost_records']}")
    else:
        print(f"events: {result['counted']} timer hits counted; LOST records: {result['lost_records']}")


if __name__ == "__main__":
    main()
