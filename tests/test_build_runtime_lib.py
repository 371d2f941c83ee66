"""The runtime library built at install time (setup.py): used only while its stamp
matches the sources, compiler and flags; otherwise the build cache takes over."""

from __future__ import annotations

import dataclasses
import subprocess

import pytest

from engine.build import runtime_lib
from engine.build.compiler import CompilerMissing, find_compiler


@pytest.fixture
def sources(tmp_path, monkeypatch):
    """A one-file runtime in place of runtime_c/, and an empty build cache."""
    directory = tmp_path / "runtime_c"
    directory.mkdir()
    (directory / "answer.h").write_text("int stp_answer(void);\n")
    (directory / "answer.c").write_text('#include "answer.h"\nint stp_answer(void) { return 42; }\n')
    monkeypatch.setattr(runtime_lib, "runtime_dir", lambda: directory)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return directory


def members(archive) -> list[str]:
    return subprocess.run(["ar", "t", str(archive)], capture_output=True, text=True, check=True).stdout.split()


def test_the_installed_library_is_used_and_nothing_is_built(sources, tmp_path):
    message = runtime_lib.install_library(sources)
    assert message == f"C runtime prebuilt into {sources / 'libstaprt.a'}"
    assert members(sources / "libstaprt.a") == ["answer.o"]
    compiler = find_compiler()
    assert (sources / "libstaprt.stamp").read_text() == runtime_lib.runtime_version(compiler, sources) + "\n"
    library = runtime_lib.runtime_library(compiler)
    assert (library.archive, library.include_dir, library.built, library.skipped) == (
        sources / "libstaprt.a", sources, False, [])
    assert not (tmp_path / "cache" / "stapui" / "build" / "runtime").exists()


def test_a_changed_source_is_built_into_the_cache(sources, tmp_path):
    runtime_lib.install_library(sources)
    (sources / "answer.c").write_text('#include "answer.h"\nint stp_answer(void) { return 43; }\n')
    library = runtime_lib.runtime_library(find_compiler())
    assert library.built
    assert library.archive.parent.parent == tmp_path / "cache" / "stapui" / "build" / "runtime"
    assert members(library.archive) == ["answer.o"]


def test_another_compiler_does_not_use_the_installed_library(sources):
    runtime_lib.install_library(sources)
    other = dataclasses.replace(find_compiler(), identity="gcc (Other) 99.1")
    library = runtime_lib.runtime_library(other)
    assert library.built and library.archive != sources / "libstaprt.a"


def test_a_file_left_out_at_install_is_reported(sources):
    (sources / "broken.c").write_text("int broken(void) { return }\n")
    message = runtime_lib.install_library(sources)
    assert message.startswith(f"C runtime prebuilt into {sources / 'libstaprt.a'} (1 files left out: broken.c: ")
    library = runtime_lib.runtime_library(find_compiler())
    assert not library.built
    assert [line.split(":")[0] for line in library.skipped] == ["broken.c"]
    assert "error" in library.skipped[0]


def test_without_a_compiler_nothing_is_prebuilt(sources, monkeypatch):
    def missing():
        raise CompilerMissing("no C compiler found (gcc or cc): install one")

    monkeypatch.setattr(runtime_lib, "find_compiler", missing)
    assert runtime_lib.install_library(sources) == "C runtime not prebuilt: no C compiler found (gcc or cc): install one"
    assert sorted(p.name for p in sources.iterdir()) == ["answer.c", "answer.h"]
