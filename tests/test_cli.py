"""pystap's command line: stap's option spelling and GNU getopt's argument order."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from engine.cli import UsageError, parse_args
from tests.support import REPO


def test_options_after_the_script_are_options_as_in_stap():
    inv = parse_args(["top.stp", "-c", "cat /etc/hostname", "arg1", "-v", "arg2"])
    options = inv.options
    assert options.script_file == "top.stp"
    assert options.command == "cat /etc/hostname"
    assert options.verbose == 1
    assert options.args == ["arg1", "arg2"]


def test_double_dash_ends_the_options():
    inv = parse_args(["-p2", "s.stp", "--", "-x", "5"])
    assert (inv.options.last_pass, inv.options.script_file, inv.options.args) == (2, "s.stp", ["-x", "5"])
    assert inv.options.target_pid is None


def test_with_e_every_word_is_a_script_argument():
    inv = parse_args(["-e", "probe begin { println(@1) }", "one", "-T", "3", "two"])
    assert inv.options.script_file is None
    assert inv.options.args == ["one", "two"]
    assert inv.options.timeout == 3.0


def test_joined_and_separate_option_values():
    options = parse_args(["-vvp3", "-DMAXACTION=5", "-G", "n=2", "-I", "dir", "s.stp"]).options
    assert (options.verbose, options.last_pass) == (2, 3)
    assert options.defines == {"MAXACTION": "5"}
    assert options.global_settings == {"n": "2"}
    assert options.include_dirs == ["dir"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "A script must be specified."),
        (["-p", "7", "s.stp"], "Invalid pass number '7' (should be 1-5)."),
        (["s.stp", "-x"], "option requires an argument -- 'x'"),
        (["-q", "-Z", "s.stp"], "invalid option -- 'Z'"),
    ],
)
def test_usage_errors(argv, message):
    with pytest.raises(UsageError) as error:
        parse_args(argv)
    assert str(error.value) == message


SOFT_ERRORS = """global n, e
probe timer.ms(1) { n++; if (n <= 5) e = 1 / 0; if (n == 20) exit() }
probe end { printf("n=%d\\n", n) }
"""


@pytest.mark.parametrize(
    ("options", "stderr"),
    [
        # the run stops at the first error (MAXERRORS 0): no n=20, end probes skipped
        ([], "ERROR: division by 0 near operator '/' at <input>:2:44\n"
             "WARNING: Number of errors: 1, skipped probes: 0\nPass 5: run failed.  [man error::pass5]\n"),
        # counted, not reported, not stopping
        (["--suppress-handler-errors"],
         "WARNING: Number of errors: 5, skipped probes: 0\nPass 5: run failed.  [man error::pass5]\n"),
    ],
)
def test_suppress_handler_errors_counts_errors_without_stopping(options, stderr):
    result = subprocess.run(
        [sys.executable, "-m", "engine.cli", *options, "-e", SOFT_ERRORS],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )
    assert result.stderr == stderr
    assert result.stdout == ("n=20\ne=0\n" if options else "")
    assert result.returncode == 1


# --- the cached rerun's key (engine/run/fastpath.py): every input of passes 1-4 -------------

SCRIPT = "probe begin { println(@1) exit() }"


def _key(*argv: str) -> str:
    from engine.run import fastpath

    return fastpath.key(parse_args([*argv, "-e", SCRIPT, "one"]).options)


@pytest.mark.parametrize(
    "changed",
    [["-g"], ["-u"], ["-w"], ["-DMAXACTION=5"], ["-DMAXACTION=6"], ["-DNAME"], ["-G", "n=1"], ["-I", "/nonexistent"],
     ["-m", "mod"], ["--suppress-handler-errors"]],
    ids=lambda argv: " ".join(argv),
)
def test_every_translation_option_changes_the_cache_key(changed):
    assert _key(*changed) != _key()


def test_run_time_options_keep_the_cache_key():
    """-T, -o, -c, -x, -t, -F, -s and --monitor are the runtime's arguments, not its build's."""
    runtime_only = ["-T", "5", "-o", "out", "-c", "true", "-x", "1", "-t", "-F", "-s", "2", "--monitor"]
    assert _key(*runtime_only) == _key()


def test_the_script_and_its_arguments_are_in_the_cache_key(tmp_path):
    from engine.run import fastpath

    def key(*argv: str) -> str:
        return fastpath.key(parse_args(list(argv)).options)

    assert key("-e", SCRIPT, "one") != key("-e", SCRIPT, "two") != key("-e", SCRIPT + " ", "two")
    script = tmp_path / "s.stp"
    script.write_text(SCRIPT)
    first = key(str(script))
    script.write_text(SCRIPT + "\n")
    assert key(str(script)) != first
    assert key("-") is None  # stdin: never cached


def test_sources_tapsets_kernel_and_python_are_in_the_cache_key(tmp_path, monkeypatch):
    """The engine, tapset and runtime sources (size and mtime), an -I directory's files,
    the kernel and the Python running the engine."""
    from engine.run import fastpath

    tree = tmp_path / "tree"
    for package in ("engine", "tapsets", "runtime_c"):
        (tree / package).mkdir(parents=True)
        (tree / package / "x.py").write_text("1")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "my.stp").write_text("function f() { return 1 }")
    monkeypatch.setattr(fastpath, "_ROOT", str(tree))
    argv = ["-I", str(tmp_path / "lib"), "-e", SCRIPT]
    seen = [fastpath.key(parse_args(argv).options)]

    def changed() -> bool:
        seen.append(fastpath.key(parse_args(argv).options))
        return seen[-1] != seen[-2]

    for package in ("engine", "tapsets", "runtime_c"):
        (tree / package / "x.py").write_text("22")
        assert changed(), package
    os.utime(tree / "runtime_c" / "x.py", ns=(0, 0))  # same size, another mtime
    assert changed()
    (tmp_path / "lib" / "my.stp").write_text("function f() { return 2 }")
    os.utime(tmp_path / "lib" / "my.stp", ns=(0, 0))
    assert changed()
    (tmp_path / "lib" / "new.stpm").write_text("@define x %( 1 %)")
    assert changed()
    real = os.uname()
    monkeypatch.setattr(os, "uname", lambda: os.uname_result((*real[:2], "9.9.9", *real[3:])))
    assert changed()
    monkeypatch.setattr(sys, "version", sys.version + "+")
    assert changed()
    assert len(set(seen)) == len(seen)
