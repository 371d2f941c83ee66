"""Pilot tests of the workbench over the real engine: step the passes, see each artifact,
see a parse error in place, follow C and parse-tree lines back to the script, run a
timer script and watch its output and globals update from snapshots, stop it."""

from __future__ import annotations

import re
import time

from engine.session import PassState
from stapui.app import NO_ROOT_NOTE, build_app
from stapui.screens.help import MarkdownScreen
from stapui.widgets.artifact_view import ArtifactView
from stapui.widgets.ast_tree import AstTree
from stapui.widgets.globals_view import ArrayTable
from stapui.widgets.output_view import OutputView
from tests.test_tui import settle

SIZE = (120, 40)
STEP_SCRIPT = "global n\nprobe begin { n = 1 }\nprobe timer.ms(100) { n++ }\n"


async def wait_until(pilot, condition, timeout: float = 60.0) -> None:
    """Pump the app until `condition()` holds (runs take real time: gcc, timers)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached in {timeout}s")
        await pilot.pause(0.05)


def states(app) -> list[PassState]:
    return list(app.strip.states)


async def run_until_pass_1_fails(pilot) -> None:
    """Press F5 on a script with a parse error and wait for pass 1 to fail."""
    await settle(pilot)
    await pilot.press("f5")
    await wait_until(pilot, lambda: states(pilot.app)[0] is PassState.FAILED)
    await settle(pilot)


async def test_step_mode_runs_one_pass_per_key_and_shows_each_artifact():
    app = build_app(["-e", STEP_SCRIPT])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f6")
        await wait_until(pilot, lambda: states(app)[0] is PassState.DONE)
        assert states(app)[1:] == [PassState.PENDING] * 4
        assert app.panel.view(1).text == app.session.artifact(1).dump()
        assert app.panel.view(1).text.rstrip("\n") == (
            "# parse tree dump\n# file <input>\nglobal n\nprobe begin{\n(n) = (1);\n}\n"
            "probe timer.ms(100){\n(n)++;\n}"
        )
        assert app.strip.times[0].endswith("ms")
        await pilot.press("f6")
        await wait_until(pilot, lambda: states(app)[1] is PassState.DONE)
        elaborated = app.panel.view(2).text
        assert elaborated.startswith(app.session.artifact(2).dump())
        assert "# how each probe resolved\nbegin  [builtin]" in elaborated
        assert "mechanism: runtime interval timer" in elaborated
        await pilot.press("f6")
        await wait_until(pilot, lambda: states(app)[2] is PassState.DONE)
        c_text = app.panel.view(3).text
        assert c_text == app.session.artifact(3).dump()
        assert '#line 2 "<input>"' in c_text
        await pilot.press("f6")
        await wait_until(pilot, lambda: states(app)[3] is PassState.DONE, timeout=120)
        build_text = app.panel.view(4).text
        assert build_text.startswith(str(app.session.artifact(4).path))
        assert "\ncache: " in build_text and f"\nsize: {app.session.artifact(4).size} bytes" in build_text
        assert states(app)[4] is PassState.PENDING


async def test_moving_through_c_and_the_parse_tree_selects_the_script_line():
    app = build_app(["-e", STEP_SCRIPT])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f6", "f6", "f6")  # faster than the passes run: they queue up
        await wait_until(pilot, lambda: states(app)[2] is PassState.DONE)
        await settle(pilot)
        assert len(app.session.results) == 3 and states(app)[3] is PassState.PENDING
        view = app.query_one("#view-translate", ArtifactView)
        lines = view.text.split("\n")
        directive = next(i for i, line in enumerate(lines) if line.startswith('#line 3 "<input>"'))
        app.panel.reveal(3)
        await settle(pilot)
        view.focus()
        await settle(pilot)
        view.cursor_location = (directive + 1, 0)
        await settle(pilot)
        assert app.editor.selected_text == "probe timer.ms(100) { n++ }"
        app.panel.reveal(1)
        await settle(pilot)
        tree = app.query_one(AstTree)
        tree.focus()
        await settle(pilot)
        probe_node = next(n for n in tree.root.children if str(n.label).startswith("Probe @2:"))
        tree.move_cursor(probe_node)
        await settle(pilot)
        assert app.editor.selected_text == "probe begin { n = 1 }"


async def test_a_parse_error_is_shown_in_place_and_in_the_panel():
    app = build_app(["-e", "global x\nprobe begin { x = (1 + }\n"])
    async with app.run_test(size=SIZE) as pilot:
        await run_until_pass_1_fails(pilot)
        assert states(app)[1:] == [PassState.PENDING] * 4
        assert app.editor.get_line(1).plain == (
            "probe begin { x = (1 + }  ◀ parse error: expected literal string or number"
        )
        assert app.panel.view(1).text == (
            "parse error: expected literal string or number\n"
            "        saw: operator '}' at <input>:2:24\n"
            "     source: probe begin { x = (1 + }\n"
            "                                    ^\n"
            "\n1 parse error.\n"
        )
        app.editor.cursor_location = (0, 0)
        await pilot.press("f3")
        assert app.editor.cursor_location == (1, 23)
        # fixing the script and stepping again starts a fresh session
        app.editor.replace("2) ", (1, 23), (1, 23))
        await pilot.press("f6")
        await wait_until(pilot, lambda: states(app)[0] is PassState.DONE)
        assert app.editor.markers == []


async def test_an_error_after_non_ascii_text_is_marked_on_its_character():
    """stap's columns count bytes ("é" is two); the editor's cursor counts characters."""
    app = build_app(["-e", 'probe begin { x = "é" + }\n'])
    async with app.run_test(size=SIZE) as pilot:
        await run_until_pass_1_fails(pilot)
        assert "saw: operator '}' at <input>:1:26" in app.panel.view(1).text
        app.editor.cursor_location = (0, 0)
        await pilot.press("f3")
        assert app.editor.cursor_location == (0, 24)


async def test_run_a_timer_script_see_output_and_globals_update_then_stop():
    script = (
        "global ticks, last\n"
        "probe timer.ms(20) { ticks++; last[ticks % 3] = ticks; printf(\"tick %d\\n\", ticks) }\n"
        "probe end { printf(\"end after %d, last[0] = %d\\n\", ticks, last[0]) }\n"
    )
    app = build_app(["-e", script])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f5")
        output = app.query_one(OutputView)
        await wait_until(pilot, lambda: app.query(ArrayTable) and app.query_one(ArrayTable).row_count == 3, 120)
        assert app.query_one("#side").active == "output"
        assert app.status.run_state == "running"
        assert states(app) == [PassState.DONE] * 4 + [PassState.RUNNING]
        table = app.query_one(ArrayTable)
        first = app.model.snapshot
        first_values = sorted(int(table.get_row_at(i)[1]) for i in range(3))
        await wait_until(pilot, lambda: app.model.snapshot is not first and app.model.snapshot.globals["ticks"] > first.globals["ticks"] + 3)
        app._tick()
        later_values = sorted(int(table.get_row_at(i)[1]) for i in range(3))
        assert later_values[0] > first_values[0]  # the table was updated in place from a newer snapshot
        assert app.query_one("#scalars").get_row_at(0)[0] == "ticks"
        # per-probe hits are live while the script runs (monitor snapshots, no -t)
        live = app.query_one("#probe-stats")
        await wait_until(pilot, lambda: live.row_count and live.get_row_at(0)[0] == "timer.ms(20)"
                         and int(live.get_row_at(0)[1]) >= first.globals["ticks"])  # fmt: skip
        await pilot.press("f8")
        await wait_until(pilot, lambda: app.handle is None and app.model.exit_status is not None)
        await settle(pilot)
        lines = app.model.all_lines()
        assert output.log_widget.lines[: len(lines)] == lines
        # no -t: the output is the script's alone, ending with the end probe's line
        count = len(lines) - 1
        assert lines[:3] == ["tick 1", "tick 2", "tick 3"]
        assert lines[:count] == [f"tick {i}" for i in range(1, count + 1)]
        assert lines[count:] == [f"end after {count}, last[0] = {count - count % 3}"]
        # the runtime's last snapshot, after the end probe, holds the final hit counts
        stats = app.query_one("#probe-stats")
        rows = sorted(stats.get_row_at(i)[:2] for i in range(stats.row_count))
        assert rows == [["end", "1"], ["timer.ms(20)", str(count)]]
        assert states(app)[4] is PassState.DONE and app.strip.times[4] == "exit 0"
        assert app.status.run_state == "exited 0"
        # run again after editing: a new session, a new run
        app.editor.replace("10", (1, 15), (1, 17))
        await pilot.press("f5")
        await wait_until(pilot, lambda: app.handle is not None and len(app.model.lines) >= 2, 120)
        assert list(app.model.lines)[:2] == ["tick 1", "tick 2"]
        await pilot.press("f8")
        await wait_until(pilot, lambda: app.handle is None)


async def test_no_argument_start_runs_the_timer_demo_right_away(monkeypatch):
    monkeypatch.setattr("stapui.app.is_root", lambda: False)
    app = build_app([])
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.status.note == NO_ROOT_NOTE
        await wait_until(pilot, lambda: app.model is not None and app.model.line_count >= 1, 120)
        assert re.fullmatch(r"  1 s: 20 ticks, 20 samples, average \d+", app.model.all_lines()[0])
        await pilot.press("f8")
        await wait_until(pilot, lambda: app.handle is None)
        await settle(pilot)
        assert "value |-------------------------------------------------- count" in app.model.all_lines()


async def test_a_run_time_error_appears_between_output_lines_and_in_the_status_bar():
    script = 'global z\nprobe begin { println("before"); z = 0; println(1 / z) }\nprobe begin(1) { println("after") exit() }\n'
    app = build_app(["-e", script])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f5")
        await wait_until(pilot, lambda: app.model is not None and app.handle is None and app.model.exit_status is not None, 120)
        await settle(pilot)
        assert app.model.all_lines()[:2] == ["before", "ERROR: division by 0 near operator '/' at <input>:2:51"]
        assert app.model.errors == ["division by 0 near operator '/' at <input>:2:51"]
        assert "│ errors 1 " in str(app.status.render())
        assert states(app)[4] is PassState.FAILED


async def test_f4_explains_the_probe_under_the_cursor():
    app = build_app(["-e", STEP_SCRIPT])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.editor.cursor_location = (2, 24)  # inside the timer probe's body
        await pilot.press("f4")
        await wait_until(pilot, lambda: isinstance(app.screen, MarkdownScreen))
        assert "timer.ms(100)  [timer]\n  mechanism: runtime interval timer (timerfd, CLOCK_MONOTONIC)" in app.screen.text
        await pilot.press("escape")
        assert not isinstance(app.screen, MarkdownScreen)


async def test_minus_o_file_receives_the_complete_output(tmp_path):
    target = tmp_path / "out.txt"
    script = 'probe begin { for (i = 1; i <= 3000; i++) printf("line %d\\n", i); exit() }'
    app = build_app(["-o", str(target), "-e", script])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f5")
        await wait_until(pilot, lambda: app.model is not None and app.handle is None and app.model.exit_status == 0, 120)
        await settle(pilot)
    expected = "".join(f"line {i}\n" for i in range(1, 3001))
    assert target.read_text() == expected  # the script's output alone: no -t hit report
