"""pystap: the engine behind a stap-compatible command line.

    pystap [OPTIONS] FILE [ARGS...]
    pystap [OPTIONS] -e SCRIPT [ARGS...]
    pystap [OPTIONS] -l PROBE | -L PROBE

Options follow stap's spelling (`-p2`, `-p 2`, `-vvv`, `-DNAME=VALUE`, `-x PID` ...).
Diagnostics go to stderr in stap's shape; a failure ends with `Pass N: ... failed.`
and exit status 1. No input produces a Python traceback.
"""

from __future__ import annotations

import os
import sys

from engine.options import Options

TYPE_CHECKING = False  # a cached rerun imports neither typing nor the Session's passes
if TYPE_CHECKING:
    from engine.session import Session

USAGE = """Usage: pystap [options] FILE [ARGS]        Run script in file.
   or: pystap [options] -e SCRIPT [ARGS]   Run given script.
   or: pystap [options] -l PROBE           List matching probes.
   or: pystap [options] -L PROBE           List matching probes and local variables.
Options (in stap's spelling):
   -p NUM     stop after pass NUM 1-5
   -v         add verbosity to all passes
   -e SCRIPT  run given script instead of a script file
   -g         guru mode (allow embedded C)
   -I DIR     look in DIR for additional .stp script files
   -D NM=VAL  emit macro definition into generated C code
   -G VAR=VAL set global variable to value
   -u         unoptimized translation
   -w         suppress warnings
   -k         keep temporary directory
   -x PID     sets target() to PID
   -c CMD     start the probes, run CMD, and exit when it finishes
   -o FILE    send script output to file
   -T TIME    terminate the script after TIME seconds
   -t         collect probe timing information
   -F         flight recorder mode
   -s NUM     buffer size in megabytes
   -m MODULE  set probe module name
   --monitor  show globals and probe statistics while running
   --suppress-handler-errors
              count handler errors without reporting them or stopping; no MAXSKIPPED
   --dump-functions     list the functions of the tapset library
   --dump-probe-types   list the probe families
"""

_TAKES_VALUE = set("pIDGxcoTmseRrlLSd")


class UsageError(Exception):
    pass


class Invocation:
    """What the command line asks for: options, or a listing, a dump, help or the version.
    A plain class, as Options is (engine/options.py): a cached rerun builds it first."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.listing: str | None = None  # "l" or "L"
        self.listing_pattern: str | None = None
        self.dump: str | None = None  # "functions" or "probe-types"
        self.help = False
        self.version = False


def parse_args(argv: list[str]) -> Invocation:
    """Parse argv the way stap's GNU getopt loop does: options anywhere (`stap s.stp -c CMD`
    is an option, not a script argument), the first other word the script, the rest its
    arguments; everything after `--` is an argument."""
    options = Options()
    inv = Invocation(options)
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            rest.extend(argv[i:])
            break
        if arg.startswith("--"):
            i = _long_option(inv, arg, argv, i)
            continue
        if not arg.startswith("-") or arg == "-":
            rest.append(arg)
            continue
        j = 1
        while j < len(arg):
            letter = arg[j]
            j += 1
            if letter in _TAKES_VALUE:
                value = arg[j:]
                if not value:
                    if i >= len(argv):
                        raise UsageError(f"option requires an argument -- '{letter}'")
                    value = argv[i]
                    i += 1
                _short_option(inv, letter, value)
                break
            _flag(inv, letter)
    if options.script_text is None and inv.listing is None and inv.dump is None and not inv.help and not inv.version:
        if not rest:
            raise UsageError("A script must be specified.")
        options.script_file = rest.pop(0)
    options.args = rest
    return inv


def _flag(inv: Invocation, letter: str) -> None:
    options = inv.options
    if letter == "v":
        options.verbose += 1
    elif letter == "g":
        options.guru = True
    elif letter == "u":
        options.unoptimized = True
    elif letter == "w":
        options.suppress_warnings = True
    elif letter == "k":
        options.keep_tmp = True
    elif letter == "t":
        options.timing = True
    elif letter == "F":
        options.flight_recorder = True
    elif letter == "h":
        inv.help = True
    elif letter == "V":
        inv.version = True
    elif letter in "qbP":
        pass  # accepted for compatibility; no effect in this runtime
    else:
        raise UsageError(f"invalid option -- '{letter}'")


def _short_option(inv: Invocation, letter: str, value: str) -> None:
    options = inv.options
    if letter == "p":
        if value not in ("1", "2", "3", "4", "5"):
            raise UsageError(f"Invalid pass number '{value}' (should be 1-5).")
        options.last_pass = int(value)
    elif letter == "e":
        options.script_text = value
    elif letter == "I":
        options.include_dirs.append(value)
    elif letter == "D":
        name, _, val = value.partition("=")
        options.defines[name] = val
    elif letter == "G":
        name, sep, val = value.partition("=")
        if not sep:
            raise UsageError(f"Invalid variable assignment '{value}' (expected NAME=VALUE).")
        options.global_settings[name] = val
    elif letter == "x":
        options.target_pid = _integer(value, "-x")
    elif letter == "c":
        options.command = value
    elif letter == "o":
        options.output_file = value
    elif letter == "T":
        try:
            options.timeout = float(value)
        except ValueError:
            raise UsageError(f"Invalid timeout '{value}'.") from None
    elif letter == "m":
        options.module_name = value
    elif letter == "s":
        options.buffer_mb = _integer(value, "-s")
    elif letter in "lL":
        inv.listing = letter
        inv.listing_pattern = value
        options.last_pass = 2
    # -R -r -S -d: accepted for compatibility; no effect in this runtime


def _long_option(inv: Invocation, arg: str, argv: list[str], i: int) -> int:
    name = arg[2:]
    if name == "monitor" or name.startswith("monitor="):
        inv.options.monitor = True
    elif name == "dump-functions":
        inv.dump = "functions"
    elif name == "dump-probe-types":
        inv.dump = "probe-types"
    elif name == "help":
        inv.help = True
    elif name == "version":
        inv.version = True
    elif name == "suppress-handler-errors":
        inv.options.defines["STAP_SUPPRESS_HANDLER_ERRORS"] = "1"
    elif name in ("disable-cache", "poison-cache", "privilege=stapusr", "unprivileged"):
        pass
    else:
        raise UsageError(f"unrecognized option '{arg}'")
    return i


def _integer(value: str, option: str) -> int:
    try:
        return int(value, 0)
    except ValueError:
        raise UsageError(f"Invalid argument '{value}' for {option}.") from None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        inv = parse_args(argv)
    except UsageError as error:
        sys.stderr.write(f"pystap: {error}\n{USAGE}")
        return 1
    if inv.help:
        sys.stdout.write(USAGE)
        return 0
    if inv.version:
        from engine import __version__

        sys.stdout.write(f"pystap (stapui) {__version__}, SystemTap language translator\n")
        return 0
    if inv.listing or inv.dump:
        from engine.elaborate import listing

        return listing.main(inv)
    options = inv.options
    if options.last_pass == 5 and not options.verbose and not options.keep_tmp:
        cached = _run_cached_build(options)
        if cached is not None:
            return cached
    from engine.session import Session

    return run_session(Session(options))


def run_session(session: Session) -> int:
    """Run passes up to -p, print the last artifact (for -p1..-p4) and diagnostics."""
    options = session.options
    last = options.last_pass
    seen: set[str] = set()
    errors = warnings = 0  # similar messages left out, reported at the end as stap does
    while session.next_pass <= last and not session.failed:
        number = session.next_pass
        result = session.step()
        errors += _print_diagnostics(session, result.diagnostics, seen) + result.suppressed_errors
        warnings += 0 if options.suppress_warnings else result.suppressed_warnings
        if not result.ok:
            sys.stderr.write(f"Pass {number}: {_failed_word(number)} failed.  [man error::pass{number}]\n")
            _print_suppressed(errors, warnings)
            return 1
        if options.verbose:
            sys.stderr.write(_pass_line(session, number) + "\n")
            for note in getattr(session.artifact(number), "verbose_notes", lambda: [])():
                sys.stderr.write(note + "\n")
        if number == 4 and last == 5:
            _remember_build(session)
    if last < 5:
        artifact = session.artifact(last)
        text = artifact.dump()
        if text:
            sys.stdout.write(text if text.endswith("\n") else text + "\n")
        _print_suppressed(errors, warnings)
        return 0
    _print_suppressed(errors, warnings)
    return int(getattr(session.artifact(5), "exit_status", 0))


def _print_suppressed(errors: int, warnings: int) -> None:
    if errors:
        sys.stderr.write(f"Number of similar error messages suppressed: {errors}.\n")
    if warnings:
        sys.stderr.write(f"Number of similar warning messages suppressed: {warnings}.\n")
    if errors or warnings:
        sys.stderr.write("Rerun with -v to see them.\n")


def _run_cached_build(options: Options) -> int | None:
    """Rerunning an unchanged script: skip passes 1-4 (engine/run/fastpath.py)."""
    from engine.run import fastpath

    return fastpath.run_if_cached(options)


def _remember_build(session: Session) -> None:
    from engine.run import fastpath

    fastpath.remember(session)


def _failed_word(number: int) -> str:
    return ("parse", "analysis", "translation", "compilation", "run")[number - 1]


def _pass_line(session: Session, number: int) -> str:
    from engine.session import PASS_NAMES

    artifact = session.artifact(number)
    timing = session.timings[number - 1]
    summary = getattr(artifact, "verbose_summary", None)
    text = summary() if callable(summary) else PASS_NAMES[number - 1]
    return f"Pass {number}: {text} in {timing}."


def _print_diagnostics(session: Session, diagnostics: list, seen: set[str] | None = None) -> int:
    """Print diagnostics; like stap, a parse error already printed with the same message
    about the same token text is only counted (unless -v). Returns how many were."""
    suppressed = 0
    for diagnostic in diagnostics:
        if not diagnostic.is_error and session.options.suppress_warnings:
            continue
        if seen is not None and diagnostic.kind == "parse error" and diagnostic.span is not None:
            key = f"{diagnostic.message}\0{diagnostic.saw}"  # same words about the same token text
            if key in seen and not session.options.verbose:
                suppressed += 1
                continue
            seen.add(key)
        sys.stderr.write(diagnostic.format())
    return suppressed


def entry() -> None:
    """Console-script entry: never let a Python traceback reach the user."""
    try:
        code = main()
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        code = 0
    except Exception as error:  # a translator bug: say so in one line, not a traceback
        sys.stderr.write(f"pystap: internal error: {type(error).__name__}: {error}\n")
        if os.environ.get("STAPUI_DEBUG"):
            raise
        code = 1
    sys.exit(code)


if __name__ == "__main__":
    entry()
