"""process(...) probes: resolution and -L listing against the real stap, capture plans, errors.

The test programs are compiled here with -g at -O0 and -O2; stap (the oracle, passes
1-2 only) lists and resolves the very same files, so probe addresses, variable
lists and type names are checked against SystemTap itself.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.elaborate import dwarf
from engine.elaborate.probes.base import ResolutionError, ResolveContext
from engine.elaborate.probes.uprobe import UprobeProvider
from engine.parse.ast import NumberLiteral, ProbePoint, ProbePointComponent, StringLiteral, TargetComponent, TargetSymbol
from tests.programs import SOURCES, build, stripped_copy
from tests.support import stap_oracle

PROVIDER = UprobeProvider()
CTX = ResolveContext()


def point(*parts) -> ProbePoint:
    """point(("process", "/bin/x"), ("function", "f"), "return")"""
    components = []
    for part in parts:
        if isinstance(part, tuple):
            functor, arg = part
            literal = StringLiteral(arg) if isinstance(arg, str) else NumberLiteral(arg)
            components.append(ProbePointComponent(functor, literal))
        else:
            components.append(ProbePointComponent(part))
    return ProbePoint(components)


def listing(*parts) -> list[str]:
    return [p.format(True) for p in PROVIDER.list(point(*parts), CTX)]


@pytest.fixture(scope="module")
def binaries():
    return {
        "O0": str(build("probed", "-O0")),
        "O2": str(build("probed", "-O2")),
        "nopie": str(build("probed", "-O0", "-no-pie")),
        "types": str(build("types", "-O0")),
    }


def _oracle_lines(*args: str) -> list[str]:
    proc = stap_oracle(*args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


@pytest.mark.parametrize("which", ["O0", "O2", "types"])
def test_function_listing_matches_stap(binaries, which):
    path = binaries[which]
    ours = listing(("process", path), ("function", "*"))
    assert ours == _oracle_lines("-L", f'process("{path}").function("*")')


def test_function_listing_has_types_and_optimized_variables(binaries):
    o0 = listing(("process", binaries["O0"]), ("function", "greet"))
    o2 = listing(("process", binaries["O2"]), ("function", "greet"))
    assert o0[0].endswith(':28") $name:char const* $times:unsigned char $len:size_t')
    assert o2[0].endswith(':28") $name:char const* $times:unsigned char')  # len has no location at entry


@pytest.mark.parametrize("which", ["O0", "O2"])
def test_mark_listing_matches_stap(binaries, which):
    path = binaries[which]
    assert listing(("process", path), ("mark", "*")) == _oracle_lines("-L", f'process("{path}").mark("*")')


@pytest.mark.parametrize("opt", ["-O0", "-O2"])
@pytest.mark.parametrize("function", ["scale", "__scale_impl", "scale*", "*scale*", "twice", "*"])
def test_symbol_aliases_list_like_stap(opt, function):
    """aliased.c's `scale` and `scale_local` are other symbols of the DWARF function
    __scale_impl (as glibc's malloc is of __libc_malloc): they find it, and -L names it."""
    path = str(build("aliased", opt))
    assert listing(("process", path), ("function", function)) == _oracle_lines(
        "-L", f'process("{path}").function("{function}")')


def test_symbol_alias_names_the_dwarf_function():
    """A static alias names it too (at -O2 GCC drops that symbol: no match there)."""
    path = str(build("aliased", "-O0"))
    expected = [f'process("{path}").function("__scale_impl@{SOURCES}/aliased.c:6") $value:int $factor:int']
    assert listing(("process", path), ("function", "scale")) == expected
    assert listing(("process", path), ("function", "scale_local")) == expected
    assert _oracle_lines("-L", f'process("{path}").function("scale_local")') == expected


def test_python_sdt_markers_match_stap():
    path = "/usr/bin/python3.11"
    assert listing(("process", path), ("mark", "*")) == _oracle_lines("-L", f'process("{path}").mark("*")')


def _oracle_probes(script_point: str) -> list[tuple[str, str]]:
    proc = stap_oracle("-p2", "-e", f"probe {script_point} {{ println(1) }}")
    assert proc.returncode == 0, proc.stderr
    return re.findall(r"^(\S+) /\* pc=(\S+) \*/", proc.stdout, re.M)


@pytest.mark.parametrize("which", ["O0", "O2", "nopie"])
def test_function_probe_addresses_match_stap(binaries, which):
    """Prologue skipping at -O0, entry pc at -O2, .absolute addresses for non-PIE files.

    stap orders the derived probes by its own hash tables, so compare them as sets.
    """
    path = binaries[which]
    ours = [(d.point, d.data["pc"]) for d in PROVIDER.resolve(point(("process", path), ("function", "*@probed.c")), CTX)]
    assert sorted(ours) == sorted(_oracle_probes(f'process("{path}").function("*@probed.c")'))
    assert len(ours) == (4 if which == "O2" else 5)


def test_inline_and_call_suffixes_match_stap(binaries):
    o2 = binaries["O2"]
    ours = [(d.point, d.data["pc"]) for d in PROVIDER.resolve(point(("process", o2), ("function", "atoi"), "inline"), CTX)]
    assert ours == _oracle_probes(f'process("{o2}").function("atoi").inline')
    o0 = binaries["O0"]
    ours = [(d.point, d.data["pc"]) for d in PROVIDER.resolve(point(("process", o0), ("function", "add"), "call"), CTX)]
    assert ours == _oracle_probes(f'process("{o0}").function("add").call')


@pytest.mark.parametrize("which", ["O0", "O2"])
def test_statement_probe_matches_stap(binaries, which):
    path = binaries[which]
    ours = [(d.point, d.data["pc"]) for d in PROVIDER.resolve(point(("process", path), ("statement", "*@probed.c:23")), CTX)]
    assert ours == _oracle_probes(f'process("{path}").statement("*@probed.c:23")')


# Which lines each pattern probes, as stap 4.8 resolves them on tests/programs/probed.c.
# At -O2 lines sharing their first instruction give one probe (the lowest line), and
# `:*` starts at the line stap gives the function's entry (norm's entry holds 36-38).
STATEMENT_LINES = [
    ("O0", "norm@probed.c:*", [36, 37, 38, 39, 40, 41]),
    ("O2", "norm@probed.c:*", [38, 39, 40]),
    ("O0", "norm@probed.c:36-39", [36, 37, 38, 39]),
    ("O2", "norm@probed.c:36-39", [36, 39]),
    ("O2", "norm@probed.c:37,39-40", [37, 39, 40]),
    ("O0", "norm@probed.c+2", [37]),
    ("O2", "norm@probed.c+2", [37]),
    ("O2", "main@probed.c:*", [49, 50, 53, 55, 56, 59, 60, 61, 62, 64, 66, 67]),
    ("O2", "main@*:*", [49, 50, 53, 55, 56, 59, 60, 61, 62, 64, 66, 67]),  # not stdlib.h's inlined atoi
    ("O2", "*@probed.c:20-27", [22, 24, 25]),
    ("O2", "*@probed.c:*", [23, 24, 25, 29, 31, 32, 38, 39, 40, 49, 50, 53, 55, 56, 59, 60, 61, 62, 64, 66, 67]),
]


@pytest.mark.parametrize("which,spec,lines", STATEMENT_LINES)
def test_statement_line_patterns_match_stap(binaries, which, spec, lines):
    """Ranges, lists, `:*` and `+N`: the lines, their addresses (stap orders probes of
    several functions by its hash tables: compared as sets) and the -L listing."""
    path = binaries[which]
    derived = PROVIDER.resolve(point(("process", path), ("statement", spec)), CTX)
    assert sorted(int(re.search(r':(\d+)"\)$', d.point)[1]) for d in derived) == lines
    ours = sorted((d.point, d.data["pc"]) for d in derived)
    assert ours == sorted(_oracle_probes(f'process("{path}").statement("{spec}")'))
    assert sorted(listing(("process", path), ("statement", spec))) == _oracle_lines("-L", f'process("{path}").statement("{spec}")')


def test_statement_in_a_block_lists_its_variables_first(binaries):
    """main's loop variable is in scope inside the loop only, and listed first, as stap does."""
    path = binaries["O0"]
    inside, after = listing(("process", path), ("statement", "main@probed.c:59,66"))
    assert inside.endswith(':59") $i:int $argc:int $argv:char** $rounds:int $name:char[] $tail_label:char[] '
                           "$head_label:char[] $tail:struct point $head:struct point $checksum:long int")
    assert after.endswith(':66") $argc:int $argv:char** $rounds:int $name:char[] $tail_label:char[] '
                          "$head_label:char[] $tail:struct point $head:struct point $checksum:long int")


def _target(probe, name, *members, pretty=""):
    components = [TargetComponent("member", m) if isinstance(m, str) else TargetComponent("index", index=NumberLiteral(m)) for m in members]
    return probe.resolve_target(TargetSymbol(name, components, pretty=pretty), CTX)


def _probe(path, function, *suffix):
    return PROVIDER.resolve(point(("process", path), ("function", function), *suffix), CTX)[0]


def test_capture_plans_at_O0_read_the_stack_frame(binaries):
    """-O0 spills parameters below %rbp (cf. `mov %edi,-0x14(%rbp)` in add's prologue)."""
    add = _probe(binaries["O0"], "add")
    assert _target(add, "$a").description == "$a: rbp-20; load 4 -> 4 bytes, signed"
    assert _target(add, "$b").description == "$b: rbp-32; load 8 -> 8 bytes, signed"
    greet = _probe(binaries["O0"], "greet")
    assert _target(greet, "$times").description == "$times: rbp-28; load 1 -> 1 bytes"
    norm = _probe(binaries["O0"], "norm")
    assert _target(norm, "$p", "next", "x").description == (
        "$p->next->x: rbp-24; load 8; add 24; load 8; add 0; load 4 -> 4 bytes, signed"
    )


def test_capture_plans_at_O2_read_registers(binaries):
    add = _probe(binaries["O2"], "add")
    assert _target(add, "$a").description == "$a: rdi -> 4 bytes, signed"
    assert _target(add, "$b").description == "$b: rsi -> 8 bytes, signed"
    norm = _probe(binaries["O2"], "norm")
    assert _target(norm, "$p", "y").description == "$p->y: rdi; add 8; load 8 -> 8 bytes, signed"
    assert _target(norm, "$p", "label").description == "$p->label: rdi; add 16; load 8 -> 8 bytes"


def test_arrays_pointers_and_frame_base_through_the_cfa(binaries):
    """main at -O2 has DW_OP_call_frame_cfa as frame base: CFA = rsp+8 at the entry pc."""
    main = _probe(binaries["O2"], "main")
    assert _target(main, "$argv", 0, 1).description == "$argv[0][1]: rsi; add 0; load 8; add 1; load 1 -> 1 bytes, signed"
    assert _target(main, "$head", "y").description == "$head->y: rsp-88; add 8; load 8 -> 8 bytes, signed"


def test_return_and_entry_values(binaries):
    from engine.parse.ast import EntryOp

    ret = _probe(binaries["O2"], "norm", "return")
    assert ret.is_return and ret.data["pc"] == f".dynamic+0x{ret.image.symbol_named('norm').address:x}"
    assert _target(ret, "$return").description == "$return: rax -> 8 bytes, signed"
    entry = ret.resolve_target(EntryOp(TargetSymbol("$p", [TargetComponent("member", "x")])), CTX)
    assert entry.description == "$p->x: at entry: rdi; add 0; load 4 -> 4 bytes, signed"
    implicit = _target(ret, "$p", "x")  # stap: $var in a .return probe is its value at entry
    assert implicit.description == entry.description and implicit.capture == entry.capture
    assert _target(ret, "$$parms").description == "at entry: $$parms: p=%#x"


def test_pretty_printing_plans(binaries):
    norm = _probe(binaries["O0"], "norm")
    assert _target(norm, "$p", pretty="$").capture.text() == "{.x=%d, .y=%d, .label=%#x, .next=%#x}"
    assert _target(norm, "$p", pretty="$$").capture.text() == "{.x=%d, .y=%d, .label=%s, .next={...}}"
    assert _target(norm, "$$parms").capture.text() == "p=%#x"
    greet = _probe(binaries["O0"], "greet")
    assert _target(greet, "$name", pretty="$").capture.text() == "%s"


def test_target_errors_read_like_stap(binaries):
    norm = _probe(binaries["O0"], "norm")
    with pytest.raises(ResolutionError, match=r"^unable to find member 'nope' for struct point \(alternatives: x, y, label, next\)$"):
        _target(norm, "$p", "nope")
    with pytest.raises(ResolutionError, match=r"^invalid access '->y' vs. int$"):
        _target(norm, "$p", "x", "y")
    main = _probe(binaries["O0"], "main")
    with pytest.raises(ResolutionError, match=r"^'struct point' is being accessed instead of a member such as '->x'$"):
        _target(main, "$head")
    with pytest.raises(ResolutionError, match=r"^unable to find local 'nothere', .*near pc 0x[0-9a-f]+ in main .*probed.c \(alternatives: \$argc, \$argv, \$rounds, \$name, \$tail_label, \$head_label, \$tail, \$head, \$checksum\)\)$"):
        _target(main, "$nothere")
    with pytest.raises(ResolutionError, match=r"^unable to find local 'return'"):
        _target(main, "$return")


def test_sdt_marker_captures(binaries):
    loop = PROVIDER.resolve(point(("process", binaries["O0"]), ("mark", "loop")), CTX)[0]
    assert loop.data["args"] == "-4@-12(%rbp) -8@-8(%rbp) 8@%rax"
    assert _target(loop, "$arg1").description == "$arg1 (-4@-12(%rbp)): rbp-12; load 4 -> 4 bytes, signed"
    assert _target(loop, "$arg3").description == "$arg3 (8@%rax): rax -> 8 bytes"
    image_semaphore = loop.image.symbol_named("probed_loop_semaphore").address
    assert loop.data["semaphore_offset"] == loop.image.file_offset(image_semaphore)
    with pytest.raises(ResolutionError, match=r"^target variable '\$arg4' not found: marker 'loop' has 3 arguments$"):
        _target(loop, "$arg4")


def test_explain_shows_offset_and_original_instruction(binaries):
    add = _probe(binaries["O0"], "add")
    text = add.explain()
    assert "mechanism: uprobe (uprobe PMU)" in text
    assert f"offset: {0x1164}" in text and "pc: .dynamic+0x1164" in text
    assert "instruction: 48 8b 45 e0" in text  # mov -0x20(%rbp),%rax: the first body instruction


def test_missing_binary_function_and_line_say_why(binaries):
    with pytest.raises(ResolutionError, match=r"^cannot probe /nonexistent/prog: No such file or directory$"):
        PROVIDER.resolve(point(("process", "/nonexistent/prog"), ("function", "main")), CTX)
    with pytest.raises(ResolutionError, match=r"^no match \(similar functions: norm, twice, _start\)$"):
        PROVIDER.resolve(point(("process", binaries["O0"]), ("function", "nothere")), CTX)
    assert PROVIDER.resolve(point(("process", binaries["O0"]), ("function", "zz*")), CTX) == []
    with pytest.raises(ResolutionError, match=r"^no line records for probed.c:1000 \(try: :\d+, :\d+, :\d+\)$"):
        PROVIDER.resolve(point(("process", binaries["O0"]), ("statement", "*@probed.c:1000")), CTX)
    with pytest.raises(ResolutionError, match=r"^no line records for probed.c:1000-1002 \(try: :\d+, :\d+, :\d+\)$"):
        PROVIDER.resolve(point(("process", binaries["O0"]), ("statement", "*@probed.c:1000-1002")), CTX)
    with pytest.raises(ResolutionError, match=r"^no function matches 'nothere' in probed.c$"):
        PROVIDER.resolve(point(("process", binaries["O0"]), ("statement", "nothere@probed.c:*")), CTX)
    for bad, why in ((":5-3", "lines are N, N-M, N,M-K or *"), (":x", "lines are N, N-M, N,M-K or *"),
                     ("+x", "a relative line is +NUMBER")):
        with pytest.raises(ResolutionError, match=re.escape(f"unsupported line specification '{bad}' ({why})")):
            PROVIDER.resolve(point(("process", binaries["O0"]), ("statement", f"norm@probed.c{bad}")), CTX)


def test_stripped_binary_says_there_is_no_debug_information(binaries):
    stripped = str(stripped_copy(build("probed", "-O0")))
    with pytest.raises(ResolutionError, match=r"has no symbols and no debug information \(stripped; no \.debug_info section, separate debug file not found: /usr/lib/debug/\.build-id/"):
        PROVIDER.resolve(point(("process", stripped), ("function", "add")), CTX)


def test_process_begin_end(binaries):
    """Every form resolves to a probe the runtime matches processes for (the pid must exist)."""
    forms = {
        "process.begin": point("process", "begin"),
        f'process("{binaries["O0"]}").end': point(("process", binaries["O0"]), "end"),
        "process(1).begin": point(("process", 1), "begin"),
    }
    data = {text: PROVIDER.resolve(p, CTX) for text, p in forms.items()}
    assert {text: [(d.point, d.data) for d in derived] for text, derived in data.items()} == {
        "process.begin": [("process.begin", {"process_lifecycle": "begin"})],
        f'process("{binaries["O0"]}").end': [(f'process("{binaries["O0"]}").end',
                                               {"process_lifecycle": "end", "path": binaries["O0"]})],
        "process(1).begin": [("process(1).begin", {"process_lifecycle": "begin", "pid": 1})],
    }
    with pytest.raises(ResolutionError, match=r"^cannot probe pid 999999999: No such process$"):
        PROVIDER.resolve(point(("process", 999999999), "end"), CTX)


def test_library_functions_resolve_in_the_needed_library():
    from tests.programs import build_with_library

    program = str(build_with_library())
    probes = PROVIDER.resolve(point(("process", program), ("library", "libprobedlib*"), ("function", "lib_*")), CTX)
    library = probes[0].data["path"]
    assert Path(library).name.startswith("libprobedlib-") and Path(library).parent == Path(program).parent
    assert [p.point for p in probes] == [
        f'process("{program}").library("{library}").function("lib_scale@{SOURCES}/probedlib.c:2")'
    ]
    assert list(probes[0].target_vars) == ["$value", "$factor"]


def test_index_is_cached_on_disk_by_build_id(binaries, tmp_path, monkeypatch):
    """Functions and the detail (types, lines) are cached apart; a warm listing reads no DWARF."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(dwarf, "_MEMORY", {})
    first = dwarf.load_index(binaries["O2"])
    cached = sorted(p.name for p in (tmp_path / "stapui" / "debuginfo").iterdir())
    stem = cached[0].rsplit(".", 2)[0]
    assert stem.startswith(first.build_id + "-")
    assert cached == [f"{stem}.v{dwarf.INDEX_FORMAT}.detail", f"{stem}.v{dwarf.INDEX_FORMAT}.pickle"]
    monkeypatch.setattr(dwarf, "_MEMORY", {})
    monkeypatch.setattr(dwarf, "build_index", lambda image: pytest.fail("index rebuilt despite the cache"))
    second = dwarf.load_index(binaries["O2"])
    assert [f.qualified for f in second.functions] == [f.qualified for f in first.functions]
    assert second._types is None  # not loaded until a capture needs it
    assert dwarf.find_type(second, "struct point") == dwarf.find_type(first, "struct point")


def test_corrupt_debug_information_is_reported(binaries, tmp_path):
    import shutil
    import subprocess

    corrupt = tmp_path / "corrupt"
    shutil.copy(binaries["O0"], corrupt)
    sections = subprocess.run(["readelf", "-SW", str(corrupt)], capture_output=True, text=True, check=True).stdout
    offset = int(re.search(r"\.debug_info\s+PROGBITS\s+\w+\s+(\w+)", sections).group(1), 16)
    with open(corrupt, "r+b") as stream:
        stream.seek(offset)
        stream.write(b"\xff" * 64)
    with pytest.raises(ResolutionError, match=rf"^cannot read the debug information in {corrupt}: "):
        PROVIDER.resolve(point(("process", str(corrupt)), ("function", "add")), CTX)


def test_symbol_only_listing_of_python_matches_stap():
    """python3.11 ships without debug information: its dynamic symbols are listed, as stap does."""
    path = "/usr/bin/python3.11"
    ours = listing(("process", path), ("function", "*"))
    assert len(ours) > 1000
    assert ours == _oracle_lines("-L", f'process("{path}").function("*")')
