"""Pass 1's outline of a library file: its top level parsed, its bodies skipped.

stap's pass 1 parses every tapset file in full. All our pass 2 needs from pass 1,
though, is which file defines which function, global and probe alias (the index,
`index.py`); it links only the few files a script uses, and a file is parsed in
full when it is first linked (`LibraryFiles.load`). So a library file the index
does not know yet is outlined: a quick scan finds the braces of each function and
probe body and the text of each top-level `@define`, the tokenizer steps over them
(each body becomes one BODY token, each macro body one MACRO_BODY token), and the
same LALR grammar reads the rest -- declarations, probe points, globals,
conditionals -- with BODY standing where a body may stand. This is what makes a
cold pass 1 over the whole library cheap: most of a tapset's tokens are in bodies.

An outline must list exactly the top-level items a full parse finds, so a body is
skipped only when skipping it cannot change the top level:
- its braces must match whatever the preprocessor keeps: each `%( %? %: %)` inside
  it has brace-balanced branches, every macro it calls is balanced too (checked
  once the file's own macros are known), and it defines no macro;
- the parser must take it as a body: BODY is accepted only where a body may stand,
  so a skipped `{` that was anything else (a probe point's `{a,b}`) is a parse error,
  as is a file macro expanded where the outline reads (MACRO_BODY reaches the parser);
- the file contains no `$#` (`a$#` is an identifier and a comment, `$#` alone
  the argument count: the scan cannot tell them apart).
Otherwise the file, or the doubtful body, is read in full. A parse error inside a
skipped body (stap reports it in pass 1 as a warning and skips the file) is thus
reported when pass 2 first links the file, with its file:line:col; and pass 1 of
`-v -p1`, which prints every library file, parses them all.
"""

from __future__ import annotations

import re

from engine.diagnostics import SourceFile
from engine.parse import ast
from engine.parse.builder import assemble
from engine.parse.conditions import Conditions
from engine.parse.lexer import tokenize
from engine.parse.parser import parse_tokens
from engine.parse.preprocess import Macro, Preprocessor

# What can hide or move a brace, in the tokenizer's own terms; other text is skipped
# by the regex engine. Strings, comments and embedded C match without a group. (The
# lookahead lets the engine jump between candidate characters: with groups alone it
# would try every alternative at every character.)
_SCAN_RE = re.compile(
    r"""
    (?=[{}"\#/%@])
    (?: "(?:[^"\\\n]|\\[^\n])*"?
      | \#[^\n]* | //[^\n]* | /\*[^*]*\*+(?:[^/*][^*]*\*+)*/ | /\*.*
      | %\{[^%]*%+(?:[^}%][^%]*%+)*\} | %\{.*
      | (?P<open>\{) | (?P<close>\}) | (?P<pp>%[(?:)])
      | (?P<at>@\#|@[A-Za-z0-9_$]*)
    )
    """,
    re.VERBOSE | re.DOTALL,
)


class Balance:
    """Brace depth through preprocessor conditionals.

    Whichever branch the preprocessor keeps, the braces around a conditional match
    the same way as long as the condition and each branch leave the depth where the
    `%(` found it and never go below it.
    """

    def __init__(self) -> None:
        self.depth = 0
        self.frames: list[int] = []  # the depth at each open `%(`
        self.ok = True

    def brace(self, opening: bool) -> None:
        self.depth += 1 if opening else -1
        if self.depth < (self.frames[-1] if self.frames else 0):
            self.ok = False

    def marker(self, value: str) -> None:
        """`%(`, `%?`, `%:` or `%)`."""
        if value == "%(":
            self.frames.append(self.depth)
            return
        if not self.frames or self.frames[-1] != self.depth:
            self.ok = False
        elif value == "%)":
            self.frames.pop()

    @property
    def closed(self) -> bool:
        return self.ok and self.depth == 0 and not self.frames


class _Region:
    """Text an outline may skip: its brace balance so far, and the macros it calls."""

    def __init__(self, start: int, opened: bool):
        self.start = start
        self.balance = Balance()
        if opened:  # a body: its `{` is read
            self.balance.brace(True)
        self.calls: set[str] = set()

    def read(self, kind: str, value: str) -> None:
        """One match of _SCAN_RE inside the region."""
        if kind == "open" or kind == "close":
            self.balance.brace(kind == "open")
        elif kind == "pp":
            self.balance.marker(value)
        elif value == "@define":
            self.balance.ok = False  # a macro defined in a body would go unseen
        else:
            self.calls.add(value[1:])


def skippable_regions(text: str) -> list[tuple[int, int, str, set[str]]]:
    """(start, end, kind, macros called) of the text an outline may skip.

    Kind BODY: a body, `{` at start to `}` before end; kind MACRO_BODY: the text
    of a top-level `@define NAME %( ... %)` between its `%(` and `%)`.
    """
    if "$#" in text:
        return []
    regions = []
    region: _Region | None = None
    defining = False  # in a macro body rather than a probe or function body
    pending_define = False  # `@define` read, its `%(` not yet
    for m in _SCAN_RE.finditer(text):
        kind = m.lastgroup
        if kind is None:
            continue
        value = m.group()
        if region is None:
            if kind == "open":
                region, defining = _Region(m.start(), True), False
            elif kind == "at" and value == "@define":
                pending_define = True
            elif kind == "pp" and value == "%(" and pending_define:
                region, defining, pending_define = _Region(m.end(), False), True, False
        elif defining and kind == "pp" and value == "%)" and not region.balance.frames:
            regions.append((region.start, m.start(), "MACRO_BODY", region.calls))
            region = None
        else:
            region.read(kind, value)
            if not defining and region.balance.depth == 0:
                if region.balance.closed:
                    regions.append((region.start, m.end(), "BODY", region.calls))
                region = None
    return regions


def _text_facts(text: str) -> tuple[bool, set[str]]:
    """Whether a skipped macro body's braces balance, and the macros it calls."""
    region = _Region(0, False)
    for m in _SCAN_RE.finditer(text):
        if m.lastgroup is not None:
            region.read(m.lastgroup, m.group())
    return region.balance.closed, region.calls


class Outliner:
    """Outlines the files of one library, under its conditions and with its macros."""

    def __init__(self, conditions: Conditions, macros: dict[str, Macro]):
        self.conditions = conditions
        self.macros = macros
        self._facts: dict[str, tuple[bool, list[str]]] = {}  # _macro_facts of library macros, by name

    def outline(self, text: str, name: str) -> ast.StapFile | None:
        """The file's top level with empty bodies, or None when it must be parsed in full.

        None too when the outline finds an error: the full parse then reports it the
        way stap does, recovery and all.
        """
        regions = skippable_regions(text)
        if not regions:
            return None
        source = SourceFile(name, text, True)
        preprocessor = Preprocessor(self.conditions, [], self.macros)
        tokens = preprocessor.process(tokenize(source, [(start, end, kind) for start, end, kind, _ in regions]))
        called = set().union(*(calls for _, _, kind, calls in regions if kind == "BODY"))
        if not self._balanced_macros(called, preprocessor.macros):
            return None
        items, diagnostics = parse_tokens(tokens, name, privileged=True)
        if diagnostics:
            return None
        stapfile = assemble(items, name, True)
        stapfile.is_tapset = True
        return stapfile

    def _balanced_macros(self, names: set[str], own: dict[str, Macro]) -> bool:
        """Whether every macro among `names` expands to balanced braces whatever its arguments."""
        checked: dict[str, bool] = {}

        def balanced(name: str) -> bool:
            if name not in checked:
                facts = self._facts_of(name, own)
                if facts is None:
                    return True  # not a macro: an operator (@cast, @count...) or an error for the full parse
                checked[name] = False  # a recursive macro counts as unbalanced
                own_balance, calls = facts
                checked[name] = own_balance and all(balanced(call) for call in calls)
            return checked[name]

        return all(balanced(name) for name in names)

    def _facts_of(self, name: str, own: dict[str, Macro]) -> tuple[bool, list[str]] | None:
        """_macro_facts of the macro `@name` calls (the file's own first), None if none."""
        if name in own:
            return _macro_facts(own[name])
        if name not in self.macros:
            return None
        if name not in self._facts:
            self._facts[name] = _macro_facts(self.macros[name])
        return self._facts[name]


def _macro_facts(macro: Macro) -> tuple[bool, list[str]]:
    """Whether the macro's own braces balance, and the macros its body calls."""
    body = macro.body
    if len(body) == 1 and body[0].type == "MACRO_BODY":  # the file's own, skipped by its outline
        balanced, calls = _text_facts(body[0].value)
    else:
        balanced, calls = _balanced_body(macro), {t.value[1:] for t in body if t.type == "AT_UNKNOWN"}
    return balanced, [call for call in calls if call not in macro.params]


def _balanced_body(macro: Macro) -> bool:
    """Whether the macro's own braces balance (its arguments' are counted where it is called)."""
    balance = Balance()
    for token in macro.body:
        if token.type == "LBRACE" or token.type == "RBRACE":
            balance.brace(token.type == "LBRACE")
        elif token.type == "PP":
            balance.marker(token.value)
    return balance.closed
