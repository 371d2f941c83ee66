"""The library index: a warm pass 1 loads no AST, pass 2 loads only the files it links."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.elaborate.library import Library
from engine.parse import ast, machine_conditions, parse_library, parse_text
from engine.parse.cache import ParseCache
from engine.parse.index import LibraryFiles

FILES = {
    "alpha.stp": "function alpha_f() { return 1 }\nglobal alpha_g\nprivate function hidden() { return 2 }\n",
    "beta.stp": "probe beta.one = begin { x = 1 }\nprobe beta.two = end {}\nfunction beta_f(a) { return a }\n",
    "gamma.stp": "function beta_f(a, b) { return a + b }\nglobal alpha_g = 3\n",
}


@pytest.fixture
def roots(tmp_path: Path) -> list[Path]:
    library = tmp_path / "tapsets"
    library.mkdir()
    for name, text in FILES.items():
        (library / name).write_text(text)
    return [library]


def load(roots: list[Path], cache_dir: Path) -> tuple[LibraryFiles, ParseCache, list]:
    cache = ParseCache(cache_dir)
    files, _macros, diagnostics = parse_library([], machine_conditions(), cache, roots=roots)
    return files, cache, diagnostics


def names(files: LibraryFiles) -> list[str]:
    return [Path(files.summaries[n].path).name for n in sorted(files._loaded)]


def test_warm_pass_1_parses_and_loads_nothing(roots, tmp_path):
    load(roots, tmp_path / "cache")
    files, cache, diagnostics = load(roots, tmp_path / "cache")
    assert (len(files), cache.misses, cache.hits, files._loaded, diagnostics) == (3, 0, 0, {}, [])
    assert [Path(s.path).name for s in files.summaries] == ["alpha.stp", "beta.stp", "gamma.stp"]
    assert files.summaries[0].functions == [("alpha_f", 0)]
    assert files.summaries[1].aliases == [(("beta", "one"), 0), (("beta", "two"), 1)]


def test_changed_file_alone_is_parsed_again(roots, tmp_path):
    load(roots, tmp_path / "cache")
    path = roots[0] / "gamma.stp"
    path.write_text("function delta_f() { return 4 }\n")
    os.utime(path, ns=(1, 1))
    files, cache, _ = load(roots, tmp_path / "cache")
    assert (cache.misses, files.summaries[2].functions, files._loaded) == (1, [("delta_f", 0)], {})


def test_linker_lookups_load_only_the_defining_files(roots, tmp_path):
    files, _, _ = load(roots, tmp_path / "cache")
    library = Library.index(files)
    assert sorted(library.functions) == ["alpha_f", "beta_f"] and sorted(library.globals) == ["alpha_g"]
    assert library.alias_heads() == ["beta"] and files._loaded == {}
    variable, owner = library.globals["alpha_g"]
    assert (variable.name, Path(owner.name).name, names(files)) == ("alpha_g", "alpha.stp", ["alpha.stp"])
    found = library.functions["beta_f"]
    assert [(len(f.params), Path(owner.name).name) for f, owner in found] == [(1, "beta.stp"), (2, "gamma.stp")]
    assert names(files) == ["alpha.stp", "beta.stp", "gamma.stp"]


def test_alias_match_loads_the_alias_file(roots, tmp_path):
    files, _, _ = load(roots, tmp_path / "cache")
    point = parse_text("probe beta.* {}", "<input>").probes[0].points[0]
    entries = Library.index(files).matching_aliases(point)
    assert [(e.names, Path(e.file.name).name) for e in entries] == [(("beta", "one"), "beta.stp"), (("beta", "two"), "beta.stp")]
    assert names(files) == ["beta.stp"] and isinstance(entries[0].alias, ast.ProbeAlias)


def test_lazy_library_same_answers_as_eager(roots, tmp_path):
    files, _, _ = load(roots, tmp_path / "cache")
    eager = Library.index(list(files))
    lazy = Library.index(load(roots, tmp_path / "cache")[0])

    def described(library):
        functions = {n: [(f.name, len(f.params), Path(o.name).name) for f, o in library.functions[n]] for n in library.functions}
        globals_ = {n: (v.init is not None, Path(o.name).name) for n, (v, o) in library.globals.items()}
        return functions, globals_, library.alias_heads()

    assert described(eager) == described(lazy) == (
        {"alpha_f": [("alpha_f", 0, "alpha.stp")], "beta_f": [("beta_f", 1, "beta.stp"), ("beta_f", 2, "gamma.stp")]},
        {"alpha_g": (False, "alpha.stp")},
        ["beta"],
    )


def test_broken_file_warns_warm_and_cold(roots, tmp_path):
    (roots[0] / "broken.stp").write_text("function (\n")
    cold = load(roots, tmp_path / "cache")
    warm = load(roots, tmp_path / "cache")
    for files, _cache, diagnostics in (cold, warm):
        assert len(files) == 3
        assert [(d.kind, d.message, d.span.line) for d in diagnostics] == [
            ("WARNING", "expected identifier", 1)
        ]
