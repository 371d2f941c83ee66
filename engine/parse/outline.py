"""Pass 1's outline of a library file: its top level parsed, its bodies skipped.

stap's pass 1 parses every tapset file in full. All our pass 2 needs from pass 1,
though, is which file defines which function, global and probe alias (the index,
`index.py`); it links only the few files a script uses, and a file is parsed in
full when it is first linked (`LibraryFiles.load`). So a library file the index
does not know yet is outlined: a quick scan finds the braces of each function and
probe body, the tokenizer steps over their text (each body becomes one BODY
token), and the same LALR grammar reads the rest -- declarations, probe points,
globals, macros, conditionals -- with BODY standing where a body may stand. This
is what makes a cold pass 1 over the whole library cheap: most of a tapset's
tokens are in bodies.

An outline must list exactly the top-level items a full parse finds, so a body is
skipped only when skipping it cannot change the top level:
- its braces must match whatever the preprocessor keeps: each `%( %? %: %)` inside
  it has brace-balanced branches, every macro it calls is balanced too (checked
  once the file's own macros are known), and it defines no macro;
- the parser must take it as a body: BODY is accepted only where a body may stand,
  so a skipped `{` that was anything else (a probe point's `{a,b}`) is a parse error;
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


class _Body:
    """A body being scanned: where its `{` is, its balance, and the macros it calls."""

    def __init__(self, start: int):
        self.start = start
        self.balance = Balance()
        self.balance.brace(True)
        self.calls: set[str] = set()


def skippable_bodies(text: str) -> list[tuple[int, int, set[str]]]:
    """(offset of `{`, offset after `}`, macro names called) of each body an outline may skip."""
    if "$#" in text:
        return []
    bodies = []
    body: _Body | None = None
    define = 0  # inside a top-level `@define ... %( %)`: its %( nesting (its braces are not bodies)
    for m in _SCAN_RE.finditer(text):
        kind = m.lastgroup
        if kind is None:
            continue
        if body is None:
            if kind == "open" and define <= 0:
                body = _Body(m.start())
            elif kind == "at" and m.group() == "@define":
                define = -1  # its `%(` is still to come
            elif kind == "pp" and define != 0:
                define = _define_nesting(define, m.group())
            continue
        if kind == "open" or kind == "close":
            body.balance.brace(kind == "open")
            if body.balance.depth == 0:
                if body.balance.closed:
                    bodies.append((body.start, m.end(), body.calls))
                body = None
        elif kind == "pp":
            body.balance.marker(m.group())
        elif m.group() == "@define":
            body.balance.ok = False
        else:
            body.calls.add(m.group()[1:])
    return bodies


def _define_nesting(define: int, marker: str) -> int:
    if marker == "%(":
        return 1 if define < 0 else define + 1
    if marker == "%)" and define > 0:
        return define - 1
    return define


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
        bodies = skippable_bodies(text)
        if not bodies:
            return None
        source = SourceFile(name, text, True)
        preprocessor = Preprocessor(self.conditions, [], self.macros)
        tokens = preprocessor.process(tokenize(source, [(start, end) for start, end, _ in bodies]))
        called = set().union(*(calls for _, _, calls in bodies))
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
    calls = [t.value[1:] for t in macro.body if t.type == "AT_UNKNOWN" and t.value[1:] not in macro.params]
    return _balanced_body(macro), calls


def _balanced_body(macro: Macro) -> bool:
    """Whether the macro's own braces balance (its arguments' are counted where it is called)."""
    balance = Balance()
    for token in macro.body:
        if token.type == "LBRACE" or token.type == "RBRACE":
            balance.brace(token.type == "LBRACE")
        elif token.type == "PP":
            balance.marker(token.value)
    return balance.closed
