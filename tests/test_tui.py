"""Pilot tests of the workbench: editor, completion, files, browser, help, palette, run data.

Each test drives the real app through Textual's pilot (keys, not method calls) and
checks what the widgets hold afterwards.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Tree

from engine.run.records import HIST_LOG, ArrayValue, Exit, Histogram, Output, ProbeStat, Snapshot, Stat, V_LONG, V_STRING
from stapui.app import NO_ROOT_NOTE, StapUI, build_app, demo
from stapui.run_model import RunModel
from stapui.screens.help import HelpScreen
from stapui.widgets.completion_menu import CompletionMenu
from stapui.widgets.editor import Marker
from stapui.widgets.globals_view import ArrayTable
from stapui.widgets.histogram import HistogramView
from stapui.widgets.output_view import OutputView
from stapui.widgets.probe_stats import ProbeStatsTable

SIZE = (100, 30)


async def settle(pilot, seconds: float = 0.0) -> None:
    """Let workers finish and messages be processed."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause(seconds)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def type_text(pilot, text: str) -> None:
    for char in text:
        await pilot.press({" ": "space", "\n": "enter"}.get(char, char))


async def test_open_type_modified_marker_and_save(tmp_path: Path):
    script = tmp_path / "hello.stp"
    script.write_text("probe begin {\n}\n")
    app = build_app([str(script)])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.editor.text == "probe begin {\n}\n"
        assert app.editor.border_title == "hello.stp"
        app.editor.cursor_location = (0, 13)
        await type_text(pilot, " exit()")
        assert app.editor.text == "probe begin { exit()\n}\n"
        assert app.editor.border_title == "hello.stp ●"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert script.read_text() == "probe begin { exit()\n}\n"
        assert app.editor.border_title == "hello.stp"


async def test_save_as_asks_for_a_path(tmp_path: Path):
    target = tmp_path / "new.stp"
    app = build_app(["-e", "probe end {}"])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.editor.border_title == "(unsaved script)"
        await pilot.press("f2")
        await settle(pilot)
        prompt = app.screen.query_one("#prompt-input")
        prompt.value = str(target)
        await pilot.press("enter")
        await settle(pilot)
        assert target.read_text() == "probe end {}"
        assert app.path == str(target)
        assert app.editor.border_title == "new.stp"


async def test_completion_as_you_type_offers_probe_families_and_accepts():
    app = build_app(["-e", ""])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_text(pilot, "probe timer.m")
        await settle(pilot)
        menu = app.query_one(CompletionMenu)
        assert menu.is_open
        assert [i.insert for i in menu.completions.items] == ["timer.ms(", "timer.msec("]
        await pilot.press("down", "enter")
        await settle(pilot)
        assert app.editor.text == "probe timer.msec("
        assert not menu.is_open


async def test_ctrl_space_completes_script_globals_and_escape_closes():
    app = build_app(["-e", "global counts, total\nprobe begin {\n  co\n}\n"])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.editor.cursor_location = (2, 4)
        await pilot.press("ctrl+space")
        await settle(pilot)
        menu = app.query_one(CompletionMenu)
        labels = [i.label for i in menu.completions.items]
        assert labels[0] == "counts"
        assert "continue" in labels
        await pilot.press("escape")
        assert not menu.is_open
        await pilot.press("ctrl+space")
        await settle(pilot)
        await pilot.press("tab")
        await settle(pilot)
        assert app.editor.text == "global counts, total\nprobe begin {\n  counts\n}\n"


async def test_diagnostic_markers_are_drawn_on_their_line_and_f3_jumps():
    app = build_app(["-e", "probe begin {\n  x = 1 +\n}\nprobe end { y }\n"])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.editor.set_markers([Marker(3, 12, "semantic error: unresolved", True), Marker(1, 9, "parse error: expected", True)])
        line = app.editor.get_line(1)
        assert line.plain == "  x = 1 +  ◀ parse error: expected"
        assert app.editor.get_line(0).plain == "probe begin {"
        app.editor.cursor_location = (0, 0)
        await pilot.press("f3")
        assert app.editor.cursor_location == (1, 9)
        await pilot.press("f3")
        assert app.editor.cursor_location == (3, 12)
        await pilot.press("f3")
        assert app.editor.cursor_location == (1, 9)
        await pilot.press("shift+f3")
        assert app.editor.cursor_location == (3, 12)


async def test_probe_browser_lists_families_and_enter_inserts_a_skeleton():
    app = build_app(["-e", ""])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+f")
        await settle(pilot)
        tree = app.query_one("#probe-tree", Tree)
        families = [str(node.label).split("  ")[0] for node in tree.root.children]
        assert {"builtin", "timer", "procfs"} <= set(families)
        await type_text(pilot, "begin")
        await settle(pilot)
        builtin = next(n for n in tree.root.children if str(n.label).startswith("builtin"))
        assert [str(leaf.label) for leaf in builtin.children] == ["begin", "begin(1)"]
        tree.focus()
        tree.select_node(builtin.children[0])
        await settle(pilot)
        assert app.editor.text == 'probe begin {\n    printf("%s\\n", pp())\n}\n'


async def test_help_screen_lists_every_app_binding():
    app = build_app(["-e", ""])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        for binding in StapUI.BINDINGS:
            assert binding.description in app.screen.text
            assert f"`{binding.key.split(',')[0]}`" in app.screen.text
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_command_palette_offers_every_action():
    app = build_app(["-e", ""])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = {command.title for command in app.get_system_commands(app.screen)}
        for binding in StapUI.BINDINGS:
            if binding.action != "quit":
                assert binding.description in titles


def test_demo_choice_depends_on_privileges():
    text, name, note = demo(root=False)
    assert name == "timer_demo.stp" and note == NO_ROOT_NOTE and "probe timer.ms(50)" in text
    text, name, note = demo(root=True)
    assert name == "syscalls.stp" and note == "" and 'kernel.trace("raw_syscalls:sys_enter")' in text


def snapshot_records() -> list:
    hist = Histogram(HIST_LOG, tuple([0] * 64 + [0, 2, 1, 0, 3] + [0] * 59))
    samples = Stat(6, 30, 1, 8, 5, 6, hist)
    calls = ArrayValue((V_STRING,), V_LONG, 3, ((("bash",), 7), (("sshd",), 42), (("cron",), 1)))
    probes = (ProbeStat(0, "timer.ms(50)", 20, 100, 200, 900),)
    return [
        Output(b"first line\nsecond "),
        Output(b"line\n"),
        Snapshot(1, 1_000_000_000, {"calls": calls, "samples": samples, "ticks": 20}, probes),
        Snapshot(2, 2_000_000_000, {"calls": calls, "samples": samples, "ticks": 40},
                 (ProbeStat(0, "timer.ms(50)", 40, 100, 200, 900),)),
        Exit(0),
    ]  # fmt: skip


async def test_run_view_shows_output_tables_histograms_and_stats_from_records():
    app = build_app(["-e", ""])
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        model = RunModel()
        app.model = model
        app.query_one(OutputView).start(model)
        app.status.model = model
        for record in snapshot_records():
            model.add(record)
        model.finish()
        app._tick()
        await settle(pilot)
        assert app.query_one(OutputView).log_widget.lines == ["first line", "second line"]
        table = app.query_one(ArrayTable)
        assert table.global_name == "calls"
        assert [table.get_row_at(i) for i in range(3)] == [["sshd", "42"], ["bash", "7"], ["cron", "1"]]
        table.sort_by(0)  # by key, descending first
        assert [table.get_row_at(i)[0] for i in range(3)] == ["sshd", "cron", "bash"]
        table.sort_by(0)
        assert [table.get_row_at(i)[0] for i in range(3)] == ["bash", "cron", "sshd"]
        histogram = str(app.query_one(HistogramView).render())
        assert "samples  count=6 sum=30 min=1 max=8 avg=5" in histogram
        scalars = app.query_one("#scalars")
        assert scalars.get_row_at(0) == ["ticks", "40"]
        stats = app.query_one(ProbeStatsTable)
        assert stats.get_row_at(0)[:3] == ["timer.ms(50)", "40", "20"]
        assert "2 lines" in str(app.status.render())


async def test_output_view_pause_and_search():
    app = build_app(["-e", ""])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        model = RunModel(max_lines=3)
        view = app.query_one(OutputView)
        view.start(model)
        app.model = model
        model.add(Output(b"a1\nb2\n"))
        app._tick()
        await pilot.press("ctrl+r")
        await settle(pilot)
        view.log_widget.focus()
        await pilot.press("p")
        model.add(Output(b"a3\nb4\n"))
        app._tick()
        assert view.log_widget.lines == ["a1", "b2"]
        await pilot.press("p")
        assert view.log_widget.lines == ["a1", "b2", "a3", "b4"]
        assert list(model.lines) == ["b2", "a3", "b4"]  # the model keeps the newest 3
        await pilot.press("slash")
        await type_text(pilot, "b")
        await settle(pilot)
        assert view.log_widget.lines == ["b2", "b4"]
        await pilot.press("escape")
        await settle(pilot)
        assert view.log_widget.lines == ["b2", "a3", "b4"]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_every_side_tab_opens_at_small_and_large_sizes(size):
    app = build_app(["-e", "probe begin { exit() }"])
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        for key, tab in [("ctrl+t", "engine"), ("ctrl+f", "probes"), ("ctrl+r", "output"), ("ctrl+g", "globals"),
                         ("ctrl+l", "stats")]:  # fmt: skip
            await pilot.press(key)
            await settle(pilot)
            assert app.query_one("#side").active == tab
        await pilot.press("f10")
        assert app.editor.has_focus
        assert app.query_one("#editor-pane").size.width >= 38
        assert app.editor.get_line(0).plain == "probe begin { exit() }"


async def test_probe_browser_lists_a_typed_binarys_functions():
    from tests.programs import build

    binary = str(build("probed", "-O0"))
    app = build_app(["-e", ""])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+f")
        await settle(pilot)
        app.query_one("#probe-filter").value = binary
        await settle(pilot)
        tree = app.query_one("#probe-tree", Tree)
        binary_node = tree.root.children[0]
        assert str(binary_node.label) == f'process("{binary}")'
        functions = binary_node.children[0]
        assert str(functions.label) == f'process("{binary}").function("*")'
        functions.expand()
        await settle(pilot, 0.2)
        source = Path(build.__code__.co_filename).parent / "probed.c"
        leaves = {str(leaf.label).split("  ")[0]: leaf for leaf in functions.children}
        add = f'process("{binary}").function("add@{source}:21")'
        assert str(leaves[add].label) == f"{add}  $a:int $b:long int $sum:int"
        assert f'process("{binary}").function("_start")' in leaves
        app.editor.focus()
        app.editor.cursor_location = (0, 0)
        tree.select_node(leaves[add])
        await settle(pilot)
        assert app.editor.text == f'probe {add} {{\n    # $a:int $b:long int $sum:int\n    printf("%s\\n", pp())\n}}\n'


def test_bad_command_line_prints_usage_without_a_traceback():
    import subprocess
    import sys

    from tests.support import REPO

    result = subprocess.run([sys.executable, "-m", "stapui", "--bogus"], capture_output=True, text=True, cwd=REPO,
                            timeout=60)  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.startswith("stapui: unrecognized option '--bogus'\nUsage: stapui [options] FILE [ARGS]")
    assert "Traceback" not in result.stderr


async def test_command_line_options_reach_the_session(tmp_path: Path):
    script = tmp_path / "s.stp"
    script.write_text("probe begin { exit() }\n")
    app = build_app(["-x", "1234", "-c", "true", "-I", str(tmp_path), "-g", str(script), "arg1"])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert app.path == str(script) and app.editor.text == "probe begin { exit() }\n"
        options = app._session().options
        assert (options.target_pid, options.command, options.include_dirs, options.guru, options.args) == (
            1234, "true", [str(tmp_path)], True, ["arg1"])
        assert (options.script_file, options.script_text, options.monitor, options.timing) == (
            str(script), None, True, False)  # hits come from the monitor: no -t report in the output
        await type_text(pilot, "#")  # an edited buffer runs as -e text, the file untouched
        options = app._session().options
        assert (options.script_file, options.script_text) == (None, "#probe begin { exit() }\n")
