"""Backtraces of kernel probes: stacks captured at probe time (bpf_get_stack) only when
the handler needs them, symbolised by the runtime in stap's formats."""

from __future__ import annotations

import re
import subprocess

import pytest

from engine.parse import ast
from engine.translate.bpf import plan as P
from engine.translate.bpf.capture import capture_program
from engine.translate.bpf.disasm import disassemble
from engine.translate.bpf.stack import stack_captures
from tests.bpf_harness.util import pystap, require_kernel_probes

CHAIN = r"""
#include <sys/syscall.h>
__attribute__((noinline)) long c(void)
{
	long r;
	__asm__ volatile ("syscall" : "=a"(r) : "a"(SYS_getpid) : "rcx", "r11", "memory");
	return r + 1;
}
__attribute__((noinline)) long b(void) { return c() + 1; }
__attribute__((noinline)) long a(void) { return b() + 1; }
int main(void) { return a() == 0; }  /* exits at once: its handlers run after it */
"""


def _call(name: str) -> ast.FunctionCall:
    return ast.FunctionCall(name=name, args=[])


def test_only_handlers_calling_backtrace_functions_capture_stacks():
    assert stack_captures(ast.Block(statements=[ast.ExprStatement(expr=_call("pid"))])) == []
    helper = ast.FunctionDecl(name="show", params=[], body=ast.Block(statements=[ast.ExprStatement(expr=_call("print_ubacktrace"))]))
    through = _call("show")
    through.referent = helper
    body = ast.Block(statements=[ast.ExprStatement(expr=_call("backtrace")), ast.ExprStatement(expr=through)])
    assert [c.kind for c in stack_captures(body)] == [P.USER_MODULES, P.KERNEL_STACK, P.USER_STACK]


def test_stack_slots_end_the_record_and_call_get_stack():
    """The user stack's modules (build-id and file offset per frame), the kernel stack,
    the user stack: the same slots, flags and layout as a uprobe's."""
    plan = P.CapturePlan()
    for capture in stack_captures(ast.Block(statements=[ast.ExprStatement(expr=_call("print_backtrace")), ast.ExprStatement(expr=_call("ubacktrace"))])):
        plan.add(capture)
    assert plan.record_size() == 64 + (8 + 32 * 20) + 2 * (8 + 8 * 20)
    lines = disassemble(capture_program(plan, 3)).splitlines()
    flags = [previous.split("r4 = ")[1] for previous, line in zip(lines, lines[1:]) if "bpf_get_stack#67" in line]
    assert flags == ["2304", "0", "256"]  # BPF_F_USER_STACK | BPF_F_USER_BUILD_ID, none, BPF_F_USER_STACK
    sizes = [previous.split("r3 = ")[1] for previous, line in zip(lines, lines[2:]) if "bpf_get_stack#67" in line]
    assert sizes == ["640", "160", "160"]


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    require_kernel_probes()
    directory = tmp_path_factory.mktemp("chain")
    (directory / "chain.c").write_text(CHAIN)
    exe = directory / "chain"
    subprocess.run(["gcc", "-O0", "-fno-omit-frame-pointer", "-no-pie", "-o", str(exe), str(directory / "chain.c")], check=True)
    symbols = {}
    for line in subprocess.run(["nm", "-S", str(exe)], capture_output=True, text=True, check=True).stdout.splitlines():
        fields = line.split()
        if len(fields) == 4 and fields[3] in ("a", "b", "c", "main"):
            symbols[fields[3]] = (int(fields[0], 16), int(fields[1], 16))
    return exe, symbols


def _frame(exe, symbols, name: str, address: int, full: bool) -> str:
    start, size = symbols[name]
    assert start <= address < start + size
    if full:
        return f" 0x{address:x} : {name}+0x{address - start:x}/0x{size:x} [{exe}]"
    return f"{name}+0x{address - start:x} [{exe.name}]"


def test_user_backtrace_lists_c_b_a_main(chain):
    exe, symbols = chain
    script = (
        "probe syscall.getpid { if (pid() == target()) {\n"
        '  print_ubacktrace(); printf("--\\n%s\\n--\\n", ubacktrace()); print(sprint_ubacktrace()); printf("--\\n"); print_backtrace() } }'
    )
    result = pystap("-e", script, "-c", str(exe))
    assert result.returncode == 0, result.stderr
    full, hexes, simple, kernel = result.stdout.split("--\n")
    full_lines = full.splitlines()
    addresses = [int(line.split()[0], 16) for line in full_lines[:4]]
    names = ["c", "b", "a", "main"]
    assert full_lines[:4] == [_frame(exe, symbols, n, a, True) for n, a in zip(names, addresses)]
    assert hexes.startswith(" ".join(f"0x{a:x}" for a in addresses) + " ")
    assert hexes.endswith(" \n")
    assert simple.splitlines()[:4] == [_frame(exe, symbols, n, a, False) for n, a in zip(names, addresses)]
    # main's caller is in libc, whose exported symbols do not cover it: module and offset
    libc = re.fullmatch(r" 0x([0-9a-f]+) \[(/\S+/libc\.so\.6)\+0x([0-9a-f]+)/0x[0-9a-f]+\]", full_lines[4])
    assert libc, full_lines[4]
    assert (int(libc[1], 16) - int(libc[3], 16)) % 4096 == 0  # the offset is from libc's load address
    assert simple.splitlines()[4] == f"0x{libc[1]} [libc.so.6+0x{libc[3]}]"
    kernel_lines = kernel.splitlines()
    assert all(re.fullmatch(r" 0xffff[0-9a-f]+ : \w+\+0x[0-9a-f]+/0x[0-9a-f]+ \[kernel\]", line) for line in kernel_lines), kernel
    assert any(" : do_syscall_64+" in line for line in kernel_lines), kernel


def test_print_usyms_of_a_ubacktrace_string(chain):
    exe, symbols = chain
    script = 'probe syscall.getpid { if (pid() == target()) { s = ubacktrace(); print_ustack(s); printf("%s|\\n", usymname(strtol(tokenize(s, " "), 16))) } }'
    result = pystap("-e", script, "-c", str(exe))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    address = int(lines[0].split()[0], 16)
    start, size = symbols["c"]
    assert lines[0] == f" 0x{address:x} : c+0x{address - start:x}/0x{size:x} [{exe}]"
    assert lines[-1] == "c|"


SPIN = r"""
__attribute__((noinline)) void c(void) { volatile unsigned long i; for (i = 0; i < 400000000ul; i++) ; }
__attribute__((noinline)) void b(void) { c(); }
__attribute__((noinline)) void a(void) { b(); }
int main(void) { a(); return 0; }
"""


def test_sampled_user_backtrace_from_timer_profile(tmp_path):
    require_kernel_probes()
    (tmp_path / "spin.c").write_text(SPIN)
    exe = tmp_path / "spin"
    subprocess.run(["gcc", "-O0", "-fno-omit-frame-pointer", "-no-pie", "-o", str(exe), str(tmp_path / "spin.c")], check=True)
    # samples taken while the loader or libc start the program are skipped
    script = 'probe timer.profile { if (pid() == target() && usymname(uaddr()) == "c") { print_ubacktrace_brief(); exit() } }'
    result = pystap("-e", script, "-c", str(exe))
    assert result.returncode == 0, result.stderr
    assert [line.split("+")[0] for line in result.stdout.splitlines()[:4]] == ["c", "b", "a", "main"]


def test_stack_callers_and_caller(chain):
    exe, symbols = chain
    script = (
        "probe syscall.getpid { if (pid() == target()) {\n"
        '  u = ucallers(3); printf("%s|%s|%x\\n", u, ubacktrace(), uaddr())\n'
        '  printf("%x %s\\n", stack(0), callers(1)); println(caller())\n'
        '  try { println(ucallers(40)) } catch (e) { println(e) } } }'
    )
    result = pystap("-e", script, "-c", str(exe))
    assert result.returncode == 0, result.stderr
    user, kernel, caller, error = result.stdout.splitlines()
    ucallers, ubacktrace, uaddr = user.split("|")
    addresses = ubacktrace.split()
    assert addresses[0] == "0x" + uaddr
    assert ucallers == " ".join(addresses[:4])
    assert [int(a, 16) - symbols[n][0] < symbols[n][1] for a, n in zip(addresses, ["c", "b", "a", "main"])] == [True] * 4
    first, callers = kernel.split(" ", 1)
    assert callers.split()[0] == "0x" + first and len(callers.split()) == 2
    name, address = caller.split()
    assert address == callers.split()[1] and re.fullmatch(r"\w+", name)
    assert error == "reached end of stack before unwinding to level 40"
