"""Uprobes end to end at the capture level: resolve, plan, assemble, attach, fire, decode.

The test program (tests/programs/probed.c, built with -g at -O0 and -O2) runs its loop
three times with known arguments. Each probe's capture program is built from the
recipes pass 2 planned (engine.elaborate.capture_bpf), attached through the uprobe
PMU to the held child by tests/programs/uprobe_harness.c (over runtime_c/bpf_*.c),
and every record's values must be exactly what the program computed.
"""

from __future__ import annotations

import os
import struct
import subprocess
from pathlib import Path

import pytest

from engine.elaborate.capture_bpf import RecordLayout, Slot, capture_program, entry_program
from engine.parse.ast import NumberLiteral, TargetComponent, TargetSymbol
from tests.programs import OUT_DIR, SOURCES, build, build_with_library
from tests.support import REPO, require, require_root
from tests.test_uprobe_resolve import CTX, PROVIDER, point

ROUNDS = 3


@pytest.fixture(scope="module")
def harness() -> Path:
    require_root()
    require(Path("/sys/bus/event_source/devices/uprobe/type").exists(), "the uprobe PMU")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    exe = OUT_DIR / f"uprobe_harness.{os.getpid()}"
    sources = [str(REPO / "runtime_c" / f) for f in ("bpf_sys.c", "bpf_ring.c", "bpf_error.c")]
    subprocess.run(["gcc", "-Wall", "-Wextra", "-Werror", "-O2", f"-I{REPO / 'runtime_c'}", *sources,
                    str(SOURCES / "uprobe_harness.c"), "-o", str(exe)], check=True)
    return exe


def _expr(text: str) -> TargetSymbol:
    """`$p->next->x`, `$argv[0]` -> TargetSymbol (members and literal indexes only)."""
    name, *rest = text.split("->")
    components = [TargetComponent("member", m) for m in rest]
    if "[" in name:
        name, index = name.rstrip("]").split("[")
        components.insert(0, TargetComponent("index", index=NumberLiteral(int(index))))
    return TargetSymbol(name, components)


class Probe:
    """One derived probe and the values its handler would read: (expr, string?)."""

    def __init__(self, binary: str, parts: tuple, reads: list[tuple[str, bool]], derived=None):
        self.derived = derived or PROVIDER.resolve(point(("process", binary), *parts), CTX)[0]
        self.layout = RecordLayout()
        self.slots = []
        for text, is_string in reads:
            capture = self.derived.resolve_target(_expr(text), CTX).capture
            self.slots.append(self.layout.add(Slot(capture, string=is_string, buffer=64 if is_string else 0)))

    def decode(self, raw: bytes) -> tuple:
        values = []
        for index in self.slots:
            slot, offset = self.layout.slots[index], self.layout.offset(index)
            if slot.string:
                status = struct.unpack_from("<i", raw, offset + 8)[0]
                values.append(raw[offset + 16 : offset + 16 + status - 1].decode())
            else:
                values.append(_integer(struct.unpack_from("<Q", raw, offset)[0], slot.capture))
        return tuple(values)


def _integer(value: int, capture) -> int:
    bits = capture.size * 8
    value &= (1 << bits) - 1
    if capture.signed and value >> (bits - 1):
        value -= 1 << bits
    return value


def _spec_line(path: Path, program, data: dict, retprobe: int, semaphore: int) -> str:
    path.write_bytes(program.encode())
    relocs = " ".join(f"{slot}={name}" for slot, name in program.relocations)
    return f"{path} {data['path']} {data['offset']} {retprobe} {semaphore} {relocs}"


def fire(harness: Path, tmp_path: Path, binary: str, probes: list, *, child_only: bool = False,
         output: str = "258") -> list[list[tuple]]:
    """Attach every probe to one run of `binary ROUNDS`; the decoded values per probe
    (only the child's records when `child_only`: system-wide probes see every process)."""
    spec = []
    for index, probe in enumerate(probes):
        data = probe.derived.data
        if "raw_tracepoint" in data:  # kernel.tracepoint: attached by name, system-wide
            data = {"path": f"rawtp:{data['raw_tracepoint']}", "offset": 0}
        semaphore = data.get("semaphore_offset", 0)
        address = int(data["address"], 16) if "address" in data and not probe.derived.is_return else None
        program = capture_program(probe.layout, index, address)
        spec.append(_spec_line(tmp_path / f"probe{index}.bin", program, data, int(probe.derived.is_return), semaphore))
        if probe.layout.entry_slots():  # the companion entry probe stashing @entry values
            entry = probe.derived.data["entry_offset"]
            program = entry_program(probe.layout, int(data["entry_address"], 16))
            spec.append(_spec_line(tmp_path / f"entry{index}.bin", program, dict(data, offset=entry), 0, 0))
    (tmp_path / "spec").write_text("\n".join(spec) + "\n")
    proc = subprocess.run([str(harness), str(tmp_path / "spec"), "262144", "--", binary, str(ROUNDS)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[-1] == "exit 0" and lines[0] == output  # the program's own result
    assert lines[1].startswith("child ")
    assert set(l for l in lines if l.startswith("lost")) == {"lost 0"}
    child = int(lines[1].split()[1])
    results: list[list[tuple]] = [[] for _ in probes]
    for line in lines:
        if line.startswith("record "):
            raw = bytes.fromhex(line.split()[1])
            index, _cpu, pid_tgid = struct.unpack_from("<IIQ", raw)
            if not child_only or pid_tgid >> 32 == child:
                results[index].append(probes[index].decode(raw))
    return results


@pytest.fixture(scope="module", params=["-O0", "-O2"])
def binary(request) -> str:
    return str(build("probed", request.param))


def test_function_arguments_strings_and_struct_fields(harness, tmp_path, binary):
    probes = [
        Probe(binary, (("function", "add"),), [("$a", False), ("$b", False)]),
        Probe(binary, (("function", "greet"),), [("$name", True), ("$times", False)]),
        Probe(binary, (("function", "norm"),), [("$p->x", False), ("$p->y", False), ("$p->next->x", False), ("$p->label", True)]),
    ]
    add, greet, norm = fire(harness, tmp_path, binary, probes)
    assert add == [(i, 100 + i) for i in range(ROUNDS)]
    assert greet == [("stapui", i + 1) for i in range(ROUNDS)]
    assert norm == [(3, -40, 7, "head")] * ROUNDS


def test_return_values(harness, tmp_path, binary):
    probes = [
        Probe(binary, (("function", "add"), "return"), [("$return", False)]),
        Probe(binary, (("function", "greet"), "return"), [("$return", False)]),
        Probe(binary, (("function", "norm"), "return"), [("$return", False)]),
    ]
    add, greet, norm = fire(harness, tmp_path, binary, probes)
    assert add == [(100 + 2 * i,) for i in range(ROUNDS)]
    assert greet == [(6 * (i + 1),) for i in range(ROUNDS)]
    assert norm == [(-30,)] * ROUNDS


def test_statement_probe_reads_a_local(harness, tmp_path, binary):
    (adds,) = fire(harness, tmp_path, binary, [Probe(binary, (("statement", "add@probed.c:24"),), [("$sum", False)])])
    assert adds == [(100 + 2 * i,) for i in range(ROUNDS)]


def test_sdt_markers_with_semaphore(harness, tmp_path, binary):
    """`loop` only fires while its semaphore is set: the attach must pass its offset."""
    probes = [
        Probe(binary, (("mark", "loop"),), [("$arg1", False), ("$arg2", False), ("$arg3", True)]),
        Probe(binary, (("mark", "greeted"),), [("$arg1", True), ("$arg2", False)]),
    ]
    loop, greeted = fire(harness, tmp_path, binary, probes)
    assert loop == [(0, 76, "head"), (1, 162, "head"), (2, 258, "head")]
    assert greeted == [("stapui", 6 * (i + 1)) for i in range(ROUNDS)]


def test_entry_values_in_return_probes(harness, tmp_path, binary):
    """$a / $p->x in a .return probe are the values at entry (stap's implicit @entry)."""
    probes = [
        Probe(binary, (("function", "add"), "return"), [("$return", False), ("$a", False), ("$b", False)]),
        Probe(binary, (("function", "norm"), "return"), [("$p->next->x", False), ("$return", False)]),
    ]
    assert probes[0].layout.entry_slots() == [1, 2]
    add, norm = fire(harness, tmp_path, binary, probes)
    assert add == [(100 + 2 * i, i, 100 + i) for i in range(ROUNDS)]
    assert norm == [(7, -30)] * ROUNDS


def test_cast_of_a_target_pointer_and_of_an_sdt_argument(harness, tmp_path, binary):
    from engine.parse.ast import CastOp

    norm = Probe(binary, (("function", "norm"),), [])
    y = norm.derived.resolve_target(CastOp(TargetSymbol("$p"), "struct point", components=[TargetComponent("member", "y")]), CTX)
    norm.slots.append(norm.layout.add(Slot(y.capture)))
    loop = Probe(binary, (("mark", "loop"),), [])
    label = loop.derived.resolve_target(CastOp(TargetSymbol("$arg3"), "char"), CTX)
    loop.slots.append(loop.layout.add(Slot(label.capture)))
    norms, loops = fire(harness, tmp_path, binary, [norm, loop])
    assert norms == [(-40,)] * ROUNDS
    assert loops == [(ord("h"),)] * ROUNDS  # the first char of "head"


def test_shared_library_function_fires_in_the_library(harness, tmp_path):
    """process(...).library("libprobedlib*").function("lib_scale"): a uprobe in the library file,
    found through the program's $ORIGIN run path, its parameters read from the library's DWARF."""
    program = str(build_with_library())
    probe = Probe(program, (("library", "libprobedlib*"), ("function", "lib_scale")), [("$value", False), ("$factor", False)])
    assert probe.derived.data["path"].endswith(".so") and "libprobedlib-" in probe.derived.data["path"]
    (calls,) = fire(harness, tmp_path, program, [probe], output="21")
    assert calls == [(0, 7), (1, 7), (2, 7)]


def test_global_variable_of_the_functions_unit(harness, tmp_path, binary):
    """`$counter` is a global of probed.c: found in the unit's scope, read relative to the load address."""
    (adds,) = fire(harness, tmp_path, binary, [Probe(binary, (("function", "add"),), [("$counter", False), ("$a", False)])])
    assert adds == [(0, 0), (100, 1), (202, 2)]


def test_plan_probe_is_the_whole_contract(harness, tmp_path, binary):
    """What pass 3 would do: targets recorded by pass 2 -> plan_probe -> attach -> decode by Read."""
    from engine.elaborate.capture_bpf import plan_probe

    derived = PROVIDER.resolve(point(("process", binary), ("function", "norm"), "return"), CTX)[0]
    for expr in (_expr("$return"), _expr("$p->next->x"), TargetSymbol("$p", pretty="$"), TargetSymbol("$$parms")):
        value = derived.resolve_target(expr, CTX)
        value.expr = expr
        derived.targets.append(value)
    planned = plan_probe(derived, 0, maxstringlen=32)
    assert [r.form for r in planned.reads] == ["long", "long", "pretty", "pretty"]
    assert planned.attach["retprobe"] and planned.entry_program is not None
    spec = [_spec_line(tmp_path / "ret.bin", planned.program, planned.attach, 1, 0),
            _spec_line(tmp_path / "entry.bin", planned.entry_program, dict(planned.attach, offset=planned.attach["entry_offset"]), 0, 0)]
    (tmp_path / "spec").write_text("\n".join(spec) + "\n")
    proc = subprocess.run([str(harness), str(tmp_path / "spec"), "65536", "--", binary, str(ROUNDS)],
                          capture_output=True, text=True, timeout=60)
    records = [bytes.fromhex(l.split()[1]) for l in proc.stdout.splitlines() if l.startswith("record ")]
    assert len(records) == ROUNDS

    def slot_value(raw, index):
        slot = planned.layout.slots[index]
        return _integer(struct.unpack_from("<Q", raw, planned.layout.offset(index))[0], slot.capture)

    def render(raw, read):
        parts = []
        for item in read.template:
            parts.append(item if isinstance(item, str) else
                         (f"{slot_value(raw, item[0]):#x}" if item[1] == "%#x" else str(slot_value(raw, item[0]))))
        return "".join(parts)

    for raw in records:
        ret, next_x, pretty, parms = planned.reads
        assert slot_value(raw, ret.slots[0]) == -30 and slot_value(raw, next_x.slots[0]) == 7
        assert render(raw, pretty).startswith("{.x=3, .y=-40, .label=0x")
        assert render(raw, parms).startswith("p=0x7ff")  # a stack address
