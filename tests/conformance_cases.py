"""The conformance suite's case files (tests/conformance/*.cases).

A case file holds many cases, each a script with its hand-written expected results:

    === name [pystap options...] [-- script arguments...]
    script lines (passed with -e, so locations read <input>:LINE:COL)
    --- stdout
    expected output
    --- stderr
    expected diagnostics (omitted: must be empty)
    --- status N          (omitted: 0 when stderr is empty, else 1)

Lines of expected output are exact; a trailing "$" marks the end of a line whose
trailing spaces matter (it is removed before comparing).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

CASES_DIR = Path(__file__).parent / "conformance"


@dataclass
class Case:
    name: str
    options: list[str]
    script: str
    stdout: str = ""
    stderr: str = ""
    status: int | None = None
    source: str = ""

    @property
    def argv(self) -> list[str]:
        """pystap's arguments: options, -e script, then the script's own arguments."""
        if "--" in self.options:
            cut = self.options.index("--")
            return [*self.options[:cut], "-e", self.script, *self.options[cut + 1 :]]
        return [*self.options, "-e", self.script]

    @property
    def expected_status(self) -> int:
        if self.status is not None:
            return self.status
        return 1 if "ERROR:" in self.stderr else 0


@dataclass
class _Reader:
    current: Case | None = None
    section: str = "script"
    lines: dict[str, list[str]] = field(default_factory=dict)


def _text(lines: list[str]) -> str:
    while lines and lines[-1] == "":
        lines = lines[:-1]  # blank lines separating cases are not expected output
    return "".join(line[:-1] + "\n" if line.endswith("$") else line + "\n" for line in lines)


def _finish(reader: _Reader, out: list[Case]) -> None:
    case = reader.current
    if case is None:
        return
    case.script = "\n".join(reader.lines.get("script", [])).strip("\n")
    case.stdout = _text(reader.lines.get("stdout", []))
    case.stderr = _text(reader.lines.get("stderr", []))
    out.append(case)


def load_file(path: Path) -> list[Case]:
    cases: list[Case] = []
    reader = _Reader()
    for raw in path.read_text().split("\n"):
        if raw.startswith("=== "):
            _finish(reader, cases)
            words = shlex.split(raw[4:])
            reader = _Reader(Case(f"{path.stem}/{words[0]}", words[1:], "", source=path.name), "script", {})
        elif raw.startswith("--- ") and reader.current is not None:
            words = raw[4:].split()
            if words[0] == "status":
                reader.current.status = int(words[1])
            else:
                reader.section = words[0]
        elif reader.current is not None:
            reader.lines.setdefault(reader.section, []).append(raw)
    _finish(reader, cases)
    return cases


def load_all() -> list[Case]:
    return [case for path in sorted(CASES_DIR.glob("*.cases")) for case in load_file(path)]
