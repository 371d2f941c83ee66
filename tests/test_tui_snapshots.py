"""Snapshot tests of the main screens: the text a terminal shows, cell by cell.

Textual's SVG export carries random ids and the cursor's blink phase, so the snapshot
is the screen's text, rebuilt from the SVG's positioned text runs (one cell = 12.2 px).
Expected screens live in tests/tui_snapshots/; after an intended change of the layout,
regenerate them with STAPUI_UPDATE_SNAPSHOTS=1 and review the diff.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

import pytest

from engine.session import PassState
from stapui.app import build_app
from tests.test_tui import settle
from tests.test_tui_engine import wait_until

SNAPSHOTS = Path(__file__).resolve().parent / "tui_snapshots"
CELL_PX = 12.2
_RUN = re.compile(r'<text class="[^"]*" x="([\d.]+)" y="[\d.]+" textLength="[\d.]+" '
                  r'clip-path="url\(#terminal-\d+-line-(\d+)\)">([^<]*)</text>')  # fmt: skip

SCRIPT = "global count\n\nprobe timer.ms(100) {\n    count++\n    if (count > 10\n        exit()\n}\n"


def screen_text(svg: str, width: int, height: int) -> str:
    grid = [[" "] * width for _ in range(height)]
    for x, line, text in _RUN.findall(svg):
        column = round(float(x) / CELL_PX)
        for offset, char in enumerate(html.unescape(text).replace("\xa0", " ")):
            if 0 <= column + offset < width and int(line) < height:
                grid[int(line)][column + offset] = char
    return "\n".join("".join(row).rstrip() for row in grid) + "\n"


def check(name: str, text: str) -> None:
    path = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("STAPUI_UPDATE_SNAPSHOTS"):
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), f"screen {name} changed; see {path}"


async def editor_only(pilot) -> None:
    return None


async def parse_error(pilot) -> None:
    await pilot.press("f6")
    await wait_until(pilot, lambda: pilot.app.strip.states[0] is PassState.FAILED)
    await settle(pilot)
    pilot.app.strip.times = ("", "", "", "", "")  # times differ between runs


async def help_screen(pilot) -> None:
    await pilot.press("f1")
    await settle(pilot, 0.3)


@pytest.mark.parametrize(
    "name, size, scene",
    [
        ("main-80x24", (80, 24), editor_only),
        ("main-120x40", (120, 40), editor_only),
        ("parse-error-120x40", (120, 40), parse_error),
        ("help-120x40", (120, 40), help_screen),
    ],
)
async def test_screen(name, size, scene):
    app = build_app(["-e", SCRIPT])
    async with app.run_test(size=size) as pilot:
        await settle(pilot, 0.2)
        await scene(pilot)
        await settle(pilot)
        check(name, screen_text(app.export_screenshot(), *size))
