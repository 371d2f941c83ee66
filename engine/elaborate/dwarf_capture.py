"""Capture plans: where a DWARF variable (or `$p->x`, `$a[2]`) lives at a probe address.

A `Capture` is what the kernel side must do when the probe fires, written so a BPF
program can follow it without knowing DWARF: start from one register of the
interrupted user context (struct pt_regs), add a constant (plus the module's load
address for globals of position-independent files), then run the steps in order —
`load N` reads N bytes of user memory at the current value (bpf_probe_read_user)
and `add K` adds a constant. The final value is truncated to `size` bytes and sign-
or zero-extended per `signed`. Example, `$p->next->x` with `p` in %rdi at -O2:

    rdi; add 24; load 8; add 0; load 4 (signed)

Location expressions handled: DW_OP_reg*/regx, breg*/bregx, fbreg through the
function's frame base (including DW_OP_call_frame_cfa, read from .eh_frame or
.debug_frame at the probe address), addr, lit*/const*, plus_uconst, stack_value and
DW_OP_entry_value of a register at the function's first instruction. Anything else is
reported as unsupported with the operation's name, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from elftools.elf.elffile import ELFFile

from engine.elaborate.dwarf import DebugIndex, DwarfFunction, DwarfType, DwarfVariable, resolve_offset, strip_typedefs
from engine.elaborate.elf import REGISTERS_BY_DWARF


class CaptureProblem(Exception):
    """A value that cannot be captured; the message says why (stap-like wording)."""


@dataclass(frozen=True)
class Step:
    kind: str  # "load" or "add"
    amount: int  # bytes to load, or the addend
    signed: bool = False

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"


@dataclass(frozen=True)
class Capture:
    """A register-relative recipe for one integer value at probe time (see module doc)."""

    register: str | None  # start value: this register, or 0 (see `source`)
    offset: int = 0
    load_base: bool = False  # add the load address of the module (PIE/shared-object globals)
    steps: tuple[Step, ...] = ()
    size: int = 8
    signed: bool = False
    at_entry: bool = False  # @entry(...) in a return probe: captured when the function is entered
    source: str = "pt_regs"  # "pt_regs": `register` names a register; "raw_tracepoint": "argN" = ctx->args[N]
    memory: str = "user"  # what `load` reads: "user" (bpf_probe_read_user) or "kernel"

    def then(self, *steps: Step) -> "Capture":
        return replace(self, steps=self.steps + steps)

    def describe(self) -> str:
        """`rbp-20; load 4 (signed)`: the plan in one line for explain() and the engine panel."""
        start = self.register or "0"
        if self.source == "raw_tracepoint" and self.register:
            start = f"args[{self.register[3:]}]"
        if self.offset:
            start += f"{self.offset:+d}" if self.register else f"0x{self.offset:x}"
        if self.load_base:
            start += " + load base"
        parts = [start] + [str(s) for s in self.steps]
        text = "; ".join(parts) + f" -> {self.size} bytes" + (", signed" if self.signed else "")
        if self.memory == "kernel" and self.steps:
            text += ", kernel memory"
        return ("at entry: " if self.at_entry else "") + text


@dataclass
class PrettyPlan:
    """`$var$`, `$$vars` ...: text pieces and captured values, formatted into one string.

    Each item is a literal string or a (Capture, format) pair, format one of "%d",
    "%#x", "string" (a NUL-terminated string read at probe time, printed quoted).
    """

    items: list = field(default_factory=list)

    def text(self) -> str:
        """The shape with placeholders, for explain(): `{.x=%d, .label=%s}`."""
        return "".join(i if isinstance(i, str) else ("%s" if i[1] == "string" else i[1]) for i in self.items)


@dataclass(frozen=True)
class EntryString:
    """`@entry(user_string($ptr))` in a return probe: the string as it is at the function's
    entry (capture_bpf stashes it there; user_string(@entry($ptr)) reads it at the return)."""

    pointer: Capture  # captured at entry


def spelled(expr) -> str:
    """`$p->next->x`, `$argv[0]`: a TargetSymbol as written, for descriptions."""
    text = getattr(expr, "name", "")
    for component in expr.components:
        if component.kind == "member":
            text += "->" + component.name
        else:
            text += f"[{getattr(component.index, 'value', '?')}]"
    return text


def component_token(component) -> str:
    """How stap names a target component in errors: "operator '->'" or "operator '['"."""
    return "operator '->'" if component.kind == "member" else "operator '['"


@dataclass(frozen=True)
class Place:
    """Where a typed value is: its address (`is_address`) or the value itself."""

    capture: Capture
    is_address: bool
    type: int | None  # DIE offset of the value's type


# ---------------------------------------------------------------------------
# Call-frame information: the CFA rule at an address


_CFA_CACHE: dict[str, list[tuple[int, int, list]]] = {}


def cfa_at(path: str, pc: int) -> tuple[str, int]:
    """(register, offset) such that CFA = register + offset at `pc`, from the binary's CFI."""
    for start, end, rows in _cfi_table(path):
        if start <= pc < end:
            rule = None
            for row in rows:
                if row["pc"] <= pc:
                    rule = row["cfa"]
            if rule is None or rule.reg is None:
                raise CaptureProblem(f"the call-frame rule at 0x{pc:x} is an expression (unsupported)")
            return REGISTERS_BY_DWARF[rule.reg].name, rule.offset
    raise CaptureProblem(f"no call-frame information covers 0x{pc:x} in {path}")


def _cfi_table(path: str) -> list[tuple[int, int, list]]:
    if path not in _CFA_CACHE:
        with open(path, "rb") as stream:
            dwarf = ELFFile(stream).get_dwarf_info(relocate_dwarf_sections=False)
            entries = dwarf.EH_CFI_entries() if dwarf.has_EH_CFI() else dwarf.CFI_entries() if dwarf.has_CFI() else []
            table = []
            for entry in entries:
                header = getattr(entry, "header", None)
                if header is None or "initial_location" not in header:
                    continue  # a CIE or a terminator
                start = header["initial_location"]
                table.append((start, start + header["address_range"], entry.get_decoded().table))
        _CFA_CACHE[path] = table
    return _CFA_CACHE[path]


# ---------------------------------------------------------------------------
# Location expressions


def _leb128(data: bytes, pos: int, signed: bool) -> tuple[int, int]:
    """Decode one (U|S)LEB128 number at `pos`; returns (value, next position)."""
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            if signed and byte & 0x40:
                result -= 1 << shift
            return result, pos


def _uleb(data: bytes, pos: int) -> tuple[int, int]:
    return _leb128(data, pos, False)


def _sleb(data: bytes, pos: int) -> tuple[int, int]:
    return _leb128(data, pos, True)


_FIXED_CONSTS = {0x08: (1, False), 0x09: (1, True), 0x0A: (2, False), 0x0B: (2, True),
                 0x0C: (4, False), 0x0D: (4, True), 0x0E: (8, False), 0x0F: (8, True)}
_OP_NAMES = {0x06: "DW_OP_deref", 0x93: "DW_OP_piece", 0x9D: "DW_OP_bit_piece", 0x9E: "DW_OP_implicit_value",
             0xA0: "DW_OP_implicit_pointer", 0xF2: "DW_OP_GNU_implicit_pointer", 0x12: "DW_OP_dup",
             0x1C: "DW_OP_minus", 0x22: "DW_OP_plus"}


class _Evaluator:
    """Evaluates one location expression symbolically into a Place (address or value)."""

    def __init__(self, index: DebugIndex, function: DwarfFunction, pc: int, pie: bool):
        self.index = index
        self.function = function
        self.pc = pc
        self.pie = pie

    def place(self, expr: bytes, type_offset: int | None) -> Place:
        stack: list[Capture] = []
        pos = 0
        while pos < len(expr):
            op = expr[pos]
            pos += 1
            if 0x50 <= op <= 0x6F or op == 0x90:  # DW_OP_reg*, regx: the value is in a register
                number, pos = (op - 0x50, pos) if op != 0x90 else _uleb(expr, pos)
                return Place(Capture(_register(number)), False, type_offset)
            if op == 0x9F:  # DW_OP_stack_value
                return Place(stack[-1], False, type_offset)
            pos = self._push(op, expr, pos, stack)
        if not stack:
            raise CaptureProblem("empty location expression")
        return Place(stack[-1], True, type_offset)

    def _push(self, op: int, expr: bytes, pos: int, stack: list[Capture]) -> int:
        if 0x70 <= op <= 0x8F or op == 0x92:  # DW_OP_breg*, bregx
            number, pos = (op - 0x70, pos) if op != 0x92 else _uleb(expr, pos)
            offset, pos = _sleb(expr, pos)
            stack.append(Capture(_register(number), offset))
        elif op == 0x91:  # DW_OP_fbreg
            offset, pos = _sleb(expr, pos)
            base = self.frame_base()
            stack.append(replace(base, offset=base.offset + offset))
        elif op == 0x9C:  # DW_OP_call_frame_cfa
            register, offset = cfa_at(self.index.path, self.pc)
            stack.append(Capture(register, offset))
        elif op == 0x03:  # DW_OP_addr
            stack.append(Capture(None, int.from_bytes(expr[pos : pos + 8], "little"), load_base=self.pie))
            pos += 8
        elif 0x30 <= op <= 0x4F:  # DW_OP_lit*
            stack.append(Capture(None, op - 0x30))
        elif op in _FIXED_CONSTS:
            size, signed = _FIXED_CONSTS[op]
            stack.append(Capture(None, int.from_bytes(expr[pos : pos + size], "little", signed=signed)))
            pos += size
        elif op in (0x10, 0x11):  # DW_OP_constu, consts
            value, pos = _uleb(expr, pos) if op == 0x10 else _sleb(expr, pos)
            stack.append(Capture(None, value))
        elif op == 0x23:  # DW_OP_plus_uconst
            value, pos = _uleb(expr, pos)
            stack[-1] = replace(stack[-1], offset=stack[-1].offset + value)
        elif op in (0xA3, 0xF3):  # DW_OP_entry_value, DW_OP_GNU_entry_value
            pos = self._entry_value(expr, pos, stack)
        else:
            name = _OP_NAMES.get(op, f"operation 0x{op:02x}")
            raise CaptureProblem(f"location expression uses {name}, which this translator cannot capture")
        return pos

    def _entry_value(self, expr: bytes, pos: int, stack: list[Capture]) -> int:
        """The value a register had on entry: only knowable at the entry itself."""
        length, pos = _uleb(expr, pos)
        inner = expr[pos : pos + length]
        if self.pc != self.function.low_pc or not inner or not (0x50 <= inner[0] <= 0x6F):
            raise CaptureProblem("the value is only known as the entry value of a register here (optimized away)")
        stack.append(Capture(_register(inner[0] - 0x50)))
        return pos + length

    def frame_base(self) -> Capture:
        location = self.function.frame_base
        expr = location.at(self.pc) if location else None
        if expr is None:
            raise CaptureProblem(f"no frame base for {self.function.name} at 0x{self.pc:x}")
        place = self.place(expr, None)
        return place.capture


def _register(number: int) -> str:
    register = REGISTERS_BY_DWARF.get(number)
    if register is None:
        raise CaptureProblem(f"DWARF register {number} is not an integer register")
    return register.name


# ---------------------------------------------------------------------------
# Typed access: variables, members, indexes, final values


@dataclass
class Planner:
    """Plans captures for one function at one probe address."""

    index: DebugIndex
    function: DwarfFunction | None  # None when only types are needed (@cast)
    pc: int
    pie: bool

    @property
    def types(self) -> dict[int, DwarfType]:
        return self.index.types

    def variable(self, name: str) -> DwarfVariable:
        """A local or parameter live at the probe, else a global of the function's unit (as stap)."""
        for variable in self.function.variables:
            if variable.name == name and variable.available_at(self.pc):
                return variable
        for variable in self.index.unit_variables.get(self.function.unit, []):
            if variable.name == name:
                return variable
        raise CaptureProblem(self.missing_local(name))

    def missing_local(self, name: str) -> str:
        """stap's message, unbalanced parenthesis included."""
        function = self.function
        alternatives = ", ".join("$" + v.name for v in function.variables if v.available_at(self.pc))
        return (
            f"unable to find local '{name}', [man error::dwarf] dieoffset 0x{function.die:x} in {self.index.path}, "
            f"near pc 0x{self.pc:x} in {function.name} {function.decl_file} (alternatives: {alternatives}))"
        )

    def place_of(self, variable: DwarfVariable) -> Place:
        if variable.const_value is not None:
            return Place(Capture(None, variable.const_value), False, variable.type)
        expr = variable.location.at(self.pc) if variable.location else None
        if expr is None:
            raise CaptureProblem(f"'{variable.name}' is optimized away at 0x{self.pc:x}")
        return _Evaluator(self.index, self.function, self.pc, self.pie).place(expr, variable.type)

    def member(self, place: Place, name: str, operator: str) -> Place:
        """`->name` or `.name`: through one pointer if needed, then the member's offset."""
        place = self._through_pointer(place, operator + name)
        t = strip_typedefs(self.types, place.type)
        if t is None or t.tag not in ("structure_type", "union_type", "class_type"):
            raise CaptureProblem(f"invalid access '{operator}{name}' vs. {self.bare_name(place.type)}")
        found = self._find_member(t, name)
        if found is None:
            names = ", ".join(m[0] for m in t.members if m[0])
            raise CaptureProblem(f"unable to find member '{name}' for {self.index.type_name(place.type)} (alternatives: {names})")
        offset, member_type = found
        if not place.is_address:
            raise CaptureProblem(f"'{name}' is a member of a structure held in registers (unsupported)")
        return Place(place.capture.then(Step("add", offset)), True, member_type)

    def _find_member(self, t: DwarfType, name: str) -> tuple[int, int | None] | None:
        for member_name, offset, member_type in t.members:
            if member_name == name:
                return offset, member_type
            inner = strip_typedefs(self.types, member_type)
            if not member_name and inner is not None and inner.members:
                found = self._find_member(inner, name)
                if found is not None:
                    return offset + found[0], found[1]
        return None

    def element(self, place: Place, position: int) -> Place:
        """`[n]` on an array (in memory) or through a pointer."""
        t = strip_typedefs(self.types, place.type)
        if t is not None and t.tag == "array_type":
            if not place.is_address:
                raise CaptureProblem("indexing an array held in registers is unsupported")
            element_type = self._array_element(resolve_offset(self.types, place.type), t)
            return Place(place.capture.then(Step("add", position * self.size_of(element_type))), True, element_type)
        if t is not None and t.tag == "pointer_type":
            value = self._value(place)
            return Place(value.then(Step("add", position * self.size_of(t.target))), True, t.target)
        raise CaptureProblem(f"invalid access '[{position}]' vs. {self.bare_name(place.type)}")

    def _array_element(self, offset: int, t: DwarfType) -> int | None:
        """The element type of one dimension; a 2-D array's element is a 1-D array type,
        kept under a negative key derived from the array's own DIE offset."""
        if len(t.bounds) <= 1:
            return t.target
        key = -(offset * 16 + len(t.bounds))
        self.types.setdefault(key, DwarfType("array_type", target=t.target, bounds=t.bounds[1:]))
        return key

    def _through_pointer(self, place: Place, access: str) -> Place:
        t = strip_typedefs(self.types, place.type)
        if t is not None and t.tag == "pointer_type":
            return Place(self._value(place), True, t.target)
        return place

    def _value(self, place: Place) -> Capture:
        """The capture yielding the (pointer or scalar) value stored at `place`."""
        if place.is_address:
            size = self.size_of(place.type)
            return place.capture.then(Step("load", size, self.is_signed(place.type)))
        return place.capture

    def final(self, place: Place, spelled: str) -> Capture:
        """The integer a script reads for this place: scalar, pointer, enum, or an array's address."""
        t = strip_typedefs(self.types, place.type)
        if t is not None and t.tag in ("structure_type", "union_type", "class_type"):
            first = next((m[0] for m in t.members if m[0]), "")
            raise CaptureProblem(
                f"'{self.index.type_name(place.type)}' is being accessed instead of a member such as '->{first}'"
            )
        if t is not None and t.tag == "array_type":
            return replace(place.capture, size=8, signed=False)  # the array's address, as stap gives it
        if t is not None and t.tag == "base_type" and t.name in ("float", "double", "long double"):
            raise CaptureProblem(f"floating-point value '{spelled}' cannot be captured as a long")
        capture = self._value(place)
        return replace(capture, size=self.size_of(place.type), signed=self.is_signed(place.type))

    def bare_name(self, offset: int | None) -> str:
        """The type's name under typedefs and qualifiers, as stap's access errors show it."""
        return self.index.type_name(resolve_offset(self.types, offset))

    def size_of(self, offset: int | None) -> int:
        t = strip_typedefs(self.types, offset)
        if t is None:
            return 1  # void: byte steps, as C's GNU extension does
        if t.tag in ("pointer_type", "reference_type", "rvalue_reference_type"):
            return 8
        if t.tag == "array_type":
            count = 1
            for bound in t.bounds:
                count *= bound or 0
            return count * self.size_of(t.target)
        if t.size is None:
            raise CaptureProblem(f"the size of {self.index.type_name(offset)} is unknown")
        return t.size

    def is_signed(self, offset: int | None) -> bool:
        t = strip_typedefs(self.types, offset)
        return bool(t is not None and t.tag in ("base_type", "enumeration_type") and t.signed)

    def is_char_pointer(self, offset: int | None) -> bool:
        t = strip_typedefs(self.types, offset)
        if t is None or t.tag not in ("pointer_type", "array_type"):
            return False
        target = strip_typedefs(self.types, t.target)
        return target is not None and target.tag == "base_type" and target.size == 1 and "char" in (target.name or "")
