"""ELF reading: SDT argument specs, notes, semaphores, symbols, build-id, debug links.

Exact values come from the compiled test program and are cross-checked against
binutils (readelf, nm), an independent reader of the same files.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from engine.elaborate import elf
from tests.programs import build, stripped_copy


@pytest.fixture(scope="module")
def probed0():
    return build("probed", "-O0")


def test_sdt_register_argument_with_sub_register():
    arg = elf.parse_sdt_arg("-4@%ebp")
    assert (arg.kind, arg.register, arg.size, arg.signed) == ("register", "rbp", 4, True)


def test_sdt_memory_argument():
    arg = elf.parse_sdt_arg("8@-24(%rbp)")
    assert (arg.kind, arg.register, arg.offset, arg.size, arg.signed) == ("memory", "rbp", -24, 8, False)


def test_sdt_indexed_and_rip_relative_and_constant_arguments():
    indexed = elf.parse_sdt_arg("-2@16(%rax,%r9d,4)")
    assert (indexed.register, indexed.offset, indexed.index, indexed.scale, indexed.size) == ("rax", 16, "r9", 4, 2)
    rip = elf.parse_sdt_arg("4@counter+8(%rip)")
    assert (rip.kind, rip.register, rip.symbol, rip.offset) == ("memory", "rip", "counter", 8)
    const = elf.parse_sdt_arg("-4@$-5")
    assert (const.kind, const.offset, const.signed) == ("constant", -5, True)


def test_sdt_argument_without_size_defaults_to_eight_bytes():
    arg = elf.parse_sdt_arg("%r12")
    assert (arg.register, arg.size, arg.signed) == ("r12", 8, False)


def test_sdt_argument_errors_name_the_spec():
    with pytest.raises(elf.ElfProblem, match=r"unsupported register '%xmm0' in SDT argument '8@%xmm0'"):
        elf.parse_sdt_arg("8@%xmm0")


def test_register_tables():
    assert elf.REGISTERS["rdi"].dwarf == 5 and elf.REGISTERS["rdi"].pt_regs == 112
    assert elf.REGISTERS["rsp"].pt_regs == 152 and elf.REGISTERS_BY_DWARF[6].name == "rbp"
    assert elf.SUB_REGISTERS["r8d"] == ("r8", 4) and elf.SUB_REGISTERS["sil"] == ("rsi", 1)


def _readelf_notes(path) -> list[tuple[str, str, int, int, str]]:
    text = subprocess.run(["readelf", "-n", str(path)], capture_output=True, text=True, check=True).stdout
    pattern = re.compile(
        r"Provider: (\S+)\s+Name: (\S+)\s+Location: (0x[0-9a-f]+), Base: 0x[0-9a-f]+, "
        r"Semaphore: (0x[0-9a-f]+)\s+Arguments: ?([^\n]*)"
    )
    return [(p, n, int(loc, 16), int(sem, 16), args.strip()) for p, n, loc, sem, args in pattern.findall(text)]


def test_sdt_notes_of_test_program_match_readelf(probed0):
    image = elf.read_image(str(probed0))
    ours = [(n.provider, n.name, n.pc, n.semaphore, " ".join(a.spec for a in n.args)) for n in image.sdt_notes]
    assert ours == _readelf_notes(probed0)
    assert [(n.name, len(n.args)) for n in image.sdt_notes] == [("greeted", 2), ("loop", 3)]


def test_semaphore_file_offsets_match_the_symbols(probed0):
    image = elf.read_image(str(probed0))
    semaphores = {s.name: s.address for s in image.symbols if s.name.endswith("_semaphore")}
    assert [n.semaphore for n in image.sdt_notes] == [
        semaphores["probed_greeted_semaphore"],
        semaphores["probed_loop_semaphore"],
    ]
    section = _section_headers(probed0)[".probes"]
    for note in image.sdt_notes:
        assert image.file_offset(note.semaphore) == note.semaphore - section[0] + section[1]


def _section_headers(path) -> dict[str, tuple[int, int]]:
    text = subprocess.run(["readelf", "-SW", str(path)], capture_output=True, text=True, check=True).stdout
    found = {}
    for match in re.finditer(r"\]\s+(\S+)\s+\S+\s+([0-9a-f]{16})\s+([0-9a-f]+)", text):
        found[match.group(1)] = (int(match.group(2), 16), int(match.group(3), 16))
    return found


def test_function_symbols_match_nm(probed0):
    image = elf.read_image(str(probed0))
    nm = subprocess.run(["nm", str(probed0)], capture_output=True, text=True, check=True).stdout
    expected = {line.split()[2]: int(line.split()[0], 16) for line in nm.splitlines() if line.split()[1] in "Tt"}
    ours = {s.name: s.address for s in image.function_symbols()}
    assert ours == expected
    assert image.symbol_named("norm").size > 0


def test_build_id_pie_and_instruction_bytes(probed0):
    image = elf.read_image(str(probed0))
    text = subprocess.run(["readelf", "-n", str(probed0)], capture_output=True, text=True, check=True).stdout
    assert image.build_id == re.search(r"Build ID: ([0-9a-f]+)", text).group(1)
    assert image.is_pie and image.has_dwarf and image.needed == ["libc.so.6"]
    add = image.symbol_named("add")
    assert image.read_at(add.address, 1) == bytes([0x55])  # push %rbp at -O0


def test_stripped_binary_has_no_debug_information(probed0):
    stripped = elf.read_image(str(stripped_copy(probed0)))
    assert stripped.has_dwarf is False and stripped.symbols == []
    assert stripped.build_id == elf.read_image(str(probed0)).build_id
    assert elf.find_debug_file(stripped) is None


def test_debuglink_lookup_finds_the_separate_debug_file(probed0, tmp_path):
    debug = tmp_path / "prog.debug"
    prog = tmp_path / "prog"
    subprocess.run(["objcopy", "--only-keep-debug", str(probed0), str(debug)], check=True)
    subprocess.run(["objcopy", "--strip-debug", f"--add-gnu-debuglink={debug}", str(probed0), str(prog)], check=True)
    image = elf.read_image(str(prog))
    assert image.debuglink == "prog.debug" and not image.has_dwarf
    assert elf.find_debug_file(image) == str(debug)
    assert str(tmp_path / "prog.debug") in elf.debug_file_candidates(image)


def test_missing_and_non_elf_files_say_why(tmp_path):
    with pytest.raises(elf.ElfProblem, match=r"^cannot open /nonexistent/prog: No such file or directory$"):
        elf.read_image("/nonexistent/prog")
    text = tmp_path / "script.sh"
    text.write_text("#!/bin/sh\n")
    with pytest.raises(elf.ElfProblem, match=r"is not an ELF file"):
        elf.read_image(str(text))


def test_library_resolution_through_dt_needed(probed0):
    image = elf.read_image(str(probed0))
    assert elf.resolve_library(image, "libc.so.6") == ["/usr/lib/x86_64-linux-gnu/libc.so.6"]
    assert elf.resolve_library(image, "libnothing") == []


def test_changed_binary_is_detected_by_build_id(probed0, tmp_path):
    import shutil

    copy = tmp_path / "prog"
    shutil.copy(probed0, copy)
    resolved = elf.read_image(str(copy)).build_id
    assert elf.changed_since(str(copy), resolved) is None
    shutil.copy(build("probed", "-O2"), copy)  # rebuilt in place: same path, other code
    current = elf.read_image(str(copy)).build_id
    assert elf.changed_since(str(copy), resolved) == (
        f"{copy} has changed since the script was translated (build-id {current}, expected {resolved}); "
        "translate the script again"
    )
    copy.unlink()
    assert elf.changed_since(str(copy), resolved) == f"cannot open {copy}: No such file or directory"


def test_separate_debug_information_found_by_build_id():
    """libc6-dbg installs libc's DWARF under /usr/lib/debug/.build-id/xx/yyyy.debug."""
    from tests.support import require

    libc = elf.read_image("/lib/x86_64-linux-gnu/libc.so.6", symbols=False)
    expected = f"/usr/lib/debug/.build-id/{libc.build_id[:2]}/{libc.build_id[2:]}.debug"
    require(os.path.exists(expected), "libc debug information (apt-get install libc6-dbg)")
    assert not libc.has_dwarf and elf.find_debug_file(libc) == expected
