"""A small reader for the kernel's BTF (/sys/kernel/btf/vmlinux): types and function protos.

BTF is a compact table of kernel types. One pass over the type section records where
each type id's record starts; records are decoded on demand, so looking up the few
types a probe needs costs little even though vmlinux has ~100k types. Used for
`kernel.tracepoint("NAME")`: each tracepoint has a `btf_trace_<NAME>` typedef, a
pointer to the prototype of its probe function, `void (*)(void *, ARG1, ARG2 ...)`;
the raw tracepoint's context is those arguments as u64s, the first one dropped.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

VMLINUX = "/sys/kernel/btf/vmlinux"
MAGIC = 0xEB9F

KINDS = {1: "int", 2: "ptr", 3: "array", 4: "struct", 5: "union", 6: "enum", 7: "fwd", 8: "typedef",
         9: "volatile", 10: "const", 11: "restrict", 12: "func", 13: "func_proto", 14: "var",
         15: "datasec", 16: "float", 17: "decl_tag", 18: "type_tag", 19: "enum64"}

# Bytes following the 12-byte common header: fixed per kind, or per member (times vlen).
_FIXED_EXTRA = {1: 4, 3: 12, 14: 4, 17: 4}
_MEMBER_EXTRA = {4: 12, 5: 12, 6: 8, 13: 8, 15: 12, 19: 12}


class BtfProblem(Exception):
    """BTF that is missing or malformed; the message says which."""


@dataclass
class BtfMember:
    name: str
    type: int
    bit_offset: int = 0
    bit_size: int = 0  # bitfields only


@dataclass
class BtfType:
    id: int
    kind: str
    name: str
    size: int = 0  # int/struct/union/enum/float/datasec
    type: int = 0  # ptr/typedef/const/volatile/func/var ... referenced type
    signed: bool = False
    members: list[BtfMember] = field(default_factory=list)  # struct/union members, func_proto params
    count: int = 0  # array elements


class Btf:
    """The types of one BTF blob; `type(id)` decodes lazily, `by_name` finds ids by name."""

    def __init__(self, data: bytes):
        if len(data) < 24:
            raise BtfProblem("BTF data is truncated")
        magic, _version, _flags, hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from("<HBBIIIII", data)
        if magic != MAGIC:
            raise BtfProblem(f"bad BTF magic 0x{magic:04x}")
        self.data = data
        self.types_start = hdr_len + type_off
        self.types_end = self.types_start + type_len
        self.strings = data[hdr_len + str_off : hdr_len + str_off + str_len]
        try:
            self.offsets = self._scan()
        except struct.error:
            raise BtfProblem("BTF type section is truncated") from None
        self._cache: dict[int, BtfType] = {}
        self._names: dict[str, list[int]] | None = None

    @classmethod
    def vmlinux(cls, path: str = VMLINUX) -> "Btf":
        try:
            with open(path, "rb") as stream:
                return cls(stream.read())
        except OSError as error:
            raise BtfProblem(f"cannot read kernel BTF {path}: {error.strerror}") from None

    def _scan(self) -> list[int]:
        """Offsets of each type record; index = type id (id 0 is void)."""
        offsets = [0]
        data = self.data
        pos = self.types_start
        end = self.types_end
        unpack = struct.Struct("<III").unpack_from
        while pos < end:
            offsets.append(pos)
            _name, info, _size = unpack(data, pos)
            kind = (info >> 24) & 0x1F
            vlen = info & 0xFFFF
            pos += 12 + _FIXED_EXTRA.get(kind, 0) + vlen * _MEMBER_EXTRA.get(kind, 0)
        return offsets

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def string(self, offset: int) -> str:
        end = self.strings.index(b"\0", offset)
        return self.strings[offset:end].decode("utf-8", "replace")

    def type(self, type_id: int) -> BtfType:
        if type_id == 0:
            return BtfType(0, "void", "void")
        if type_id not in self._cache:
            if not 0 < type_id < len(self.offsets):
                raise BtfProblem(f"BTF type id {type_id} out of range")
            self._cache[type_id] = self._decode(type_id)
        return self._cache[type_id]

    def _decode(self, type_id: int) -> BtfType:
        pos = self.offsets[type_id]
        name_off, info, size_or_type = struct.unpack_from("<III", self.data, pos)
        kind_number = (info >> 24) & 0x1F
        vlen = info & 0xFFFF
        kind_flag = info >> 31
        t = BtfType(type_id, KINDS.get(kind_number, f"kind{kind_number}"), self.string(name_off))
        if kind_number in (1, 4, 5, 6, 15, 16, 19):
            t.size = size_or_type
        else:
            t.type = size_or_type
        pos += 12
        if kind_number == 1:
            (encoding,) = struct.unpack_from("<I", self.data, pos)
            t.signed = bool((encoding >> 24) & 1)
        elif kind_number == 3:
            t.type, _index, t.count = struct.unpack_from("<III", self.data, pos)
        elif kind_number in (4, 5):
            t.members = [self._member(pos + 12 * i, kind_flag) for i in range(vlen)]
        elif kind_number == 13:
            t.members = [BtfMember(self.string(n), ty) for n, ty in (struct.unpack_from("<II", self.data, pos + 8 * i) for i in range(vlen))]
        elif kind_number in (6, 19):
            t.signed = bool(kind_flag)
        return t

    def _member(self, pos: int, kind_flag: int) -> BtfMember:
        name_off, type_id, offset = struct.unpack_from("<III", self.data, pos)
        if kind_flag:
            return BtfMember(self.string(name_off), type_id, offset & 0xFFFFFF, offset >> 24)
        return BtfMember(self.string(name_off), type_id, offset)

    def by_name(self, name: str) -> list[int]:
        """Type ids named `name` (all kinds), from an index built on first use."""
        if self._names is None:
            self._names = {}
            unpack = struct.Struct("<I").unpack_from
            for type_id in range(1, len(self.offsets)):
                name_off = unpack(self.data, self.offsets[type_id])[0]
                if name_off:
                    self._names.setdefault(self.string(name_off), []).append(type_id)
        return self._names.get(name, [])

    def named(self, kind: str, name: str) -> int:
        """The id of the type of `kind` ("struct", "typedef", "func" ...) called `name`."""
        for type_id in self.by_name(name):
            if self.type(type_id).kind == kind:
                return type_id
        raise LookupError(f"no {kind} {name} in the kernel's BTF")

    def names_with_prefix(self, prefix: str) -> list[str]:
        self.by_name("")
        return sorted(n for n in self._names if n.startswith(prefix))

    # -- derived queries -----------------------------------------------------------

    def strip(self, type_id: int) -> BtfType:
        """The type under typedef/const/volatile/restrict/type_tag layers."""
        t = self.type(type_id)
        for _ in range(64):
            if t.kind not in ("typedef", "const", "volatile", "restrict", "type_tag"):
                return t
            t = self.type(t.type)
        return t

    def size_of(self, type_id: int) -> int:
        t = self.strip(type_id)
        if t.kind == "ptr":
            return 8
        if t.kind == "array":
            return t.count * self.size_of(t.type)
        return t.size

    def type_name(self, type_id: int) -> str:
        """stap's spelling, as for DWARF: "struct task_struct*", "char const*", "long int"."""
        t = self.type(type_id)
        if t.kind in ("int", "float", "typedef", "void"):
            return t.name
        if t.kind in ("struct", "union", "enum", "enum64", "fwd"):
            word = {"enum64": "enum", "fwd": "struct"}.get(t.kind, t.kind)
            return f"{word} {t.name or '{...}'}"
        if t.kind == "ptr" and self.type(t.type).kind == "func_proto":
            proto = self.type(t.type)
            return f"{self.type_name(proto.type)} (*) ({', '.join(self.type_name(p.type) for p in proto.members)})"
        suffix = {"ptr": "*", "const": " const", "volatile": " volatile", "restrict": " restrict", "array": "[]"}
        return self.type_name(t.type) + suffix.get(t.kind, "")

    def find_member(self, type_id: int, name: str) -> tuple[int, BtfMember] | None:
        """(byte offset, member) of `name` in struct/union `type_id`, looking into anonymous members."""
        t = self.strip(type_id)
        for member in t.members:
            if member.name == name:
                return member.bit_offset // 8, member
            if not member.name and self.strip(member.type).kind in ("struct", "union"):
                found = self.find_member(member.type, name)
                if found is not None:
                    return member.bit_offset // 8 + found[0], found[1]
        return None

    def tracepoint_args(self, name: str) -> list[BtfMember] | None:
        """The arguments of raw tracepoint `name` (without the leading `void *__data`), or None."""
        for type_id in self.by_name(f"btf_trace_{name}"):
            t = self.type(type_id)
            if t.kind != "typedef":
                continue
            pointer = self.type(t.type)
            proto = self.type(pointer.type) if pointer.kind == "ptr" else None
            if proto is not None and proto.kind == "func_proto":
                return proto.members[1:]
        return None

    def tracepoint_names(self) -> list[str]:
        return [n[len("btf_trace_"):] for n in self.names_with_prefix("btf_trace_")]


_KERNEL: Btf | None = None


def kernel_btf() -> Btf:
    """The running kernel's BTF, read once per process."""
    global _KERNEL
    if _KERNEL is None:
        _KERNEL = Btf.vmlinux()
    return _KERNEL
