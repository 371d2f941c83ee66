"""Regenerate the SVG screenshots of stapui's main screens (real renders, 120x40).

    python3 screenshots/make.py [--only NAME]

Each scene drives the real application through Textual's pilot over the real engine
(as root the demo is the syscall one, otherwise the timer one) and saves what the
terminal would show.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from engine.session import PassState  # noqa: E402
from stapui.app import StapUI, build_app  # noqa: E402
from stapui.widgets.ast_tree import AstTree  # noqa: E402

SIZE = (120, 40)
TIMER_SCRIPT = (HERE.parent / "stapui/examples/timer_demo.stp").read_text()
BROKEN_SCRIPT = "global count\n\nprobe timer.ms(100) {\n    count++\n    if (count > 10\n        exit()\n}\n"


async def until(pilot, condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("scene did not reach its state")
        await pilot.pause(0.05)


async def passes(pilot) -> None:
    """The engine panel after passes 1-4, the generated C shown."""
    app: StapUI = pilot.app
    await pilot.press("f7")
    await until(pilot, lambda: app.strip.states[3] is PassState.DONE)
    app.panel.reveal(3)


async def parse_tree(pilot) -> None:
    app: StapUI = pilot.app
    await pilot.press("f6")
    await until(pilot, lambda: app.strip.states[0] is PassState.DONE)
    await pilot.pause(0.2)
    tree = app.query_one(AstTree)
    for node in list(tree.root.children)[1:3]:
        node.expand()
    await pilot.pause(0.2)


async def error(pilot) -> None:
    app: StapUI = pilot.app
    await pilot.press("f6")
    await until(pilot, lambda: app.strip.states[0] is PassState.FAILED)
    await pilot.press("f3")


async def completion(pilot) -> None:
    app: StapUI = pilot.app
    app.editor.cursor_location = (app.editor.document.line_count - 1, 0)
    for key in "probe timer.m":
        await pilot.press("space" if key == " " else key)
    await until(pilot, lambda: app.editor.completing)
    await pilot.pause(0.3)


async def probes(pilot) -> None:
    app: StapUI = pilot.app
    await pilot.press("ctrl+f")
    await pilot.pause(0.5)
    await app.workers.wait_for_complete()
    for key in "timer.m":
        await pilot.press(key)
    await pilot.pause(0.5)


async def run_and_show(pilot, tab_key: str, ready) -> None:
    """Start the demo, wait until `ready(model)`, then show the tab behind `tab_key`."""
    app: StapUI = pilot.app
    await pilot.press("f5")
    await until(pilot, lambda: app.model is not None and ready(app.model))
    await pilot.press(tab_key)
    await pilot.pause(0.5)


async def running(pilot) -> None:
    """The demo after a few snapshots: its globals tab."""
    await run_and_show(pilot, "ctrl+g", lambda model: model.snapshots >= 3)


async def output(pilot) -> None:
    await run_and_show(pilot, "ctrl+r", lambda model: model.line_count >= 3)


async def help_screen(pilot) -> None:
    await pilot.press("f1")
    await pilot.pause(0.5)


SCENES = {
    # name: (command line, size, scene)
    "passes": (["-e", TIMER_SCRIPT], SIZE, passes),
    "parse-tree": (["-e", TIMER_SCRIPT], SIZE, parse_tree),
    "parse-error": (["-e", BROKEN_SCRIPT], SIZE, error),
    "completion": (["-e", TIMER_SCRIPT], SIZE, completion),
    "probe-browser": (["-e", TIMER_SCRIPT], SIZE, probes),
    "run-globals": ([], SIZE, running),
    "run-output": ([], SIZE, output),
    "help": (["-e", TIMER_SCRIPT], SIZE, help_screen),
    "small-80x24": ([], (80, 24), running),
}


async def shoot(name: str) -> Path:
    argv, size, scene = SCENES[name]
    app = build_app(argv)
    app.autorun = False  # scenes start runs themselves, when they want one
    async with app.run_test(size=size) as pilot:
        await pilot.pause(0.3)
        await scene(pilot)
        await pilot.pause(0.2)
        path = HERE / f"{name}.svg"
        app.save_screenshot(path.name, str(HERE))
        if app.handle is not None:
            app.action_stop()
            await until(pilot, lambda: app.handle is None, 30)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(SCENES))
    names = [parser.parse_args().only] if parser.parse_args().only else list(SCENES)
    for name in names:
        print(asyncio.run(shoot(name)))


if __name__ == "__main__":
    main()
