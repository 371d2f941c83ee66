"""pystap's command line: stap's option spelling and GNU getopt's argument order."""

from __future__ import annotations

import pytest

from engine.cli import UsageError, parse_args


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
