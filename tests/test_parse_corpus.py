"""Pass 1 over SystemTap's own corpus: the tapset library and the shipped examples.

The tapset files must all parse and print exactly like `stap -v -p1` prints them;
the example scripts must all parse, and at least 95% must print byte-identically to
`stap -p1` (run through the oracle in a pool of 4). Examples are parsed with stap's
own .stpm macros, so the comparison measures the parser, not our tapset library.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from engine.diagnostics import DiagnosticError
from engine.parse import ParseArtifact, machine_conditions, parse_library, parse_text
from engine.parse.cache import ParseCache
from engine.parse.index import FileSummary
from engine.parse.library import library_files
from engine.parse.outline import Outliner
from tests.support import STAP_TAPSET_DIR, require, stap_oracle

EXAMPLE_DIRS = [Path("/usr/share/systemtap/examples"), Path("/usr/share/doc/systemtap/examples")]
_ARG = re.compile(r"[$@]([0-9]+)")

# Examples whose -p1 output differs from stap's, and why.
KNOWN_DIFFERENCES: dict[str, str] = {}


def _examples() -> list[Path]:
    found = []
    for directory in EXAMPLE_DIRS:
        found.extend(sorted(directory.rglob("*.stp")) if directory.is_dir() else [])
    return found


def _dummy_args(text: str) -> list[str]:
    count = max((int(n) for n in _ARG.findall(text)), default=0)
    return ["1"] * count


@pytest.fixture(scope="module")
def stap_library():
    """stap's tapset directory parsed our way, with its macros."""
    require(STAP_TAPSET_DIR.is_dir(), "SystemTap tapsets (apt-get install systemtap-common)")
    conditions = machine_conditions()
    library, macros, diagnostics = _parse_stap_tapsets(conditions)
    return library, macros, diagnostics


def _parse_stap_tapsets(conditions):
    return parse_library([], conditions, ParseCache(None), roots=[STAP_TAPSET_DIR])


@pytest.fixture(scope="module")
def stap_dump():
    """`stap -v -p1` prints every library file it parsed: the reference for each."""
    proc = stap_oracle("-v", "-p1", "-e", "probe begin{}")
    sections = re.split(r"^(?=# file )", proc.stdout, flags=re.M)
    return {s.split("\n", 1)[0][len("# file ") :]: s for s in sections if s.startswith("# file ")}


def test_every_tapset_file_parses(stap_library, stap_dump):
    library, _macros, diagnostics = stap_library
    assert [d.format() for d in diagnostics + library.parse_all()] == []  # outlines, then every body
    assert len(library) == 466  # + 18 .stpm files = stap's "484 library scripts"
    assert len(library) == len([n for n in stap_dump if n.endswith(".stp")])


def test_outlines_index_what_full_parses_define(stap_library):
    """Pass 1 outlines a tapset file (outline.py); pass 2 links it by what the outline defined."""
    library, macros, _ = stap_library
    outliner = Outliner(machine_conditions(), macros)
    outlined = 0
    for stapfile in library:
        text = Path(stapfile.name).read_bytes().decode("utf-8", "surrogateescape")
        outline = outliner.outline(text, stapfile.name)
        if outline is not None:
            outlined += 1
            assert _defines(outline) == _defines(stapfile), stapfile.name
    assert outlined == 439  # the others have no body to skip (embedded C only, `$#`) or read a file macro


def _defines(stapfile) -> tuple:
    summary = FileSummary.of(stapfile.name, (0, 0), "", stapfile)
    return summary.functions, summary.globals, summary.aliases


def test_tapset_files_print_like_stap(stap_library, stap_dump):
    library, _macros, _ = stap_library
    differing = [f.name for f in library if artifact_text(f) != stap_dump.get(f.name)]
    assert differing == []


def artifact_text(stapfile) -> str:
    from engine.parse.printer import Printer

    return Printer().print_file(stapfile)


def test_library_search_order_matches_stap(stap_dump):
    macro_files, script_files = library_files([], machine_conditions())
    assert all(p.suffix == ".stpm" for p in macro_files)
    ours = _stap_order([STAP_TAPSET_DIR])
    assert ours == [n for n in stap_dump if n != "<input>"]


def _stap_order(roots):
    macros, scripts = library_files([], machine_conditions(), roots)
    return [str(p) for p in macros + scripts]


@pytest.fixture(scope="module")
def examples():
    found = _examples()
    require(len(found) > 100, "SystemTap example scripts (apt-get install systemtap-doc)")
    return found


@pytest.fixture(scope="module")
def oracle_outputs(examples):
    def run(path: Path):
        text = path.read_text(errors="replace")
        guru = ["-g"] if "%{" in text else []
        proc = stap_oracle("-p1", *guru, str(path), *_dummy_args(text))
        return path, proc

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(run, examples))


def _ours(path: Path, macros) -> str:
    text = path.read_bytes().decode("utf-8", "surrogateescape")
    guru = "%{" in text
    conditions = machine_conditions(guru=guru)
    stapfile = parse_text(text, str(path), args=_dummy_args(text), conditions=conditions, macros=macros, guru=guru)
    return ParseArtifact(stapfile).dump()


def test_every_example_parses(examples, stap_library, oracle_outputs):
    _, macros, _ = stap_library
    failures = []
    for path in examples:
        try:
            _ours(path, macros)
        except DiagnosticError as error:
            if oracle_outputs[path].returncode == 0:
                failures.append(f"{path}: {error.diagnostics[0].format()}")
    assert failures == []


def test_examples_print_like_stap(examples, stap_library, oracle_outputs):
    _, macros, _ = stap_library
    same, different = 0, []
    for path in examples:
        expected = oracle_outputs[path]
        try:
            ours = _ours(path, macros)
        except DiagnosticError:
            ours = None
        if expected.returncode == 0 and ours == expected.stdout:
            same += 1
        elif expected.returncode != 0 and ours is None:
            same += 1
        elif path.name not in KNOWN_DIFFERENCES:
            different.append(path.name)
    ratio = same / len(examples)
    print(f"\n-p1 byte-identical to stap: {same}/{len(examples)} = {ratio:.1%}")
    assert different == []
    assert ratio >= 0.95
