"""The start-up fast path loads only what running a cached build needs: no parser,
elaborator, translator or ELF/DWARF reader, which a rerun of an unchanged script skips."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support import REPO, require_root

# Runs pystap in-process, then lists every module of passes 1-4 (and their libraries) loaded.
PROGRAM = """
import sys
sys.path.insert(0, %r)
from engine.cli import main
status = main(sys.argv[1:])
heavy = ("lark", "elftools", "engine.parse", "engine.elaborate", "engine.translate", "concurrent")
loaded = sorted(m for m in sys.modules if m.split(".")[0] in heavy or m.startswith(heavy))
sys.stderr.write("loaded: %%s\\n" %% " ".join(loaded))
sys.exit(status)
""" % str(REPO)


def pystap(cache, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", PROGRAM, *args], capture_output=True, text=True, timeout=120,
                          cwd=REPO, env=dict(os.environ, XDG_CACHE_HOME=str(cache)))


def test_a_rerun_loads_no_pass_before_the_run(tmp_path):
    script = 'probe begin { println("hello") exit() }'
    first = pystap(tmp_path, "-e", script)
    assert (first.stdout, first.returncode) == ("hello\n", 0)
    assert "lark" in first.stderr.split()  # passes 1-4 ran
    second = pystap(tmp_path, "-e", script)
    assert (second.stdout, second.stderr, second.returncode) == ("hello\n", "loaded: \n", 0)


def test_a_rerun_with_process_probes_checks_the_probed_binary(tmp_path):
    """Only then is the uprobe provider loaded: it tells whether the binary changed."""
    require_root()
    libc = "/usr/lib/x86_64-linux-gnu/libc.so.6"
    script = f'probe process("{libc}").function("getpid") {{ println("getpid") }} probe begin {{ println("hello") exit() }}'
    assert pystap(tmp_path, "-e", script).stdout == "hello\n"
    second = pystap(tmp_path, "-e", script)
    assert (second.stdout, second.returncode) == ("hello\n", 0)
    loaded = second.stderr.splitlines()[-1].split()[1:]
    assert "engine.elaborate.probes.uprobe" in loaded
