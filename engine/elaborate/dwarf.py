"""A debug-information index of one binary: functions, their variables, types and lines.

pyelftools reads the DWARF once; the result is reduced to plain dataclasses (no DIE
objects) so it can be pickled into the XDG cache keyed by build-id, which makes the
second listing of a binary instant. Binaries without DWARF are indexed from their
symbol table, as stap does for `_start`, `_init` and friends.

What stap's choices are, reproduced here:
- the probe address of `function("f")` is the entry pc when the compilation unit was
  built by GCC with optimisation (its location lists are valid from the first
  instruction), otherwise the end of the prologue found by line-table search: the
  first row after the entry row that moves to another address, line or file;
- a variable is offered (and listed by -L) only when its location is known at the
  probe address (a location list entry covers it, or it has a single location);
- type names are spelt like stap's `dwarf_type_name`: "char const*", "int (*) (int)",
  "char[]", "struct point";
- the other function symbols at a function's address are its aliases (glibc's
  `malloc` is the DWARF `__libc_malloc`), see _attach_symbols.
"""

from __future__ import annotations

import bisect
import collections
import fnmatch
import math
import os
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path

from elftools.dwarf.locationlists import LocationEntry, LocationExpr, LocationParser, BaseAddressEntry
from elftools.elf.elffile import ELFFile

from engine.elaborate import elf as elfinfo
from engine.elaborate import stap_order

INDEX_FORMAT = 24  # bump when the pickled shape changes


# ---------------------------------------------------------------------------
# The index's plain data


@dataclass
class DwarfType:
    """One type DIE, reduced: `tag` is the DWARF tag without the DW_TAG_ prefix."""

    tag: str  # base_type, pointer_type, structure_type, typedef, const_type, array_type ...
    name: str | None = None
    size: int | None = None
    signed: bool = False  # base types and enums
    target: int | None = None  # offset of the referenced type (DW_AT_type)
    members: list[tuple[str, int, int]] = field(default_factory=list)  # (name, byte offset, type offset)
    bounds: list[int | None] = field(default_factory=list)  # array dimensions (element counts)
    params: list[int | None] = field(default_factory=list)  # subroutine parameter types
    prototyped: bool = False  # subroutine: `(void)` rather than `()` when it has no parameters
    declaration: bool = False  # incomplete struct


@dataclass
class Location:
    """A DW_AT_location: one expression, or a list of (low, high, expression) ranges."""

    expr: bytes | None = None
    ranges: list[tuple[int, int, bytes]] = field(default_factory=list)

    def at(self, pc: int) -> bytes | None:
        """The expression valid at `pc`, or None if the value is not available there.
        (`ranges` are kept sorted by their low address.)"""
        if self.expr is not None:
            return self.expr
        i = bisect.bisect_right(self.ranges, (pc, math.inf)) - 1
        if i >= 0 and self.ranges[i][0] <= pc < self.ranges[i][1]:
            return self.ranges[i][2]
        return None


@dataclass
class DwarfVariable:
    name: str
    is_param: bool
    type: int | None
    location: Location | None = None
    const_value: int | None = None
    type_name: str = ""  # stap's spelling, kept so listings need no type table
    scope: list[tuple[int, int]] | None = None  # a lexical block's addresses (None: the whole function)

    def available_at(self, pc: int) -> bool:
        if self.scope is not None and not any(low <= pc < high for low, high in self.scope):
            return False
        if self.const_value is not None:
            return True
        return self.location is not None and self.location.at(pc) is not None


@dataclass
class DwarfFunction:
    """One probe-able function body: an out-of-line function or one inlined instance."""

    name: str
    decl_file: str | None
    decl_line: int | None
    low_pc: int
    high_pc: int
    pc: int  # where stap puts the probe (after the prologue when it searches for one)
    cu: str
    inlined: bool = False
    exported: bool = False  # for .exported: see _attach_symbols
    variables: list[DwarfVariable] = field(default_factory=list)
    frame_base: Location | None = None
    return_type: int | None = None  # None for void
    has_dwarf: bool = True
    die: int = 0  # offset of the function's DIE (stap names it in errors)
    return_type_name: str = ""
    unit: int = 0  # offset of its compilation unit (whose globals `$name` may also name)
    linkage_name: str | None = None  # DW_AT_linkage_name: the symbol the compiler gave it
    aliases: tuple[str, ...] = ()  # other symbols at its address: function("malloc") finds __libc_malloc
    cache_entries: tuple[tuple[int, str], ...] = ()  # (position, name) in stap's cache, if it shares its address

    def named(self, pattern: str) -> bool:
        """True when `pattern` (a glob) matches the function's name or one of its symbol aliases."""
        return fnmatch.fnmatchcase(self.name, pattern) or any(fnmatch.fnmatchcase(a, pattern) for a in self.aliases)

    @property
    def qualified(self) -> str:
        """`name@file:line` as stap prints the resolved function, or just `name` without DWARF."""
        if self.decl_file is None:
            return self.name
        return f"{self.name}@{self.decl_file}:{self.decl_line}"


@dataclass
class LineRow:
    address: int
    file: str
    line: int
    is_stmt: bool


@dataclass
class DebugIndex:
    """Everything -L, resolution and capture planning need from one binary.

    Two parts, cached apart: the functions (with their variables' type names) are
    all a listing needs; the type table and line rows (`types`, `lines`, large for
    a library like libc) are loaded from their own cache file on first use.
    """

    path: str
    build_id: str | None
    has_dwarf: bool
    functions: list[DwarfFunction] = field(default_factory=list)
    debug_path: str | None = None  # where the DWARF came from (the binary or a .debug file)
    unit_variables: dict[int, list[DwarfVariable]] = field(default_factory=dict)  # file-scope variables by unit
    _types: dict[int, DwarfType] | None = field(default_factory=dict, repr=False)
    _lines: list[LineRow] | None = field(default_factory=list, repr=False)
    _detail_file: Path | None = field(default=None, repr=False)
    _by_address: list[LineRow] | None = field(default=None, repr=False)  # `lines` sorted by address

    @property
    def types(self) -> dict[int, DwarfType]:
        if self._types is None:
            self._load_detail()
        return self._types

    @property
    def lines(self) -> list[LineRow]:
        if self._lines is None:
            self._load_detail()
        return self._lines

    def _load_detail(self) -> None:
        detail = _read_cache(self._detail_file) if self._detail_file else None
        if not isinstance(detail, tuple):
            fresh = build_index(elfinfo.read_image(self.path))
            detail = (fresh._types, fresh._lines)
        self._types, self._lines = detail

    def __getstate__(self) -> dict:
        """Pickle only the light part; the detail is written to its own file."""
        state = dict(self.__dict__)
        state.update(_types=None, _lines=None, _detail_file=None, _by_address=None)
        return state

    def type_name(self, offset: int | None) -> str:
        return type_name(self.types, offset)

    def rows_in(self, low: int, high: int) -> list[LineRow]:
        """The line rows for addresses in [low, high), by address (rows at one address
        keep their line-table order)."""
        if self._by_address is None:
            self._by_address = sorted(self.lines, key=lambda r: r.address)
        start = bisect.bisect_left(self._by_address, low, key=lambda r: r.address)
        end = bisect.bisect_left(self._by_address, high, key=lambda r: r.address)
        return self._by_address[start:end]

    def function_lines(self, function: DwarfFunction) -> dict[int, LineRow]:
        """The lines of the function's own file with code in it (not those of inlined
        headers), each with its lowest-addressed row, is_stmt or not: stap probes a line
        where its first instruction is."""
        first: dict[int, LineRow] = {}
        for row in self.rows_in(function.low_pc, function.high_pc):
            if row.line not in first and row.file == function.decl_file:
                first[row.line] = row
        return first

    def entry_line(self, function: DwarfFunction) -> int | None:
        """The line stap gives the function's entry address: its last row there."""
        rows = [r for r in self.rows_in(function.low_pc, function.low_pc + 1) if r.file == function.decl_file]
        return rows[-1].line if rows else None


# ---------------------------------------------------------------------------
# Type names, stap style


_NAMED_PREFIX = {"structure_type": "struct ", "union_type": "union ", "enumeration_type": "enum ", "class_type": "class "}
_SUFFIX = {"const_type": " const", "volatile_type": " volatile", "pointer_type": "*", "array_type": "[]",
           "reference_type": "&", "rvalue_reference_type": "&&", "restrict_type": " restrict"}


def type_name(types: dict[int, DwarfType], offset: int | None) -> str:
    """stap's spelling of a type: the referent first, then each modifier as a suffix."""
    if offset is None:
        return "void"
    t = types.get(offset)
    if t is None:
        return "void"
    if t.tag in ("base_type", "typedef", "unspecified_type") or t.tag in _NAMED_PREFIX:
        return _NAMED_PREFIX.get(t.tag, "") + (t.name or "{...}")
    target = types.get(t.target) if t.target is not None else None
    if t.tag == "pointer_type" and target is not None and target.tag == "structure_type" and target.name == "__va_list_tag":
        return "va_list"  # the builtin's DWARF spelling, named as stap names it
    if t.tag == "pointer_type" and target is not None and target.tag == "subroutine_type":
        sub = types[t.target]
        return f"{type_name(types, sub.target)} (*) ({_param_list(types, sub)})"
    if t.tag == "subroutine_type":
        return f"{type_name(types, t.target)} ({_param_list(types, t)})"
    return type_name(types, t.target) + _SUFFIX.get(t.tag, "")


def _param_list(types: dict[int, DwarfType], sub: DwarfType) -> str:
    if not sub.params:
        return "void" if sub.prototyped else ""
    return ", ".join(type_name(types, p) for p in sub.params)


def strip_typedefs(types: dict[int, DwarfType], offset: int | None) -> DwarfType | None:
    """The type under any typedef/const/volatile layers (None for void)."""
    seen = 0
    while offset is not None and seen < 64:
        t = types.get(offset)
        if t is None or t.tag not in ("typedef", "const_type", "volatile_type", "restrict_type"):
            return t
        offset = t.target
        seen += 1
    return None


def resolve_offset(types: dict[int, DwarfType], offset: int | None) -> int | None:
    """Like strip_typedefs, but returns the offset of the underlying type."""
    while offset is not None:
        t = types.get(offset)
        if t is None or t.tag not in ("typedef", "const_type", "volatile_type", "restrict_type"):
            return offset
        offset = t.target
    return None


def find_type(index: DebugIndex, text: str) -> int | None:
    """The DIE offset of a type named like stap's @cast: "struct point", "union u", "size_t", "int"."""
    word, _, name = text.strip().partition(" ")
    tags = {"struct": ("structure_type", "class_type"), "union": ("union_type",), "enum": ("enumeration_type",)}
    wanted = tags.get(word, ("typedef", "base_type"))
    name = name.strip() if word in tags else text.strip()
    found = None
    for offset, t in index.types.items():
        if t.tag in wanted and t.name == name:
            if not t.declaration:
                return offset
            found = offset
    return found


def file_matches(path: str, pattern: str) -> bool:
    """stap's file matching: a full-path glob, or a glob of the trailing path components."""
    if fnmatch.fnmatchcase(path, pattern):
        return True
    return not pattern.startswith("/") and fnmatch.fnmatchcase(path, "*/" + pattern)


# ---------------------------------------------------------------------------
# Building the index from DWARF


def _attr(die, name: str, default=None):
    attribute = die.attributes.get(name)
    return attribute.value if attribute is not None else default


def _text(die, name: str) -> str | None:
    value = _attr(die, name)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _origin(die):
    """Follow DW_AT_abstract_origin / DW_AT_specification to the DIE holding names and types."""
    for link in ("DW_AT_abstract_origin", "DW_AT_specification"):
        if link in die.attributes:
            return _origin(die.get_DIE_from_attribute(link))
    return die


def _enclosing_subprogram(die):
    """The function an inlined copy sits in: its variables live in that function's frame."""
    parent = die.get_parent()
    while parent is not None and parent.tag != "DW_TAG_subprogram":
        parent = parent.get_parent()
    return parent if parent is not None else die


def _type_ref(die) -> int | None:
    if "DW_AT_type" not in die.attributes:
        return None
    return die.get_DIE_from_attribute("DW_AT_type").offset


class _CuIndexer:
    """Indexes one compilation unit: its types, functions (and inlined instances), lines."""

    def __init__(self, dwarf, cu, index: DebugIndex, location_parser: LocationParser, beyond: _Beyond):
        self.dwarf = dwarf
        self.cu = cu
        self.index = index
        self.locations = location_parser
        self.top = cu.get_top_DIE()
        self.comp_dir = _text(self.top, "DW_AT_comp_dir") or ""
        self.cu_name = _text(self.top, "DW_AT_name") or ""
        self.base = _attr(self.top, "DW_AT_low_pc", 0) or 0
        self.optimized = producer_optimized(_text(self.top, "DW_AT_producer") or "")
        self.files = self._file_table()
        self.rows: list[LineRow] = self._line_rows()
        self.inlines: list[DwarfFunction] = []  # listed after the unit's out-of-line functions, as stap does
        self.beyond = beyond

    # -- files and lines ---------------------------------------------------------

    def _file_table(self) -> list[str]:
        program = self.dwarf.line_program_for_CU(self.cu)
        if program is None:
            return []
        directories = [d.decode("utf-8", "replace") for d in program["include_directory"]]
        version = program["version"]
        if version < 5:
            directories.insert(0, self.comp_dir)
        files = []
        for entry in program["file_entry"]:
            directory = directories[entry.dir_index] if entry.dir_index < len(directories) else ""
            name = entry.name.decode("utf-8", "replace")
            files.append(name if name.startswith("/") or not directory else f"{directory}/{name}")
        return files if version >= 5 else [""] + files

    def _file(self, number: int | None) -> str | None:
        if number is None or not 0 <= number < len(self.files):
            return None
        return self.files[number]

    def _line_rows(self) -> list[LineRow]:
        program = self.dwarf.line_program_for_CU(self.cu)
        if program is None:
            return []
        rows = []
        for entry in program.get_entries():
            state = entry.state
            if state is None or state.end_sequence:
                continue
            rows.append(LineRow(state.address, self._file(state.file) or "", state.line, bool(state.is_stmt)))
        return rows

    # -- types --------------------------------------------------------------------

    def add_type(self, die) -> None:
        tag = die.tag[len("DW_TAG_"):]
        t = DwarfType(tag, _text(die, "DW_AT_name"), _attr(die, "DW_AT_byte_size"), target=_type_ref(die))
        t.declaration = bool(_attr(die, "DW_AT_declaration", False))
        t.prototyped = bool(_attr(die, "DW_AT_prototyped", False))
        if tag == "base_type":
            t.signed = _attr(die, "DW_AT_encoding") in (0x5, 0x6, 0xD)  # signed, signed_char, signed_fixed
        elif tag == "enumeration_type":
            t.signed = any(_attr(c, "DW_AT_const_value", 0) < 0 for c in die.iter_children())
        for child in die.iter_children():
            if child.tag == "DW_TAG_member":
                t.members.append((_text(child, "DW_AT_name") or "", _member_offset(child), _type_ref(child)))
            elif child.tag == "DW_TAG_subrange_type":
                t.bounds.append(_subrange_count(child))
            elif child.tag == "DW_TAG_formal_parameter":
                t.params.append(_type_ref(child))
        self.index.types[die.offset] = t

    # -- functions --------------------------------------------------------------------

    def add_function(self, die) -> None:
        origin = _origin(die)
        if _attr(origin, "DW_AT_inline") in (1, 3) and die is origin:
            return  # the abstract instance: the concrete copies are indexed instead
        span = self._pc_range(die)
        name = _text(origin, "DW_AT_name")
        if span is None and name and die.tag == "DW_TAG_subprogram" and "DW_AT_declaration" not in die.attributes:
            self.beyond.codeless.add(_text(origin, "DW_AT_linkage_name") or name)
        if span is None or not name:
            return
        low, high = span
        inlined = die.tag == "DW_TAG_inlined_subroutine"
        entry = _attr(die, "DW_AT_entry_pc")
        entry = low if entry is None else (entry if entry >= low else low + entry)
        function = DwarfFunction(
            name=name,
            decl_file=self._file(_attr(origin, "DW_AT_decl_file")),
            decl_line=_attr(origin, "DW_AT_decl_line"),
            low_pc=low,
            high_pc=high,
            pc=entry if (inlined or self.optimized) else self._after_prologue(entry, high),
            cu=self.cu_name,
            unit=self.cu.cu_offset,
            inlined=inlined,
            frame_base=self._location(_enclosing_subprogram(die) if inlined else die, "DW_AT_frame_base"),
            return_type=_type_ref(origin),
            die=die.offset,
            linkage_name=_text(origin, "DW_AT_linkage_name") or _text(origin, "DW_AT_MIPS_linkage_name"),
        )
        function.variables = self._scope_variables(die, None)
        (self.inlines if inlined else self.index.functions).append(function)

    def _pc_range(self, die) -> tuple[int, int] | None:
        spans = self._pc_spans(die)
        if not spans:
            return None
        self.beyond.extra_ranges.extend(spans[1:])  # a split function's cold parts: their symbols are not listed apart
        return spans[0]

    def _pc_spans(self, die) -> list[tuple[int, int]]:
        """The address ranges of a DIE: its low/high pc, or its DW_AT_ranges list."""
        low = _attr(die, "DW_AT_low_pc")
        if low is not None and "DW_AT_high_pc" in die.attributes:
            high_attr = die.attributes["DW_AT_high_pc"]
            high = high_attr.value if high_attr.form == "DW_FORM_addr" else low + high_attr.value
            return [(low, high)]
        ranges = self.dwarf.range_lists()
        if "DW_AT_ranges" not in die.attributes or ranges is None:
            return []
        entries = ranges.get_range_list_at_offset(die.attributes["DW_AT_ranges"].value, cu=self.cu)
        base = self.base
        spans = []
        for entry in entries:
            if hasattr(entry, "base_address"):
                base = entry.base_address
                continue
            absolute = getattr(entry, "is_absolute", False)
            start = entry.begin_offset if absolute else base + entry.begin_offset
            spans.append((start, entry.end_offset if absolute else base + entry.end_offset))
        return spans

    def _after_prologue(self, entry: int, high: int) -> int:
        """stap's prologue search: the first line row after the entry row that moves on."""
        rows = sorted((r for r in self.rows if entry <= r.address < high), key=lambda r: r.address)
        if not rows or rows[0].address != entry:
            return entry
        first = rows[0]
        for row in rows[1:]:
            if row.address != first.address or row.line != first.line or row.file != first.file:
                return row.address if row.address > entry else entry
        return entry

    def _scope_variables(self, die, scope: list[tuple[int, int]] | None) -> list[DwarfVariable]:
        """The variables of a function or lexical block, those of nested blocks first (with
        the block's addresses as their scope): stap lists the innermost scope first."""
        inner: list[DwarfVariable] = []
        own: list[DwarfVariable] = []
        for child in die.iter_children():
            if child.tag == "DW_TAG_lexical_block":
                spans = self._pc_spans(child)
                inner += self._scope_variables(child, spans) if spans else []
                continue
            variable = self._variable(child)
            if variable is not None:
                variable.scope = scope
                own.append(variable)
        return inner + own

    def _variable(self, die) -> DwarfVariable | None:
        if die.tag not in ("DW_TAG_formal_parameter", "DW_TAG_variable"):
            return None
        origin = _origin(die)
        name = _text(origin, "DW_AT_name")
        if not name:
            return None
        const = _attr(die, "DW_AT_const_value")
        return DwarfVariable(
            name,
            die.tag == "DW_TAG_formal_parameter",
            _type_ref(origin),
            self._location(die, "DW_AT_location"),
            const if isinstance(const, int) else None,
        )

    def _location(self, die, attribute: str) -> Location | None:
        attr = die.attributes.get(attribute)
        if attr is None:
            return None
        parsed = self.locations.parse_from_attribute(attr, self.cu["version"], die)
        if isinstance(parsed, LocationExpr):
            return Location(expr=bytes(parsed.loc_expr))
        ranges = []
        base = self.base
        for entry in parsed:
            if isinstance(entry, BaseAddressEntry):
                base = entry.base_address
            elif isinstance(entry, LocationEntry):
                absolute = getattr(entry, "is_absolute", False)
                low = entry.begin_offset if absolute else base + entry.begin_offset
                high = entry.end_offset if absolute else base + entry.end_offset
                ranges.append((low, high, bytes(entry.loc_expr)))
        return Location(ranges=sorted(ranges, key=lambda r: (r[0], r[1])))

    def add_unit_variable(self, die) -> None:
        """A global or file-static variable with a location (DW_OP_addr)."""
        variable = self._variable(die)
        if variable is not None and variable.location is not None:
            self.index.unit_variables.setdefault(self.cu.cu_offset, []).append(variable)

    # -- walking ----------------------------------------------------------------------

    def run(self) -> None:
        """Walk the unit depth first in DIE order (stap lists matches in this order)."""
        stack = [self.top.iter_children()]
        while stack:
            child = next(stack[-1], None)
            if child is None:
                stack.pop()
                continue
            if child.tag in ("DW_TAG_subprogram", "DW_TAG_inlined_subroutine"):
                self.add_function(child)
            elif child.tag == "DW_TAG_variable" and len(stack) == 1:
                self.add_unit_variable(child)
            elif child.tag in _TYPE_TAGS:
                self.add_type(child)
            if child.has_children and child.tag != "DW_TAG_enumeration_type":
                stack.append(child.iter_children())
        self.index.functions.extend(self.inlines)
        self.index.lines.extend(self.rows)


_TYPE_TAGS = frozenset(
    "DW_TAG_" + t
    for t in (
        "base_type pointer_type structure_type union_type enumeration_type class_type typedef const_type "
        "volatile_type restrict_type array_type subroutine_type reference_type rvalue_reference_type "
        "unspecified_type"
    ).split()
)


def _member_offset(die) -> int:
    value = _attr(die, "DW_AT_data_member_location", 0)
    return value if isinstance(value, int) else 0


def _subrange_count(die) -> int | None:
    count = _attr(die, "DW_AT_count")
    if isinstance(count, int):
        return count
    upper = _attr(die, "DW_AT_upper_bound")
    return upper + 1 if isinstance(upper, int) else None


def producer_optimized(producer: str) -> bool:
    """True when GCC optimised the unit, so stap trusts locations at the entry pc (has_valid_locs)."""
    if not producer.startswith("GNU "):
        return False
    levels = re.findall(r"(?:^| )-O(\w*)", producer)
    return bool(levels) and levels[-1] != "0"


# ---------------------------------------------------------------------------
# Building from symbols only


def _attach_symbols(functions: list[DwarfFunction], image: elfinfo.ElfImage) -> None:
    """What the symbol table says of each DWARF function: its other names, and whether
    it is exported. Both start from the symbol its linkage name (else its name) names.

    Aliases: glibc's DWARF calls malloc `__libc_malloc` (linkage name
    `__GI___libc_malloc`); `malloc`, `__malloc` and `__libc_malloc` are symbols at the
    same address. stap (module_info::update_symtab) lets every other function symbol at
    that symbol's address name the function too. stap does not check that the symbol is
    at the function's own address, so a name that several static functions share could
    lend one's aliases to the others; here the symbol must be the function's own.

    Exported (`.exported`): stap's func_is_exported takes the first symbol of that name
    and asks for a global or weak function, so `__libc_malloc`, whose linkage name is a
    local symbol, is not exported although its DWARF says external.
    """
    first_named: dict[str, elfinfo.ElfSymbol] = {}
    at_address: dict[int, list[elfinfo.ElfSymbol]] = {}
    for symbol in image.symbols:
        first_named.setdefault(symbol.name, symbol)
    for symbol in image.function_symbols():
        at_address.setdefault(symbol.address, []).append(symbol)
    others: dict[int, tuple[str, ...]] = {}  # by id: the names update_symtab adds for the function
    for function in functions:
        key = function.linkage_name or function.name
        named = first_named.get(key)
        function.exported = named is not None and named.is_function and named.is_global
        names = [s.name for s in at_address.get(function.low_pc, [])]
        if not function.inlined and key in names:
            others[id(function)] = tuple(n for n in names if n != key)
            function.aliases = tuple(n for n in others[id(function)] if n != function.name)
    _order_shared_addresses([f for f in functions if not f.inlined], others)


def _order_shared_addresses(functions: list[DwarfFunction], others: dict[int, tuple[str, ...]]) -> None:
    """Where a unit has several functions at one address (assembly's `kill` and
    `__GI_kill`), note each one's entries in stap's function cache of the unit: stap
    probes the first entry whose name matches, and names the probe after its function."""
    units: dict[int, list[DwarfFunction]] = {}
    for function in functions:
        units.setdefault(function.unit, []).append(function)
    for members in units.values():
        addresses = collections.Counter(f.low_pc for f in members)
        if max(addresses.values()) < 2:
            continue
        order = stap_order.cache_order([(f.name, others.get(id(f), ())) for f in members])
        for position, (name, index) in enumerate(order):
            function = members[index]
            if addresses[function.low_pc] > 1:
                function.cache_entries += ((position, name),)


@dataclass
class _Beyond:
    """What DWARF says beyond the functions it indexes, for the symbol-table pass: the
    other ranges of split functions (their .cold parts), and the names of subprograms
    it describes without code (glibc's compat stub mtrace: only the symbol table has its
    address; stap ties that symbol to the DIE, so it is no symbol-only function)."""

    extra_ranges: list[tuple[int, int]] = field(default_factory=list)
    codeless: set[str] = field(default_factory=set)


def _symbol_functions(image: elfinfo.ElfImage, described: list[DwarfFunction], beyond: _Beyond) -> list[DwarfFunction]:
    """Functions the symbol table has that DWARF does not describe (stap lists them too);
    aliases of described functions (same address, another name) are left out, as stap does,
    and so are the symbols at the address of a symbol a codeless subprogram names."""
    known = {f.name for f in described}
    covered = sorted([(f.low_pc, f.high_pc) for f in described if not f.inlined] + beyond.extra_ranges)
    taken = {s.address for s in image.function_symbols() if s.name in beyond.codeless}
    functions = []
    for symbol in image.function_symbols():
        if symbol.name in known or symbol.address in taken or _covered(covered, symbol.address):
            continue
        functions.append(
            DwarfFunction(
                name=symbol.name,
                decl_file=None,
                decl_line=None,
                low_pc=symbol.address,
                high_pc=symbol.address + max(symbol.size, 1),
                pc=symbol.address,
                cu="",
                exported=True,  # stap's .exported does not filter what only the symbol table knows
                has_dwarf=False,
            )
        )
    return functions


def _place_by_line_table(functions: list[DwarfFunction], lines: list[LineRow]) -> None:
    """Assembly functions have no declaration, but their unit's line table names the file
    and line of their first instruction; stap shows them as `name@file:line`, so do we."""
    first_row: dict[int, LineRow] = {}
    for row in lines:
        first_row.setdefault(row.address, row)
    for function in functions:
        row = first_row.get(function.low_pc)
        if row is not None:
            function.decl_file, function.decl_line = row.file, row.line


def _covered(ranges: list[tuple[int, int]], address: int) -> bool:
    i = bisect.bisect_right(ranges, (address, float("inf"))) - 1
    return i >= 0 and ranges[i][0] <= address < ranges[i][1]


# ---------------------------------------------------------------------------
# Entry points


class DebugInfoProblem(Exception):
    """The binary's debug information is missing or unusable; the message says which and why."""


def build_index(image: elfinfo.ElfImage) -> DebugIndex:
    """Index `image` (its own DWARF, or the separate debug file found for it)."""
    debug_path = elfinfo.find_debug_file(image)
    index = DebugIndex(image.path, image.build_id, debug_path is not None, debug_path=debug_path)
    beyond = _Beyond()
    if debug_path is not None:
        try:
            with open(debug_path, "rb") as stream:
                _index_dwarf(ELFFile(stream), index, beyond)
        except Exception as error:  # pyelftools raises many kinds on malformed DWARF; none may escape
            raise DebugInfoProblem(f"cannot read the debug information in {debug_path}: {error}") from None
        for function in index.functions:
            function.return_type_name = type_name(index.types, function.return_type)
            for variable in function.variables:
                variable.type_name = type_name(index.types, variable.type)
        for variables in index.unit_variables.values():
            for variable in variables:
                variable.type_name = type_name(index.types, variable.type)
    if debug_path is not None and debug_path != image.path:
        image = elfinfo.read_image(debug_path)  # its .symtab has the local symbols a stripped file lost
    _attach_symbols(index.functions, image)
    index.functions.extend(_symbol_functions(image, index.functions, beyond))
    _place_by_line_table([f for f in index.functions if f.decl_file is None], index.lines)
    return index


def _index_dwarf(elf: ELFFile, index: DebugIndex, beyond: _Beyond) -> None:
    dwarf = elf.get_dwarf_info()
    parser = LocationParser(dwarf.location_lists())
    for cu in dwarf.iter_CUs():
        _CuIndexer(dwarf, cu, index, parser, beyond).run()


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "stapui" / "debuginfo"


_MEMORY: dict[tuple[str, str | None], DebugIndex] = {}


def load_index(path: str, *, use_cache: bool = True) -> DebugIndex:
    """The index of binary `path`: from memory, the on-disk cache (by build-id), or built now."""
    image = elfinfo.read_image(path, symbols=False)
    key = (os.path.realpath(path), image.build_id)
    if key in _MEMORY:
        return _MEMORY[key]
    cache_file = _cache_file(image) if image.build_id else None
    detail_file = cache_file.with_suffix(".detail") if cache_file else None
    index = _read_cache(cache_file) if use_cache and cache_file else None
    if not isinstance(index, DebugIndex):
        index = build_index(elfinfo.read_image(path))
        if cache_file is not None:
            _drop_old_formats(cache_file)
            _write_cache(detail_file, (index._types, index._lines))
            _write_cache(cache_file, index)
    else:
        index._detail_file = detail_file
    index.path = path
    _MEMORY[key] = index
    return index


def _cache_file(image: elfinfo.ElfImage) -> Path:
    """`<build-id>-<source>.vN.pickle`: the build-id names the code; the source of the
    debug information (a stripped copy has none) is part of the key too."""
    import hashlib

    source = elfinfo.find_debug_file(image) or "symbols:" + os.path.realpath(image.path)
    digest = hashlib.sha1(source.encode()).hexdigest()[:8]
    return cache_dir() / f"{image.build_id}-{digest}.v{INDEX_FORMAT}.pickle"


def _drop_old_formats(cache_file: Path) -> None:
    """Remove this binary's index files of earlier INDEX_FORMATs (they are never read again)."""
    stem = cache_file.name.split(".v")[0]
    for old in cache_file.parent.glob(f"{stem}.v*"):
        if not old.name.startswith(f"{stem}.v{INDEX_FORMAT}."):
            try:
                old.unlink()
            except OSError:
                pass


def _read_cache(cache_file: Path):
    try:
        with open(cache_file, "rb") as stream:
            return pickle.load(stream)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, TypeError):
        return None


def _write_cache(cache_file: Path, index) -> None:
    """Write atomically so parallel listings never read a half-written file."""
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        partial = cache_file.with_name(f"{cache_file.name}.{os.getpid()}.tmp")
        with open(partial, "wb") as stream:
            pickle.dump(index, stream, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(partial, cache_file)
    except OSError:
        pass  # a read-only cache only costs speed
