"""Backtraces, memory dumps and process(PID) in user-space probes.

tests/programs/chain.c calls main -> a -> b -> leaf(text, round). The uprobe's capture
program copies the user stack (bpf_get_stack, BPF_F_USER_STACK), the kernel stack of
the task at the breakpoint trap, and the bytes %#m/%#M print; the runtime symbolises
the stacks in stap's formats. Return addresses are checked against the binary's
disassembly (the instruction after each call), names against its symbols.
"""

from __future__ import annotations

import re
import subprocess
from types import SimpleNamespace

import pytest

from engine.elaborate.capture_bpf import plan_probe
from engine.parse import ast
from engine.translate.bpf import plan as P
from engine.translate.bpf.disasm import disassemble
from engine.translate.bpf.stack import stack_captures
from tests.bpf_harness.util import PYSTAP, pystap, require_kernel_probes
from tests.programs import SOURCES, build
from tests.support import stap_oracle
from tests.test_backtrace import _frame


def test_a_uprobe_record_ends_in_the_stacks_its_handler_prints():
    """After the values: the user stack's modules (build-id, file offset), then the
    kernel stack, the task's (a uprobe's registers are the user ones), then the user
    stack."""
    body = ast.Block(statements=[ast.ExprStatement(expr=ast.FunctionCall(name=name, args=[]))
                                 for name in ("print_ubacktrace", "backtrace")])
    derived = SimpleNamespace(targets=[], is_return=False, data={"path": "/bin/true", "offset": 0x100, "address": "0x1100"})
    planned = plan_probe(derived, 0, stacks=stack_captures(body))
    assert planned.layout.record_size() == P.HEADER_SIZE + P.MODULE_SLOT + 2 * P.STACK_SLOT == 64 + 648 + 336
    lines = disassemble(planned.program).splitlines()
    calls = [line.split("call ")[1] for line in lines if " call " in line]
    assert calls[calls.index("bpf_get_stack#67"):][:4] == [
        "bpf_get_stack#67", "bpf_get_current_task_btf#158", "bpf_get_task_stack#141", "bpf_get_stack#67"]
    flags = [previous.split("r4 = ")[1] for previous, line in zip(lines, lines[1:]) if "_stack#" in line]
    assert flags == ["2304", "0", "256"]  # BPF_F_USER_STACK | BPF_F_USER_BUILD_ID, none, BPF_F_USER_STACK


@pytest.fixture(scope="module")
def chain():
    """The chain program (frame pointers, fixed addresses), its symbols and return addresses."""
    require_kernel_probes()
    exe = build("chain", "-O0", "-fno-omit-frame-pointer", "-no-pie")
    symbols = {}
    for line in subprocess.run(["nm", "-S", str(exe)], capture_output=True, text=True, check=True).stdout.splitlines():
        fields = line.split()
        if len(fields) == 4 and fields[3] in ("leaf", "a", "b", "main"):
            symbols[fields[3]] = (int(fields[0], 16), int(fields[1], 16))
    return exe, symbols, _return_addresses(exe)


def _return_addresses(exe) -> dict[str, int]:
    """caller -> the address after its call of the next function in the chain."""
    callee = {"b": "leaf", "a": "b", "main": "a"}
    found, function, pending = {}, None, None
    for line in subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(exe)], capture_output=True, text=True,
                               check=True).stdout.splitlines():
        heading = re.fullmatch(r"[0-9a-f]+ <(\w+)>:", line)
        if heading:
            function = heading[1]
            continue
        instruction = re.match(r"\s+([0-9a-f]+):\s+(.*)", line)
        if instruction is None:
            continue
        if pending is not None:
            found[pending] = int(instruction[1], 16)
            pending = None
        if function in callee and re.search(rf"call\s+[0-9a-f]+ <{callee[function]}>", instruction[2]):
            pending = function
    return found


def attached(script: str) -> subprocess.Popen:
    """pystap running `script`, returned once its probes are attached (its begin probe ran)."""
    runtime = subprocess.Popen([*PYSTAP, "-e", 'probe begin { printf("ready\\n") } ' + script],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert runtime.stdout.readline() == "ready\n", runtime.communicate(timeout=60)
    return runtime


def running_chain(exe) -> subprocess.Popen:
    """The chain program waiting for a line per call (it stays until its stdin closes)."""
    return subprocess.Popen([str(exe), "stdin"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def call_once(process: subprocess.Popen) -> None:
    process.stdin.write("\n")
    process.stdin.flush()


def finish(process: subprocess.Popen) -> str:
    process.stdin.close()
    output = process.stdout.read()
    process.wait(timeout=60)
    return output


def traced(exe, script: str) -> str:
    """Output of `script` (it ends with exit()) while one running chain process calls leaf once."""
    process = running_chain(exe)
    try:
        runtime = attached(script)
        call_once(process)
        out, err = runtime.communicate(timeout=120)
        assert runtime.returncode == 0, err
    finally:
        finish(process)
    return out


def _check_full_backtrace(chain, full: str) -> tuple[int, re.Match]:
    """print_ubacktrace() at leaf: leaf, b, a, main, then libc (main's caller,
    __libc_start_call_main, not an exported symbol: module and offset). Returns leaf's
    address and the libc line's match (address, path, offset)."""
    exe, symbols, returns = chain
    lines = full.splitlines()
    leaf = int(lines[0].split()[0], 16)
    addresses = [leaf, returns["b"], returns["a"], returns["main"]]
    assert lines[:4] == [_frame(exe, symbols, n, a, True) for n, a in zip(["leaf", "b", "a", "main"], addresses)]
    libc = re.fullmatch(r" 0x([0-9a-f]+) \[(/\S+/libc\.so\.6)\+0x([0-9a-f]+)/0x[0-9a-f]+\]", lines[4])
    assert libc, lines[4]
    assert (int(libc[1], 16) - int(libc[3], 16)) % 4096 == 0  # the offset is from libc's load address
    return leaf, libc


def test_user_backtrace_of_a_function_probe(chain):
    exe, symbols, returns = chain
    script = (
        f'probe process("{exe}").function("leaf") {{\n'
        '  print_ubacktrace(); printf("--\\n%s\\n--\\n", ubacktrace()); print(sprint_ubacktrace())\n'
        '  printf("--\\n%s|%x\\n--\\n", ucallers(2), uaddr()); print_ubacktrace_brief(); exit() }'
    )
    full, hexes, simple, callers, brief = traced(exe, script).split("--\n")
    leaf, libc = _check_full_backtrace(chain, full)
    addresses = [leaf, returns["b"], returns["a"], returns["main"]]
    names = ["leaf", "b", "a", "main"]
    assert hexes.startswith(" ".join(f"0x{a:x}" for a in addresses) + f" 0x{libc[1]}")
    assert simple.splitlines()[:5] == [_frame(exe, symbols, n, a, False) for n, a in zip(names, addresses)] + [
        f"0x{libc[1]} [libc.so.6+0x{libc[3]}]"]
    assert callers == f"0x{leaf:x} 0x{returns['b']:x} 0x{returns['a']:x}|{leaf:x}\n"
    assert brief.splitlines()[:4] == [f"{n}+0x{a - symbols[n][0]:x}" for n, a in zip(names, addresses)]


def test_user_backtrace_of_mark_statement_and_return_probes(chain):
    """The marker and the statement are inside leaf; a return probe fires in b, at the
    instruction after its call of leaf."""
    exe, symbols, returns = chain
    script = (
        f'probe process("{exe}").mark("leaf") {{ printf("mark\\n"); print_ubacktrace_brief() }}\n'
        f'probe process("{exe}").statement("leaf@chain.c:14") {{ printf("statement\\n"); print_ubacktrace_brief() }}\n'
        f'probe process("{exe}").function("leaf").return {{ printf("return\\n"); print_ubacktrace_brief(); exit() }}'
    )
    out = traced(exe, script)
    blocks = re.split(r"^(mark|statement|return)\n", out, flags=re.M)[1:]
    frames = {kind: [line.split("+")[0] for line in text.splitlines()[:3]] for kind, text in zip(blocks[::2], blocks[1::2])}
    assert frames == {"mark": ["leaf", "b", "a"], "statement": ["leaf", "b", "a"], "return": ["b", "a", "main"]}
    assert blocks[5].splitlines()[0] == f"b+0x{returns['b'] - symbols['b'][0]:x}"


def test_user_backtrace_of_a_process_that_has_exited(chain):
    """The program returns right after the call, usually before the handler runs, when
    its /proc/PID/maps is gone: the frames are named through the modules captured with
    the stack (build-id and file offset: the program's by the probed binary, libc's by
    the runtime's own libc)."""
    exe, _, _ = chain
    script = f'probe process("{exe}").function("leaf") {{ print_ubacktrace(); printf("%s\\n", usymname(uaddr())) }}'
    result = pystap("-e", script, "-c", f"sh -c 'exec {exe} >/dev/null'")
    assert result.returncode == 0, result.stderr
    *backtrace, name = result.stdout.splitlines()
    _check_full_backtrace(chain, "\n".join(backtrace))
    assert name == "leaf"


def test_kernel_backtrace_of_a_uprobe_is_the_trap_path(chain):
    """What stap prints there too: the kernel stack of the probe's handler, from the
    breakpoint trap (int3) through the uprobe dispatcher."""
    exe, _, _ = chain
    out = traced(exe, f'probe process("{exe}").function("leaf") {{ print_backtrace(); printf("--\\n%s\\n", sprint_backtrace()); exit() }}')
    full, brief = out.split("--\n")
    lines = full.splitlines()
    assert all(re.fullmatch(r" 0xffff[0-9a-f]+ : \w+\+0x[0-9a-f]+/0x[0-9a-f]+ \[(kernel|bpf)\]", line) for line in lines), full
    names = [line.split(" : ")[1].split("+")[0] for line in lines]
    assert names.index("asm_exc_int3") == len(names) - 1
    assert names.index("uprobe_notify_resume") < names.index("asm_exc_int3")
    assert [line.split("+")[0] for line in brief.strip().splitlines()] == names


def test_memory_dumps_are_copied_at_the_probe(chain):
    """%#m/%#M with a written precision print the bytes as they were at the call: the
    program overwrites them right after and exits (a read when the handler runs would
    see the x's or fault). In the return probe, $text is the entry value; its bytes are
    read at the return, before the caller overwrites them."""
    exe, _, _ = chain
    script = (
        f'probe process("{exe}").function("leaf") {{ printf("%#.17m|%#.4M|%#M|%s\\n", $text, $text, $text, user_string($text)) }}\n'
        f'probe process("{exe}").function("leaf").return {{ printf("%#.6m|%#.5m|%d\\n", $text, @entry($text), $return) }}'
    )
    result = pystap("-e", script, "-c", f"sh -c 'exec {exe} >/dev/null'")
    assert (result.stdout, result.returncode) == ("chain-memory-0123|63686169|63|chain-memory-0123\nchain-|chain|17\n", 0), result.stderr


def test_process_pid_probes_only_that_process(chain):
    """process(PID).function/.return/.statement/.mark: named by the executable as in
    stap, firing in that process only (another one running the same program calls leaf
    first)."""
    exe, _, _ = chain
    other, target = running_chain(exe), running_chain(exe)
    pid = target.pid
    script = (
        f'probe process({pid}).function("leaf") {{ printf("%s %d %d %s\\n", pp(), pid(), $round, user_string($text)) }}\n'
        f'probe process({pid}).mark("leaf") {{ printf("mark %d %d\\n", pid(), $arg2) }}\n'
        f'probe process({pid}).statement("leaf@chain.c:14") {{ printf("statement %d %d\\n", pid(), $round) }}\n'
        f'probe process({pid}).function("leaf").return {{ printf("return %d %d\\n", pid(), $return); if ($round == 1) exit() }}'
    )
    try:
        runtime = attached(script)
        call_once(other)
        assert finish(other) == "19\n"  # its one call is over before the target's
        call_once(target)
        call_once(target)
        out, err = runtime.communicate(timeout=120)
        assert runtime.returncode == 0, err
    finally:
        finish(target)
    point = f'process("{exe}").function("leaf@{SOURCES / "chain.c"}:11")'
    # the function probe and the marker are at the same address: either may fire first
    assert sorted(out.splitlines()) == sorted([
        f"{point} {pid} 0 chain-memory-0123", f"mark {pid} 0", f"statement {pid} 0", f"return {pid} 17",
        f"{point} {pid} 1 chain-memory-0123", f"mark {pid} 1", f"statement {pid} 1", f"return {pid} 18",
    ])
    assert out.splitlines()[-1] == f"return {pid} 18"


def test_process_pid_that_does_not_exist():
    require_kernel_probes()
    result = pystap("-p2", "-e", 'probe process(999999999).function("leaf") { }')
    assert "semantic error: cannot probe pid 999999999: No such process" in result.stderr
    assert result.returncode == 1


@pytest.mark.parametrize("point", ['function("*")', 'mark("*")', 'statement("leaf@chain.c:14")', 'function("leaf").call'])
def test_process_pid_listing_is_stap_s(chain, point):
    """-L of process(PID) probes: the running program's probes, named by its path."""
    exe, _, _ = chain
    process = running_chain(exe)
    try:
        ours = pystap("-L", f"process({process.pid}).{point}")
        theirs = stap_oracle("-L", f"process({process.pid}).{point}")
    finally:
        finish(process)
    assert (ours.stdout, ours.returncode) == (theirs.stdout, 0), ours.stderr
    assert f'process("{exe}").' in ours.stdout
