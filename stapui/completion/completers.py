"""What to offer at the cursor: one small completer per context, picked by the text before it.

Contexts, tried in order (the first whose regular expression matches the text before the
cursor wins):

    kernel.trace("sch|          tracepoint names
    process("/bin/ls").function("ma|   functions of that binary
    syscall.op|                 syscall names
    probe tim| / probe timer.m| probe families and probe-point shapes
    $fi|                        target variables of the probe being edited
    subs|                       tapset functions (signature and doc), script globals,
                                script functions, keywords
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from stapui.catalogue import Catalogue
from stapui.lexer import BUILTINS, KEYWORDS


@dataclass(frozen=True)
class Item:
    label: str  # what the menu shows first
    insert: str  # what replaces the typed prefix
    detail: str = ""  # signature, type, doc line
    kind: str = ""  # "probe", "tracepoint", "function", "global", "variable", "keyword"


@dataclass
class Completions:
    start: int  # offset in the text where the typed prefix begins
    prefix: str
    items: list[Item]


_IDENT_TAIL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")


def complete(text: str, offset: int, catalogue: Catalogue) -> Completions | None:
    """The completions at `offset` in `text`, or None when nothing applies."""
    before = text[:offset]
    for pattern, completer in _CONTEXTS:
        match = pattern.search(before)
        if match:
            prefix = match.group("prefix")
            items = completer(catalogue, match, text)
            chosen = [i for i in items if i.insert.startswith(prefix) and i.insert != prefix]
            return Completions(offset - len(prefix), prefix, chosen[:200]) if chosen else None
    return None


# -- the completers ---------------------------------------------------------


def _tracepoints(catalogue: Catalogue, match: re.Match, text: str) -> list[Item]:
    return [Item(name, name, "tracepoint", "tracepoint") for name in catalogue.tracepoints()]


def _process_functions(catalogue: Catalogue, match: re.Match, text: str) -> list[Item]:
    return [Item(name, name, match.group("path"), "function") for name in catalogue.process_functions(match.group("path"))]


def _syscalls(catalogue: Catalogue, match: re.Match, text: str) -> list[Item]:
    return [Item(name, name, "syscall", "syscall") for name in catalogue.syscalls()]


def _probe_points(catalogue: Catalogue, match: re.Match, text: str) -> list[Item]:
    items: dict[str, Item] = {}
    for family in catalogue.families():
        for pattern in family.patterns:
            insert = _insertable(pattern)
            note = f"unavailable: {family.unavailable}" if family.unavailable else family.description
            items.setdefault(insert, Item(pattern, insert, note, "probe"))
    return sorted(items.values(), key=lambda i: i.insert)


def _insertable(pattern: str) -> str:
    """`timer.ms(number)` -> `timer.ms(`: stop where the user must type an argument."""
    cut = re.search(r"\((number|string)\)", pattern)
    if not cut:
        return pattern
    opening = '("' if cut.group(1) == "string" else "("
    return pattern[: cut.start()] + opening


def _target_variables(catalogue: Catalogue, match: re.Match, text: str) -> list[Item]:
    point = enclosing_probe_point(text, match.end())
    if point is None:
        return []
    return [Item(v.name, v.name, v.type_text, "variable") for v in catalogue.target_variables(point)]


def _symbols(catalogue: Catalogue, match: re.Match, text: str) -> list[Item]:
    """The script's own names first, then the language, then the tapset library."""
    groups = [
        [Item(g, g, "global", "global") for g in script_globals(text)],
        [Item(f, f + "(", "script function", "function") for f in script_functions(text)],
        [Item(k, k, "keyword", "keyword") for k in KEYWORDS],
        [Item(b, b + "(", "builtin", "function") for b in BUILTINS]
        + [Item(f.name, f.name + "(", f.signature + (" — " + f.doc if f.doc else ""), "function")
           for f in catalogue.functions()],
    ]  # fmt: skip
    ranked: dict[str, tuple[int, int, str, Item]] = {}
    for rank, group in enumerate(groups):
        for item in group:
            ranked.setdefault(item.label, (rank, len(item.label), item.label, item))
    return [entry[3] for entry in sorted(ranked.values(), key=lambda e: e[:3])]


_CONTEXTS: list[tuple[re.Pattern, Callable[[Catalogue, re.Match, str], list[Item]]]] = [
    (re.compile(r'kernel\s*\.\s*trace\s*\(\s*"(?P<prefix>[\w:*]*)$'), _tracepoints),
    (re.compile(r'process\s*\(\s*"(?P<path>[^"]+)"\s*\)\s*\.\s*function\s*\(\s*"(?P<prefix>[\w*]*)$'), _process_functions),
    (re.compile(r"\bprobe\s+(?:[^{;]*?,\s*)?syscall\s*\.\s*(?P<prefix>\w*)$"), _syscalls),
    (re.compile(r'\bprobe\s+(?:[^{;"]*?,\s*)?(?P<prefix>[\w.]*)$'), _probe_points),
    (re.compile(r"(?P<prefix>\$\w*)$"), _target_variables),
    (re.compile(r"(?<![\w$@.])(?P<prefix>[A-Za-z_]\w*)$"), _symbols),
]


# -- reading the script around the cursor --------------------------------------


_PROBE_HEAD = re.compile(r"\bprobe\s+([^{]*?)\s*\{")


def enclosing_probe_point(text: str, offset: int) -> str | None:
    """The first probe point of the probe whose body contains `offset` (aliases excluded)."""
    inside = None
    for match in _PROBE_HEAD.finditer(text, 0, offset):
        depth = _brace_depth(text, match.end(), offset)
        if depth > 0:
            inside = match
    if inside is None or "=" in inside.group(1):
        return None
    return _first_point(inside.group(1))


def _brace_depth(text: str, start: int, end: int) -> int:
    depth = 1
    for char in text[start:end]:
        depth += {"{": 1, "}": -1}.get(char, 0)
        if depth == 0:
            return 0
    return depth


def _first_point(points: str) -> str:
    depth, current = 0, ""
    for char in points:
        if char == "," and depth == 0:
            break
        depth += {"(": 1, ")": -1}.get(char, 0)
        current += char
    return current.strip().rstrip("?!").strip()


def script_globals(text: str) -> list[str]:
    names: list[str] = []
    for match in re.finditer(r"^\s*(?:private\s+)?global\s+([^;\n]+)", text, re.MULTILINE):
        for declaration in _split_top_level(match.group(1)):
            name = re.match(r"\s*([A-Za-z_]\w*)", declaration)
            if name and name.group(1) not in names:
                names.append(name.group(1))
    return names


def _split_top_level(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += {"[": 1, "(": 1, "]": -1, ")": -1}.get(char, 0)
        current += char
    return parts + [current]


def script_functions(text: str) -> list[str]:
    return list(dict.fromkeys(re.findall(r"\bfunction\s+([A-Za-z_]\w*)", text)))
