"""tracefs: where it is, which events exist, and each event's record format.

A tracepoint's `format` file lists the fields of the record the kernel hands a BPF
program: name, C type, offset, size, signedness. The tracepoint provider turns them
into `$field` target variables, and the capture plan copies them at probe time.

    field:const char * filename;	offset:24;	size:8;	signed:0;
    field:__data_loc char[] name;	offset:8;	size:4;	signed:0;
    field:char prev_comm[16];	offset:8;	size:16;	signed:0;
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

CANDIDATES = (Path("/sys/kernel/tracing"), Path("/sys/kernel/debug/tracing"))

# Declared base types narrower than their slot: syscall tracepoints store every argument
# in 8 bytes, so `int dfd` holds the register's low 32 bits and must be sign-extended
# from them (AT_FDCWD is -100, not 4294967196). (size, signed) per type name.
_BASE_TYPES = {
    "char": (1, True), "signed char": (1, True), "unsigned char": (1, False), "bool": (1, False),
    "short": (2, True), "unsigned short": (2, False), "umode_t": (2, False),
    "int": (4, True), "unsigned int": (4, False), "unsigned": (4, False), "pid_t": (4, True),
    "uid_t": (4, False), "gid_t": (4, False), "qid_t": (4, False), "key_serial_t": (4, True),
    "clockid_t": (4, True), "mqd_t": (4, True), "rwf_t": (4, True), "timer_t": (4, True),
    "u8": (1, False), "s8": (1, True), "u16": (2, False), "s16": (2, True), "u32": (4, False),
    "s32": (4, True), "__u8": (1, False), "__s8": (1, True), "__u16": (2, False), "__s16": (2, True),
    "__u32": (4, False), "__s32": (4, True), "uint8_t": (1, False), "uint16_t": (2, False),
    "uint32_t": (4, False), "int8_t": (1, True), "int16_t": (2, True), "int32_t": (4, True),
}

_FIELD = re.compile(r"\s*field:(?P<decl>[^;]*);\s*offset:(?P<offset>\d+);\s*size:(?P<size>\d+);\s*signed:(?P<signed>\d);")
_DECL = re.compile(r"^(?P<type>.*?)\s*\b(?P<name>[A-Za-z_]\w*)\s*(?:\[(?P<len>[^\]]*)\])?$")


class TracefsError(Exception):
    """tracefs or an event is unavailable; the message says why, for a diagnostic."""


@dataclass(frozen=True)
class EventField:
    """One field of a tracepoint record."""

    name: str
    c_type: str  # as declared, without the name: "const char *", "char[16]", "__data_loc char[]"
    offset: int
    size: int
    signed: bool
    common: bool  # the common_* header fields every event shares

    @property
    def is_data_loc_string(self) -> bool:
        return self.c_type == "__data_loc char[]"

    @property
    def is_char_array(self) -> bool:
        return re.fullmatch(r"(unsigned |signed )?char\[\d+\]", self.c_type) is not None

    @property
    def is_char_pointer(self) -> bool:
        return re.fullmatch(r"(const )?char \*( const)?|char const \*", self.c_type) is not None

    @property
    def is_integer(self) -> bool:
        return "[" not in self.c_type and self.size in (1, 2, 4, 8)

    @property
    def value_width(self) -> tuple[int, bool]:
        """(bytes, signed) of the value: the declared type's when narrower than the slot."""
        declared = _BASE_TYPES.get(self.c_type.removeprefix("const ").strip())
        if declared is not None and declared[0] < self.size:
            return declared
        return self.size, self.signed


@dataclass(frozen=True)
class EventFormat:
    system: str
    event: str
    id: int
    fields: tuple[EventField, ...]
    digest: str  # of the format text minus its ID line: the layout the captures depend on

    @property
    def name(self) -> str:
        return f"{self.system}:{self.event}"

    def own_fields(self) -> tuple[EventField, ...]:
        """The event's own fields: stap's $$parms (and $$vars) for a tracepoint."""
        return tuple(f for f in self.fields if not f.common)

    def field(self, name: str) -> EventField | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None


def tracefs_dir() -> Path:
    """The mounted tracefs, or TracefsError saying what is missing."""
    for candidate in CANDIDATES:
        if (candidate / "events").is_dir():
            return candidate
    for candidate in CANDIDATES:
        if candidate.is_dir() and not os.access(candidate, os.R_OK | os.X_OK):
            raise TracefsError(f"cannot read {candidate}: permission denied (kernel tracepoints need root)")
    if os.geteuid() != 0:
        raise TracefsError("tracefs is not mounted at /sys/kernel/tracing and mounting it needs root")
    raise TracefsError("tracefs is not mounted at /sys/kernel/tracing (mount -t tracefs nodev /sys/kernel/tracing)")


def list_events(pattern: str = "*:*") -> list[tuple[str, str]]:
    """(system, event) pairs matching a `SYSTEM:EVENT` glob (no colon: the event part), sorted."""
    system_glob, event_glob = pattern.split(":", 1) if ":" in pattern else ("*", pattern)
    if not _is_glob(system_glob) and not _is_glob(event_glob):
        # Exact names (every syscall alias): one stat instead of scanning ~2000 events.
        exists = (tracefs_dir() / "events" / system_glob / event_glob / "format").exists()
        return [(system_glob, event_glob)] if exists else []
    events = _all_events(tracefs_dir())
    return [(s, e) for s, e in events if fnmatch.fnmatchcase(s, system_glob) and fnmatch.fnmatchcase(e, event_glob)]


def _is_glob(text: str) -> bool:
    return any(c in text for c in "*?[")


@lru_cache(maxsize=None)
def _all_events(root: Path) -> tuple[tuple[str, str], ...]:
    events = []
    for system in sorted(os.listdir(root / "events")):
        system_dir = root / "events" / system
        if not system_dir.is_dir():
            continue
        for event in sorted(os.listdir(system_dir)):
            if (system_dir / event / "format").exists():
                events.append((system, event))
    return tuple(events)


@lru_cache(maxsize=None)
def event_format(system: str, event: str) -> EventFormat:
    """Parse events/SYSTEM/EVENT/format."""
    path = tracefs_dir() / "events" / system / event / "format"
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise TracefsError(f"no tracepoint {system}:{event} in {path.parent.parent.parent}") from None
    except PermissionError:
        raise TracefsError(f"cannot read {path}: permission denied (tracepoints need root)") from None
    return parse_format(system, event, text)


def parse_format(system: str, event: str, text: str) -> EventFormat:
    event_id = -1
    fields = []
    for line in text.splitlines():
        if line.startswith("ID:"):
            event_id = int(line[3:].strip())
        match = _FIELD.match(line)
        if match:
            fields.append(_parse_field(match))
    return EventFormat(system, event, event_id, tuple(fields), format_digest(text))


def format_digest(text: str) -> str:
    """FNV-1a (64-bit, hex) of the format without its ID line, as the runtime computes it."""
    value = 14695981039346656037
    for line in text.splitlines(keepends=True):
        if line.startswith("ID:"):
            continue
        for byte in line.encode():
            value = ((value ^ byte) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return f"{value:016x}"


def _parse_field(match: re.Match) -> EventField:
    decl = match["decl"].strip()
    parts = _DECL.match(decl)
    if parts is None:
        name, c_type = decl, decl
    else:
        name = parts["name"]
        c_type = parts["type"].strip()
        if parts["len"] is not None:
            c_type += f"[{parts['len']}]"
    return EventField(
        name=name,
        c_type=c_type,
        offset=int(match["offset"]),
        size=int(match["size"]),
        signed=match["signed"] == "1",
        common=name.startswith("common_"),
    )
