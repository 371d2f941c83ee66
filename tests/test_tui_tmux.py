"""The real `stapui` command in a real terminal (tmux), driven as a user over SSH would:
send-keys in, capture-pane out."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.support import REPO, require, require_root, require_tracefs

WIDTH, HEIGHT = 100, 30


def stapui_command() -> list[str]:
    """The installed console script next to this Python (a venv), on PATH, or the module."""
    beside = Path(sys.executable).parent / "stapui"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("stapui")
    return [found] if found else [sys.executable, "-m", "stapui"]


class Terminal:
    """One detached tmux session running a command."""

    def __init__(self, argv: list[str], cwd: Path) -> None:
        self.name = f"stapui-test-{uuid.uuid4().hex[:8]}"
        env = f"TERM=xterm-256color PYTHONPATH={REPO}"
        command = f"cd {cwd} && {env} " + " ".join(_quote(a) for a in argv)
        subprocess.run(["tmux", "new-session", "-d", "-s", self.name, "-x", str(WIDTH), "-y", str(HEIGHT), command],
                       check=True)  # fmt: skip

    def keys(self, *keys: str) -> None:
        """One key per send-keys, as typed: a batch of escape sequences in one read is
        split differently by the terminal parser than keys arriving one by one."""
        for key in keys:
            subprocess.run(["tmux", "send-keys", "-t", self.name, key], check=True)
            time.sleep(0.05)

    def screen(self) -> str:
        result = subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True)
        return result.stdout

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        return self._wait(lambda screen: text in screen, f"{text!r} never appeared", timeout)

    def wait_gone(self, text: str, timeout: float = 20.0) -> str:
        return self._wait(lambda screen: text not in screen, f"{text!r} never went away", timeout)

    def _wait(self, done, failure: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if done(screen):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{failure}; the screen was:\n{self.screen()}")

    def wait_ready(self, text: str) -> str:
        """Wait for `text`, then a moment more: keys sent while Textual is still switching
        the terminal to raw mode are lost by the tty, not by the app."""
        screen = self.wait_for(text)
        time.sleep(1.0)
        return screen

    def alive(self) -> bool:
        return subprocess.run(["tmux", "has-session", "-t", self.name], capture_output=True).returncode == 0

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


def _quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\\''") + "'"


@pytest.fixture
def terminal_factory(tmp_path):
    require(shutil.which("tmux") is not None, "tmux (apt-get install tmux)")
    opened: list[Terminal] = []

    def start(*args: str) -> Terminal:
        terminal = Terminal(stapui_command() + list(args), tmp_path)
        opened.append(terminal)
        return terminal

    yield start
    for terminal in opened:
        terminal.close()


def test_edit_save_help_and_quit_in_a_real_terminal(terminal_factory, tmp_path):
    script = tmp_path / "count.stp"
    script.write_text("global n\nprobe begin {\n}\n")
    term = terminal_factory(str(script))
    screen = term.wait_ready("1:1")
    assert "parse ▸" in screen and "elaborate ▸" in screen
    assert "count.stp" in screen
    term.keys("Down", "End", "Space", "n", "+", "+")
    term.wait_for("probe begin { n++")
    term.wait_for("count.stp ●")
    term.keys("C-s")
    term.wait_for("count.stp ──")  # the modified marker is gone
    assert script.read_text() == "global n\nprobe begin { n++\n}\n"
    term.keys("F1")
    term.wait_for("A workbench for SystemTap scripts")
    term.keys("End")
    term.wait_for("Sort column")  # the last table of the key bindings
    term.keys("Escape")
    term.keys("C-q")
    deadline = time.monotonic() + 10
    while term.alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not term.alive()


def test_completion_menu_in_a_real_terminal(terminal_factory):
    term = terminal_factory("-e", "")
    term.wait_ready("1:1")
    term.keys("p", "r", "o", "b", "e", "Space", "t", "i", "m", "e", "r", ".", "m", "s")
    screen = term.wait_for("timer.ms(number)")
    assert "timer.msec(number)" in screen
    # The menu shown may still be the one for "timer." (all timers): wait until it has
    # been narrowed to the typed prefix before accepting its first item.
    term.wait_gone("timer.hz(")
    term.keys("Enter")
    term.wait_for("probe timer.ms(")


def test_root_demo_shows_live_syscall_rows_in_a_real_terminal(terminal_factory):
    """As root, `stapui` alone runs the syscall demo; rows appear in the live `calls` table."""
    require_root()
    require_tracefs()
    term = terminal_factory()
    term.wait_for("running", timeout=120)
    term.keys("C-g")
    screen = term.wait_for("calls · ", timeout=60)
    rows = re.search(r"calls · (\d+) rows", screen)
    assert rows and int(rows.group(1)) > 0
    assert re.search(r"│ (python3|stapui|bash|tmux(?:: server|: client)?|stap)\s+\d+", screen), screen
    term.keys("F8")
    term.wait_for("exited 0", timeout=60)
