"""pystap's command line: stap's option spelling and GNU getopt's argument order."""

from __future__ import annotations

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
