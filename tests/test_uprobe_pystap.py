"""process(...) probes through pystap's passes 1-2, compared with the real stap."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.programs import build
from tests.support import REPO, stap_oracle

PYSTAP = [sys.executable, "-c", "import sys; from engine.cli import main; sys.exit(main(sys.argv[1:]))"]


def pystap(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*PYSTAP, *args], capture_output=True, text=True, cwd=REPO, timeout=120)


@pytest.fixture(scope="module")
def o0() -> str:
    return str(build("probed", "-O0"))


def _first_error(stderr: str) -> str:
    return stderr.split("\n\n")[0].strip()


@pytest.mark.parametrize("body", ["println($p->x->y)", "println($nothere)", "println($p->next->label->x)"])
def test_target_errors_match_stap(o0, body):
    script = f'probe process("{o0}").function("norm") {{ {body} }}'
    ours = pystap("-p2", "-e", script)
    theirs = stap_oracle("-p2", "-e", script)
    assert ours.returncode == 1 and theirs.returncode == 1
    assert _first_error(ours.stderr) == _first_error(theirs.stderr)
    assert ours.stderr.rstrip().endswith("Pass 2: analysis failed.  [man error::pass2]")


def test_listing_through_pystap_matches_stap(o0):
    point = f'process("{o0}").function("*")'
    ours = pystap("-L", point)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == stap_oracle("-L", point).stdout


@pytest.mark.parametrize("suffix", [".call", ".inline"])
def test_call_and_inline_listings_match_stap(suffix):
    """At -O2: .inline has glibc's inlined atoi, .call the out-of-line functions; both
    offer the functions known only from the symbol table, as stap does."""
    point = f'process("{build("probed", "-O2")}").function("*"){suffix}'
    ours = pystap("-l", point)
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == stap_oracle("-l", point).stdout
    assert ('atoi@/usr/include/stdlib.h:362").inline' in ours.stdout) == (suffix == ".inline")


def test_elaborated_probe_points_match_stap(o0):
    script = f'probe process("{o0}").function("a*"), process("{o0}").statement("norm@probed.c:39") {{ println($$parms) }}'
    ours = pystap("-p2", "-e", script)
    assert ours.returncode == 0, ours.stderr
    theirs = stap_oracle("-p2", "-e", script)
    resolved = re.compile(r'^(process\(\S+) /\*', re.M)
    assert resolved.findall(ours.stdout) == resolved.findall(theirs.stdout)
    assert len(resolved.findall(ours.stdout)) == 2


def test_kernel_tracepoint_listing_through_pystap():
    ours = pystap("-L", 'kernel.tracepoint("sched_process_e*")')
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout.splitlines() == [
        'kernel.tracepoint("sched_process_exec") $arg1:struct task_struct* $arg2:pid_t $arg3:struct linux_binprm*',
        'kernel.tracepoint("sched_process_exit") $arg1:struct task_struct* $arg2:bool',
    ]


def test_process_begin_end_count_a_forking_workload():
    """Through all five passes: six children exec /bin/true and exit; -c's own shell is target()."""
    from tests.support import require_root, require_tracefs

    require_root()
    require_tracefs()
    script = (
        "global b, e, bt, et "
        'probe process.begin { if (execname() == "true") b++; if (pid() == target()) bt++ } '
        'probe process.end { if (execname() == "true") e++; if (pid() == target()) et++ } '
        'probe end { printf("%d %d %d %d\\n", b, e, bt, et) }'
    )
    ours = pystap("-e", script, "-c", 'sh -c "for i in 1 2 3 4 5; do /bin/true; done; /bin/true"')
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == "6 6 1 1\n"


def test_entry_of_an_expression_is_refused_with_the_reason():
    """stap evaluates @entry(EXPR) at the function's entry; handlers here run after the
    return, so only target values and their strings are saved there -- said in pass 2."""
    binary = build("buffers", "-O0")
    script = f'probe process("{binary}").function("rewrite").return {{ println(@entry(gettimeofday_us())) }}'
    ours = pystap("-p2", "-e", script)
    assert ours.returncode == 1
    assert _first_error(ours.stderr).splitlines()[0] == (
        "semantic error: @entry of an expression is not supported by this runtime: handlers run after the function "
        "returns, so only target values and user_string() of one are saved at its entry: "
        f"operator '@entry' at <input>:1:{script.index('@entry') + 1}"
    )
