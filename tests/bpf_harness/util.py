"""Shared by the BPF and kernel tests: building the C harness, running capture
programs in it, and listing the BPF programs loaded in the kernel (no bpftool here)."""

from __future__ import annotations

import ctypes
import os
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from engine.translate.bpf.asm import Program
from tests.support import require, require_root, require_tracefs

REPO = Path(__file__).resolve().parents[2]
HARNESS_C = Path(__file__).with_name("harness.c")

_SYS_BPF = 321  # x86_64
_PROG_GET_NEXT_ID, _PROG_GET_FD_BY_ID, _OBJ_GET_INFO_BY_FD = 11, 13, 15
_libc = ctypes.CDLL(None, use_errno=True)


def require_kernel_probes() -> None:
    """Root, tracefs and a BPF kernel: what every kernel-probe test needs."""
    require_root()
    require_tracefs()
    require(os.path.exists("/sys/kernel/btf/vmlinux"), "a BPF-capable kernel with BTF")


# The runtime's side of the BPF files: they need the rest of the runtime, so the harness leaves them out
# (harness.c stands in for the little of the session that bpf_process.c asks about).
_NEED_RUNTIME = ("bpf_events.c", "bpf_agg_merge.c")


def build_harness(out_dir: Path) -> Path:
    exe = out_dir / "harness"
    sources = sorted(str(p) for p in (REPO / "runtime_c").glob("bpf_*.c") if p.name not in _NEED_RUNTIME)
    subprocess.run(
        ["gcc", "-Wall", "-Wextra", "-Werror", "-O2", f"-I{REPO / 'runtime_c'}", *sources, str(HARNESS_C), "-o", str(exe)],
        check=True,
    )
    return exe


@dataclass
class Record:
    probe: int
    cpu: int
    pid: int
    tid: int
    uid: int
    gid: int
    time_ns: int
    comm: str
    ppid: int
    euid: int
    egid: int
    flags: int
    raw: bytes

    def u64(self, offset: int) -> int:
        return struct.unpack_from("<Q", self.raw, offset)[0]

    def string(self, offset: int) -> tuple[int, int, bytes]:
        """(address, status, bytes without the NUL) of a string slot."""
        addr, status = struct.unpack_from("<Qi", self.raw, offset)
        data = self.raw[offset + 16 : offset + 16 + max(status - 1, 0)]
        return addr, status, data


def decode(line: str) -> Record:
    raw = bytes.fromhex(line.split()[1])
    probe, cpu, pid_tgid, uid_gid, time_ns = struct.unpack_from("<IIQQQ", raw)
    comm = raw[32:48].split(b"\0")[0].decode(errors="replace")
    ppid, euid, egid, flags = struct.unpack_from("<IIII", raw, 48)
    return Record(
        probe, cpu, pid_tgid >> 32, pid_tgid & 0xFFFFFFFF, uid_gid & 0xFFFFFFFF, uid_gid >> 32, time_ns, comm,
        ppid, euid, egid, flags, raw,
    )


class Harness:
    """The harness running one capture program; `finish()` detaches and returns records."""

    def __init__(self, exe: Path, program: Program, kind: str, target: str, tmp: Path, ring_bytes: int = 1 << 20, env=None):
        path = tmp / f"prog-{os.getpid()}-{id(self)}.bin"
        path.write_bytes(program.encode())
        relocs = [f"{slot}={name}" for slot, name in program.relocations]
        self.proc = subprocess.Popen(
            [str(exe), str(path), kind, target, str(ring_bytes), *relocs],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self.first_line = self.proc.stdout.readline()

    @property
    def attached(self) -> bool:
        return self.first_line == "attached\n"

    def finish(self) -> tuple[list[Record], int, str]:
        """Close stdin; return (records, lost count, stderr)."""
        out, err = self.proc.communicate(timeout=60)
        lines = out.splitlines()
        records = [decode(line) for line in lines if line.startswith("record ")]
        lost = [int(line.split()[1]) for line in lines if line.startswith("lost ")]
        return records, (lost[0] if lost else -1), err


def loaded_programs() -> dict[int, str]:
    """id -> name of every BPF program loaded in the kernel (needs root)."""
    programs = {}
    prog_id = 0
    while True:
        attr = struct.pack("<III", prog_id, 0, 0).ljust(128, b"\0")
        buf = ctypes.create_string_buffer(attr, 128)
        if _libc.syscall(_SYS_BPF, _PROG_GET_NEXT_ID, buf, 128) != 0:
            return programs
        prog_id = struct.unpack_from("<I", buf.raw, 4)[0]
        name = _program_name(prog_id)
        if name is not None:
            programs[prog_id] = name


def loaded_program_names() -> list[str]:
    return list(loaded_programs().values())


def programs_held_by(pid: int) -> set[int]:
    """Ids of the BPF programs process `pid` holds open (from /proc/PID/fdinfo)."""
    ids = set()
    for fd in os.listdir(f"/proc/{pid}/fdinfo"):
        try:
            text = open(f"/proc/{pid}/fdinfo/{fd}").read()
        except FileNotFoundError:
            continue
        for line in text.splitlines():
            if line.startswith("prog_id:"):
                ids.add(int(line.split()[1]))
    return ids


def wait_until_unloaded(ids: set[int]) -> set[int]:
    """Wait (up to 60 s) for `ids` to go; return those still loaded. Each perf event's
    teardown waits for an RCU grace period: a few hundred take seconds (11 s for
    syscall.*'s 276 on a busy 2-CPU machine)."""
    for _ in range(1200):
        left = ids & set(loaded_programs())
        if not left:
            return left
        time.sleep(0.05)
    return ids & set(loaded_programs())


def _program_name(prog_id: int) -> str | None:
    attr = ctypes.create_string_buffer(struct.pack("<I", prog_id).ljust(128, b"\0"), 128)
    fd = _libc.syscall(_SYS_BPF, _PROG_GET_FD_BY_ID, attr, 128)
    if fd < 0:
        return None  # freed since we listed it
    try:
        info = ctypes.create_string_buffer(256)
        attr = ctypes.create_string_buffer(struct.pack("<IIQ", fd, 256, ctypes.addressof(info)).ljust(128, b"\0"), 128)
        if _libc.syscall(_SYS_BPF, _OBJ_GET_INFO_BY_FD, attr, 128) != 0:
            return None
        return info.raw[64:80].split(b"\0")[0].decode()
    finally:
        os.close(fd)


PYSTAP = [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(REPO)!r}); from engine.cli import entry; entry()"]


def pystap(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run pystap from this checkout; text output."""
    return subprocess.run([*PYSTAP, *args], capture_output=True, text=True, timeout=timeout)


def compile_program(directory: Path, name: str, source: str) -> Path:
    """A test program from its C text: DIRECTORY/NAME.c compiled at -O1 into DIRECTORY/NAME."""
    (directory / f"{name}.c").write_text(source)
    subprocess.run(["gcc", "-O1", "-o", str(directory / name), str(directory / f"{name}.c")], check=True)
    return directory / name


def build_workload(out_dir: Path) -> Path:
    exe = out_dir / "workload"
    source = Path(__file__).with_name("workload.c")
    subprocess.run(["gcc", "-static", "-O2", "-Wall", "-Wextra", "-Werror", str(source), "-o", str(exe)], check=True)
    return exe
