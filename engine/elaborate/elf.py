"""ELF facts the user-space probe families need: symbols, build-id, debug links, SDT notes.

Everything here is read once per file with pyelftools and kept in plain dataclasses,
so the DWARF index (dwarf.py) can cache it on disk by build-id. Addresses are the
link-time virtual addresses of the file; `file_offset` turns one into the offset the
uprobe PMU wants (uprobes are placed by inode offset, not by address).
"""

from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import NoteSection, SymbolTableSection

DEBUG_ROOT = Path("/usr/lib/debug")


class ElfProblem(Exception):
    """A binary that cannot be probed, with the reason in words for the user."""


# ---------------------------------------------------------------------------
# x86-64 registers: DWARF numbers, struct pt_regs offsets, and the sub-register names


@dataclass(frozen=True)
class Register:
    name: str  # the 64-bit name: "rdi"
    dwarf: int  # DWARF register number (System V psABI)
    pt_regs: int  # byte offset in struct pt_regs (what a uprobe BPF program reads)


_PT_REGS_ORDER = (
    "r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip cs eflags rsp ss"
).split()
_DWARF_ORDER = "rax rdx rcx rbx rsi rdi rbp rsp r8 r9 r10 r11 r12 r13 r14 r15 rip".split()

REGISTERS: dict[str, Register] = {
    name: Register(name, number, _PT_REGS_ORDER.index(name) * 8) for number, name in enumerate(_DWARF_ORDER)
}
REGISTERS_BY_DWARF: dict[int, Register] = {r.dwarf: r for r in REGISTERS.values()}


def _sub_registers() -> dict[str, tuple[str, int]]:
    """Map every spelling of an integer register (%edi, %di, %dil, %r8d ...) to (reg, bytes)."""
    names: dict[str, tuple[str, int]] = {}
    for letter in "abcd":
        full = f"r{letter}x"
        names.update({full: (full, 8), f"e{letter}x": (full, 4), f"{letter}x": (full, 2), f"{letter}l": (full, 1)})
    for base in ("si", "di", "bp", "sp"):
        full = "r" + base
        names.update({full: (full, 8), "e" + base: (full, 4), base: (full, 2), base + "l": (full, 1)})
    for n in range(8, 16):
        full = f"r{n}"
        names.update({full: (full, 8), f"r{n}d": (full, 4), f"r{n}w": (full, 2), f"r{n}b": (full, 1)})
    names["rip"] = ("rip", 8)
    return names


SUB_REGISTERS = _sub_registers()


# ---------------------------------------------------------------------------
# SDT notes


@dataclass(frozen=True)
class SdtArg:
    """One `.note.stapsdt` argument, e.g. `-4@-12(%rbp)`: where the value is and its width.

    `kind` is "register" (value in `register`), "memory" (at `register` + `offset`,
    optionally + `index` * `scale`, or at `symbol` + `offset` when RIP-relative) or
    "constant" (`offset` holds the value).
    """

    spec: str
    size: int  # bytes
    signed: bool
    kind: str
    register: str | None = None
    offset: int = 0
    index: str | None = None
    scale: int = 1
    symbol: str | None = None


@dataclass(frozen=True)
class SdtNote:
    provider: str
    name: str
    pc: int  # link-time address of the nop
    semaphore: int  # link-time address of the semaphore, 0 if none
    args: tuple[SdtArg, ...]


_ARG_RE = re.compile(r"^(?:(-?\d+)@)?(.+)$")
_MEM_RE = re.compile(r"^(?P<disp>[^(]*)\((?P<base>%\w+)?(?:,(?P<index>%\w+)(?:,(?P<scale>\d+))?)?\)$")


def parse_sdt_args(text: str) -> tuple[SdtArg, ...]:
    """Parse gas-syntax argument specs (`8@%rax -4@-12(%rbp) 4@$5 8@foo(%rip)`)."""
    return tuple(parse_sdt_arg(spec) for spec in text.split())


def parse_sdt_arg(spec: str) -> SdtArg:
    match = _ARG_RE.match(spec)
    width = int(match.group(1)) if match and match.group(1) else 8
    operand = match.group(2) if match else spec
    size, signed = abs(width), width < 0
    if operand.startswith("%"):
        return SdtArg(spec, size, signed, "register", register=_register_name(operand, spec))
    if operand.startswith("$"):
        return SdtArg(spec, size, signed, "constant", offset=_integer(operand[1:], spec))
    mem = _MEM_RE.match(operand)
    if mem is None:
        raise ElfProblem(f"unsupported SDT argument '{spec}'")
    disp = mem.group("disp")
    base = mem.group("base")
    symbol = None
    offset = 0
    if disp:
        try:
            offset = int(disp, 0)
        except ValueError:
            symbol, offset = _symbol_displacement(disp)
    return SdtArg(
        spec,
        size,
        signed,
        "memory",
        register=_register_name(base, spec) if base else None,
        offset=offset,
        index=_register_name(mem.group("index"), spec) if mem.group("index") else None,
        scale=int(mem.group("scale") or 1),
        symbol=symbol,
    )


def _register_name(operand: str, spec: str) -> str:
    entry = SUB_REGISTERS.get(operand.lstrip("%"))
    if entry is None:
        raise ElfProblem(f"unsupported register '{operand}' in SDT argument '{spec}'")
    return entry[0]


def _integer(text: str, spec: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise ElfProblem(f"unsupported SDT argument '{spec}'") from None


def _symbol_displacement(disp: str) -> tuple[str, int]:
    """`counter+8` -> ("counter", 8)."""
    match = re.match(r"^([A-Za-z_.$][\w.$]*)([+-]\d+)?$", disp)
    if match is None:
        raise ElfProblem(f"unsupported SDT displacement '{disp}'")
    return match.group(1), int(match.group(2) or 0)


# ---------------------------------------------------------------------------
# The image


@dataclass(frozen=True)
class ElfSymbol:
    name: str
    address: int
    size: int
    is_function: bool  # STT_FUNC (an STT_GNU_IFUNC is not: see _symbols)
    is_global: bool


@dataclass(frozen=True)
class Segment:
    vaddr: int
    offset: int
    filesz: int
    executable: bool


@dataclass
class ElfImage:
    """What one ELF file says about itself, independent of debug information."""

    path: str
    build_id: str | None
    debuglink: str | None
    is_pie: bool  # ET_DYN: probe addresses are relative to the load base
    has_dwarf: bool
    symbols: list[ElfSymbol] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    sdt_notes: list[SdtNote] = field(default_factory=list)
    needed: list[str] = field(default_factory=list)  # DT_NEEDED libraries
    runpath: list[str] = field(default_factory=list)  # DT_RUNPATH / DT_RPATH directories, $ORIGIN expanded

    def file_offset(self, address: int) -> int:
        """The file offset of link-time `address` (what uprobe_events / the PMU take)."""
        for segment in self.segments:
            if segment.vaddr <= address < segment.vaddr + segment.filesz:
                return address - segment.vaddr + segment.offset
        raise ElfProblem(f"address 0x{address:x} is not in any loaded segment of {self.path}")

    def read_at(self, address: int, count: int) -> bytes:
        """`count` bytes of the file at link-time `address` (e.g. the instruction a probe replaces)."""
        with open(self.path, "rb") as stream:
            stream.seek(self.file_offset(address))
            return stream.read(count)

    def function_symbols(self) -> list[ElfSymbol]:
        return [s for s in self.symbols if s.is_function and s.address]

    def symbol_named(self, name: str) -> ElfSymbol | None:
        for symbol in self.symbols:
            if symbol.name == name:
                return symbol
        return None


def read_image(path: str, *, symbols: bool = True) -> ElfImage:
    """Read `path`; raise ElfProblem saying why it cannot be used (missing, not ELF ...).

    `symbols=False` skips the symbol table (enough to identify a file by build-id)."""
    try:
        stream = open(path, "rb")
    except OSError as error:
        raise ElfProblem(f"cannot open {path}: {error.strerror}") from None
    with stream:
        try:
            elf = ELFFile(stream)
        except ELFError as error:
            raise ElfProblem(f"{path} is not an ELF file ({error})") from None
        try:
            return _image(path, elf, symbols)
        except Exception as error:  # pyelftools' many failure kinds on a damaged file; none may escape
            raise ElfProblem(f"{path} is a damaged ELF file ({error})") from None


def _image(path: str, elf: ELFFile, symbols: bool) -> ElfImage:
    image = ElfImage(
        path=path,
        build_id=_build_id(elf),
        debuglink=_debuglink(elf),
        is_pie=elf["e_type"] == "ET_DYN",
        has_dwarf=elf.get_section_by_name(".debug_info") is not None,
        symbols=_symbols(elf) if symbols else [],
        segments=_segments(elf),
        needed=_needed(elf),
        runpath=_runpath(elf, path),
    )
    image.sdt_notes = _sdt_notes(elf)
    return image


def _build_id(elf: ELFFile) -> str | None:
    for section in elf.iter_sections():
        if not isinstance(section, NoteSection):
            continue
        for note in section.iter_notes():
            if note["n_type"] == "NT_GNU_BUILD_ID":
                return note["n_desc"]
    return None


def _debuglink(elf: ELFFile) -> str | None:
    section = elf.get_section_by_name(".gnu_debuglink")
    if section is None:
        return None
    data = section.data()
    return data[: data.index(b"\0")].decode("utf-8", "replace")


_STT_OBJECT, _STT_FUNC, _STT_GNU_IFUNC = 1, 2, 10
_STB_LOCAL = 0


def _symbols(elf: ELFFile) -> list[ElfSymbol]:
    """Function and object symbols from .symtab, else .dynsym; one entry per (name, address),
    by address and, at one address, in table order (stap keeps the first name a
    wildcard matches there: malloc before __libc_malloc). A GNU indirect function
    (memset in libc) is kept but not as a function: its address is the resolver's,
    and stap neither lists it nor lets it name the resolver.

    Decoded with struct over the raw table (Elf64_Sym), which is much faster than
    pyelftools' per-symbol objects for libraries with thousands of symbols."""
    table = elf.get_section_by_name(".symtab") or elf.get_section_by_name(".dynsym")
    if not isinstance(table, SymbolTableSection) or not elf.elfclass == 64:
        return []
    strings = elf.get_section(table["sh_link"]).data()
    order = "<" if elf.little_endian else ">"
    seen: dict[tuple[str, int], ElfSymbol] = {}
    for name_off, info, _other, shndx, value, size in struct.iter_unpack(order + "IBBHQQ", table.data()):
        kind = info & 0xF
        if kind not in (_STT_FUNC, _STT_OBJECT, _STT_GNU_IFUNC) or shndx == 0 or not name_off:
            continue
        name = strings[name_off : strings.index(b"\0", name_off)].decode("utf-8", "replace")
        seen.setdefault((name, value), ElfSymbol(name, value, size, kind == _STT_FUNC, (info >> 4) != _STB_LOCAL))
    return sorted(seen.values(), key=lambda s: s.address)


def _segments(elf: ELFFile) -> list[Segment]:
    return [
        Segment(seg["p_vaddr"], seg["p_offset"], seg["p_filesz"], bool(seg["p_flags"] & 1))
        for seg in elf.iter_segments()
        if seg["p_type"] == "PT_LOAD"
    ]


def _needed(elf: ELFFile) -> list[str]:
    dynamic = elf.get_section_by_name(".dynamic")
    if dynamic is None or not hasattr(dynamic, "iter_tags"):
        return []
    return [tag.needed for tag in dynamic.iter_tags() if tag.entry.d_tag == "DT_NEEDED"]


def _runpath(elf: ELFFile, path: str) -> list[str]:
    dynamic = elf.get_section_by_name(".dynamic")
    if dynamic is None or not hasattr(dynamic, "iter_tags"):
        return []
    origin = os.path.dirname(os.path.realpath(path))
    directories = []
    for tag in dynamic.iter_tags():
        if tag.entry.d_tag in ("DT_RUNPATH", "DT_RPATH"):
            text = tag.runpath if tag.entry.d_tag == "DT_RUNPATH" else tag.rpath
            directories += [d.replace("$ORIGIN", origin).replace("${ORIGIN}", origin) for d in text.split(":") if d]
    return directories


def _sdt_notes(elf: ELFFile) -> list[SdtNote]:
    """Parse `.note.stapsdt`, adjusting addresses if the file was prelinked (stapsdt.base moved)."""
    section = elf.get_section_by_name(".note.stapsdt")
    if section is None:
        return []
    base_section = elf.get_section_by_name(".stapsdt.base")
    actual_base = base_section["sh_addr"] if base_section is not None else None
    notes = []
    for raw in _raw_notes(section, elf.little_endian):
        pc, base, semaphore, provider, name, args = raw
        shift = actual_base - base if actual_base is not None and base else 0
        notes.append(SdtNote(provider, name, pc + shift, semaphore + shift if semaphore else 0, parse_sdt_args(args)))
    return notes


def _raw_notes(section, little_endian: bool):
    """Yield (pc, base, semaphore, provider, name, args) from NT_STAPSDT (type 3) notes."""
    data = section.data()
    order = "little" if little_endian else "big"
    pos = 0
    while pos + 12 <= len(data):
        namesz = int.from_bytes(data[pos : pos + 4], order)
        descsz = int.from_bytes(data[pos + 4 : pos + 8], order)
        ntype = int.from_bytes(data[pos + 8 : pos + 12], order)
        name_start = pos + 12
        desc_start = name_start + _align4(namesz)
        owner = data[name_start : name_start + namesz].rstrip(b"\0")
        desc = data[desc_start : desc_start + descsz]
        pos = desc_start + _align4(descsz)
        if owner != b"stapsdt" or ntype != 3:
            continue
        pc, base, semaphore = (int.from_bytes(desc[i : i + 8], order) for i in (0, 8, 16))
        provider, name, args = desc[24:].split(b"\0")[:3]
        yield pc, base, semaphore, provider.decode(), name.decode(), args.decode()


def _align4(n: int) -> int:
    return (n + 3) & ~3


# ---------------------------------------------------------------------------
# Finding the debug information of a stripped file


def debug_file_candidates(image: ElfImage) -> list[str]:
    """Where gdb and stap look for separate debug information, in their order."""
    paths = []
    if image.build_id and len(image.build_id) > 2:
        paths.append(str(DEBUG_ROOT / ".build-id" / image.build_id[:2] / (image.build_id[2:] + ".debug")))
    if image.debuglink:
        directory = os.path.dirname(os.path.realpath(image.path))
        paths.append(os.path.join(directory, image.debuglink))
        paths.append(os.path.join(directory, ".debug", image.debuglink))
        paths.append(str(DEBUG_ROOT) + os.path.join(directory, image.debuglink))
    return paths


def find_debug_file(image: ElfImage) -> str | None:
    """The file holding `image`'s DWARF: itself, or a separate file with the same build-id."""
    if image.has_dwarf:
        return image.path
    for candidate in debug_file_candidates(image):
        if candidate == image.path or not os.path.isfile(candidate):
            continue
        try:
            other = read_image(candidate, symbols=False)
        except ElfProblem:
            continue
        if other.has_dwarf and (image.build_id is None or other.build_id == image.build_id):
            return candidate
    return None


def changed_since(path: str, build_id: str | None) -> str | None:
    """Why `path` is no longer the file a probe was resolved against (None if it still is).

    Probe addresses and capture plans are only valid for the exact build they came
    from; this is stap's build-id check, done before attaching."""
    try:
        current = read_image(path, symbols=False).build_id
    except ElfProblem as problem:
        return str(problem)
    if build_id is not None and current != build_id:
        return (f"{path} has changed since the script was translated (build-id {current or 'none'}, "
                f"expected {build_id}); translate the script again")
    return None


def resolve_library(image: ElfImage, pattern: str) -> list[str]:
    """Paths of the shared libraries `image` needs whose name matches `pattern` (stap's .library)."""
    import fnmatch

    if pattern.startswith("/"):
        return [pattern] if os.path.exists(pattern) else []
    found = []
    for needed in image.needed:
        if fnmatch.fnmatchcase(needed, pattern) or fnmatch.fnmatchcase(needed, pattern + ".so*"):
            path = _search_library(needed, image.runpath)
            if path:
                found.append(path)
    return found


_LIBRARY_DIRS = ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib", "/lib")


def _search_library(name: str, runpath: list[str]) -> str | None:
    """The dynamic loader's order, simplified: the file's run path, then the system directories."""
    for directory in (*runpath, *_LIBRARY_DIRS):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return os.path.realpath(path)
    return None
