"""The bundled tapset library as a whole: it parses, its embedded C compiles against
the runtime ABI, its functions keep stap's signatures, and what cannot work here is
marked so pass 2 rejects it by name."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

import tapsets
from engine.parse import ast, parse_file, parse_library
from engine.parse.conditions import machine_conditions
from tests.support import REPO, STAP_TAPSET_DIR, stap_oracle

TAPSETS = REPO / "tapsets"
RUNTIME_C = REPO / "runtime_c"
# The syscall tapsets (syscalls*.stp) are maintained and tested with the syscall probes.
OWN_FILES = sorted(p for p in TAPSETS.glob("*.stp*") if not p.name.startswith("syscalls"))


@pytest.fixture(scope="module")
def library() -> dict[str, ast.StapFile]:
    return {path.name: parse_file(path, is_tapset=True) for path in OWN_FILES if path.suffix == ".stp"}


def functions(library: dict[str, ast.StapFile]):
    for stapfile in library.values():
        yield from stapfile.functions


def test_library_parses_without_diagnostics() -> None:
    files, macros, diagnostics = parse_library([], machine_conditions())
    assert [d.format() for d in diagnostics] == []
    names = {Path(f.name).name for f in files}
    assert {"context.stp", "string.stp", "conversions.stp", "timestamp.stp", "logging.stp"} <= names
    assert {"choose_defined", "try_assign", "prints", "prints9", "this1", "this8", "MAXSTRINGLEN"} <= set(macros)


def test_requested_families_are_all_defined(library: dict[str, ast.StapFile]) -> None:
    """The functions issue 3 names, by family, with stap's arities."""
    defined = {(f.name, len(f.params)) for f in functions(library)}
    wanted = {
        "context": ["pid/0", "tid/0", "ppid/0", "uid/0", "gid/0", "euid/0", "egid/0", "execname/0",
                    "pexecname/0", "cpu/0", "cmdline_str/0", "target/0", "pp/0", "ppfunc/0",
                    "probefunc/0", "is_return/0"],
        "time": ["gettimeofday_s/0", "gettimeofday_ms/0", "gettimeofday_us/0", "gettimeofday_ns/0",
                 "get_cycles/0", "local_clock_ns/0", "cpu_clock_ns/1", "jiffies/0", "HZ/0", "ctime/1",
                 "ctime/0", "tz_ctime/1"],
        "strings": ["strlen/1", "substr/3", "stringat/2", "isinstr/2", "str_replace/3", "text_str/1",
                    "text_strn/3", "tokenize/2", "tokenize/1", "strtol/2", "isdigit/1", "toupper/1",
                    "tolower/1", "strpos/2", "string_quoted/1"],
        "conversions": ["user_string/1", "user_string_n/2", "user_char/1", "user_short/1", "user_int/1",
                        "user_long/1", "kernel_string/1", "kernel_long/1"],
        "output": ["print_backtrace/0", "print_ubacktrace/0", "sprint_ubacktrace/0"],
        "control": ["log/1", "warn/1", "error/1", "exit/0", "abort/0"],
        "misc": ["errno_str/1", "signal_str/1", "indent/1", "thread_indent/1", "ansi_set_color/3",
                 "ansi_clear_screen/0"],
    }
    missing = [w for family in wanted.values() for w in family
               if (w.split("/")[0], int(w.split("/")[1])) not in defined]
    assert missing == []


def test_every_public_function_has_a_doc_comment() -> None:
    """The first doc line is what the workbench's completion shows."""
    header = re.compile(r"^(?:private\s+)?function\s+(\w+)", re.M)
    undocumented = []
    for path in OWN_FILES:
        text = path.read_text()
        for match in header.finditer(text):
            name = match.group(1)
            before = text[: match.start()].rstrip()
            if name.startswith("_") or match.group(0).startswith("private"):
                continue
            if not before.endswith("*/") or f"sfunction {name} - " not in before[before.rfind("/**"):]:
                undocumented.append(f"{path.name}:{name}")
    assert undocumented == []


UNSUPPORTED = {
    "kernel_string": "kernel memory cannot be read from user space",
    "kernel_long": "kernel memory cannot be read from user space",
    "set_kernel_long": "kernel memory cannot be written from user space",
    "print_backtrace_fileline": "file names and line numbers need DWARF line tables, which this runtime does not read",
    "usymfile": "file names and line numbers need DWARF line tables, which this runtime does not read",
    "modname": "module lookup by address is not implemented; symdata()/usymdata() show the module",
    "register": "registers are not captured in this runtime; use the probe's target variables",
    "task_current": "task_struct pointers are kernel memory, which cannot be read from user space",
    "matched": "regular-expression sub-matches are not kept by this runtime",
    "udelay": "handlers run after the event, so a delay here cannot hold up the probed thread",
    "set_user_long": (
        "handlers run after the event, so a write to the probed process could not take effect at the probe point"
    ),
    "dump_stack": "the kernel stack cannot be dumped from user space",
}


def test_unsupported_functions_carry_their_reason(library: dict[str, ast.StapFile]) -> None:
    reasons = {f.name: tapsets.unsupported_reason(f) for f in functions(library)}
    assert {name: reasons[name] for name in UNSUPPORTED} == UNSUPPORTED
    assert reasons["substr"] is None and reasons["user_string"] is None and reasons["pid"] is None
    assert reasons["print_ubacktrace"] is None and reasons["symname"] is None and reasons["callers"] is None
    assert tapsets.unsupported_message("kernel_string", UNSUPPORTED["kernel_string"]) == (
        "function 'kernel_string' is not supported by this runtime: "
        "kernel memory cannot be read from user space"
    )


def test_unsupported_bodies_hold_nothing_but_the_marker(library: dict[str, ast.StapFile]) -> None:
    """A marked function has no C to run: only pragmas and the marker comment."""
    comment = re.compile(r"/\*.*?\*/", re.S)
    for function in functions(library):
        if tapsets.unsupported_reason(function):
            assert comment.sub("", function.body.code).strip() == "", function.name
    reasons = {tapsets.unsupported_reason(f) for f in functions(library)} - {None}
    assert reasons == set(UNSUPPORTED.values()) | {
        "registers are not captured in this runtime; use return_str(format, $return)",
        "registers are not captured in this runtime; use $return",
        "stack unwinding is not available in this runtime",
        "another task's stack cannot be captured from a BPF program",
        "a user-space runtime cannot panic the kernel",
        "output file rotation (stap -S) is not implemented by this runtime",
    }


def test_user_script_function_is_never_unsupported() -> None:
    function = ast.FunctionDecl("f", [], ast.Block([]))
    assert tapsets.unsupported_reason(function) is None


# ---------------------------------------------------------------------------
# The embedded C, compiled against runtime_c/runtime.h with the ABI's macros.


def _c_type(t: ast.Type) -> str:
    return "const char *" if t is ast.Type.STRING else "int64_t "


def _wrapper(index: int, function: ast.FunctionDecl) -> str:
    """One C function around an embedded body, defining the ABI macros as abi.md does."""
    params = "".join(f", {_c_type(p.declared_type)}STAP_ARG_{p.name}" for p in function.params)
    ret = function.return_type
    if ret is ast.Type.STRING:
        slot, retval = ", char *stap_ret", "stap_ret"
        store = "stp_strlcpy(STAP_RETVALUE, (v), MAXSTRINGLEN)"
    elif ret is ast.Type.LONG:
        slot, retval, store = ", int64_t *stap_ret", "(*stap_ret)", "STAP_RETVALUE = (v)"
    else:
        slot, retval, store = "", "", "(void)(v)"
    return f"""
/* {function.name} ({function.span.file.name if function.span else "?"}) */
static void tapset_fn_{index}(struct context *c{slot}{params})
{{
#define CONTEXT c
#define STAP_RETVALUE {retval}
#define STAP_RETURN(v) do {{ {store}; return; }} while (0)
#define STAP_ERROR(...) do {{ snprintf(c->error_buffer, MAXSTRINGLEN, __VA_ARGS__); \\
	c->last_error = c->error_buffer; return; }} while (0)
#define STAP_PRINTF(...) stp_printf(__VA_ARGS__)
{function.body.code}
#undef CONTEXT
#undef STAP_RETVALUE
#undef STAP_RETURN
#undef STAP_ERROR
#undef STAP_PRINTF
}}
"""


def test_embedded_c_compiles_against_the_runtime_abi(library: dict[str, ast.StapFile], tmp_path: Path) -> None:
    parts = ['#include "runtime.h"\n#include <stdio.h>\n']
    parts += [embed.code for stapfile in library.values() for embed in stapfile.embeds]
    embedded = [f for f in functions(library) if isinstance(f.body, ast.EmbeddedCode)]
    compiled = [f for f in embedded if tapsets.unsupported_reason(f) is None]
    parts += [_wrapper(i, f) for i, f in enumerate(compiled)]
    source = tmp_path / "tapset_bodies.c"
    source.write_text("\n".join(parts))
    proc = subprocess.run(
        ["gcc", "-std=gnu11", "-fsyntax-only", "-Wall", "-Wextra", "-Wno-unused-parameter",
         "-Wno-unused-function", "-Werror", "-I", str(RUNTIME_C), str(source)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(compiled) >= 50


# ---------------------------------------------------------------------------
# Compatibility with SystemTap's own library (read in place, as a corpus).

_SIGNATURE = re.compile(r"^\s*(?:@__private30\s+|private\s+)?function\s+(\w+)\s*(?::\s*(\w+))?\s*\(([^)]*)\)", re.M)


def _signatures(paths) -> dict[tuple[str, int], set[tuple[str, tuple[str, ...]]]]:
    found: dict[tuple[str, int], set] = {}
    for path in paths:
        for name, ret, params in _SIGNATURE.findall(Path(path).read_text(errors="replace")):
            plist = [p.strip() for p in params.split(",") if p.strip()]
            types = tuple(p.split(":")[1].strip() if ":" in p else "?" for p in plist)
            found.setdefault((name, len(plist)), set()).add((ret or "?", types))
    return found


def _compatible(a: tuple[str, tuple[str, ...]], b: tuple[str, tuple[str, ...]]) -> bool:
    """Declared types agree wherever both sides declare one."""
    pairs = [(a[0], b[0]), *zip(a[1], b[1])]
    return all(x == y or "?" in (x, y) for x, y in pairs)


def test_signatures_match_systemtap() -> None:
    if not STAP_TAPSET_DIR.is_dir():
        pytest.skip("SystemTap's tapsets are not installed")
    stock = _signatures(
        [*STAP_TAPSET_DIR.glob("*.stp"), *STAP_TAPSET_DIR.glob("linux/*.stp"),
         *STAP_TAPSET_DIR.glob("linux/x86_64/*.stp"), *STAP_TAPSET_DIR.glob("x86_64/*.stp")]
    )
    ours = _signatures(OWN_FILES)
    extensions = {("toupper", 1), ("tolower", 1)}
    mismatched, unknown = [], []
    for key, sigs in sorted(ours.items()):
        if key[0].startswith("_") or key in extensions:
            continue
        if key not in stock:
            unknown.append(key)
        elif not any(_compatible(mine, theirs) for mine in sigs for theirs in stock[key]):
            mismatched.append((key, sigs, stock[key]))
    assert unknown == [] and mismatched == []


def test_systemtap_elaborates_scripts_against_this_library(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The real stap, pointed at this library, type-checks a script calling every family."""
    script = tmp_path / "calls.stp"
    script.write_text(CALLS)
    monkeypatch.setenv("SYSTEMTAP_TAPSET", str(TAPSETS))
    proc = stap_oracle("-w", "-p2", str(script))
    assert proc.returncode == 0, proc.stderr
    kept = set(re.findall(r"^(\w+):(\w+) \(", proc.stdout, re.M))
    assert {("substr", "string"), ("tokenize", "string"), ("ctime", "string"), ("user_string_n", "string"),
            ("thread_indent", "string"), ("errno_str", "string"), ("randint", "long"),
            ("bytes_to_string", "string"), ("pexecname", "string"), ("target", "long")} <= kept


CALLS = r"""
global s
probe begin {
  println(pid(), tid(), ppid(), uid(), euid(), gid(), egid(), cpu(), execname(), pexecname(), sid(), pgrp())
  println(cmdline_args(0, -1, " "), cmdline_arg(1), cmdline_str(), env_var("HOME"), is_return(), pp(), pn())
  println(ppfunc(), probefunc(), probe_type(), stp_pid(), is_myproc(), user_mode(), target(), pid2execname(1))
  println(gettimeofday_ns(), gettimeofday_us(), gettimeofday_ms(), gettimeofday_s(), ktime_get_ns())
  println(local_clock_ns(), local_clock_us(), local_clock_ms(), local_clock_s(), get_cycles(), HZ(), jiffies())
  println(cpu_clock_ns(0), cpu_clock_us(0), cpu_clock_ms(0), cpu_clock_s(0))
  start_stopwatch("a"); stop_stopwatch("a"); println(read_stopwatch_us("a")); delete_stopwatch("a")
  println(ctime(0), ctime(), tz_gmtoff(), tz_name(), tz_ctime(0))
  println(strlen("x"), substr("hello", 1, 3), stringat("x", 0), isinstr("ab", "b"), strpos("ab", "b"))
  println(str_replace("a", "a", "b"), text_str("x"), text_strn("x", 3, 1), string_quoted("x"), strtol("10", 16))
  println(isdigit("1"), toupper("a"), tolower("A"), tokenize("a b", " "), tokenize(" "))
  println(user_char(0), user_char_warn(0), user_short_error(0), user_ushort(0), user_int_warn(0), user_long(0))
  println(user_ulong(0), user_int8(0), user_uint16_error(0), user_int32(0), user_uint64(0))
  println(user_string(0), user_string(0, "e"), user_string_n(0, 3), user_string_n(0, 3, "e"), user_string_nofault(0))
  println(user_string_warn(0), user_string_n_warn(0, 2, "e"), user_string_quoted(0), user_string_n_quoted(0, 3, 10))
  log("x"); warn("y"); assert(1); assert(1, "m"); ftrace("z")
  println(errno_str(2), return_str(1, -2), signal_str(9))
  println(indent(1), indent_depth(1), thread_indent(1), thread_indent_depth(-1))
  ansi_clear_screen(); ansi_set_color(1); ansi_set_color(1, 2); ansi_set_color(1, 2, 3); ansi_reset_color()
  ansi_cursor_move(1, 2); ansi_cursor_hide(); ansi_cursor_save(); ansi_cursor_restore(); ansi_cursor_show()
  println(randint(10), MAJOR(1), MINOR(1), MKDEV(1, 2), usrdev2kerndev(0), htonl(1), ntohs(1))
  println(msecs_to_string(1), usecs_to_string(1), nsecs_to_string(1))
  println(mem_page_size(), bytes_to_string(1), pages_to_string(1), proc_mem_size(), proc_mem_string(1))
  qsq_start("q"); qs_wait("q"); qs_run("q"); qs_done("q"); qsq_print("q")
  id = speculation(); speculate(id, "a"); commit(id); discard(id)
  system("true")
  @this1 = 5; println(@this1)
  s <<< 1; @prints(s)
  @try_assign(x, 1, 2); println(x)
  println(@choose_defined($nope, 7))
  exit(); abort()
}
"""
