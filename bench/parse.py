"""Benchmark pass 1 over SystemTap's own tapset library against stap's pass 1.

    python3 bench/parse.py [--runs N]

stap's pass 1 parses every tapset file; `stap -v -p1 -e 'probe begin{}'` reports
its time ("Pass 1: ... in Xusr/Ysys/Zreal ms."). We time the same files in a fresh
interpreter each run (imports and grammar loading included, as stap's figure
includes its start-up; the pickling of a cold run's cache entries and index too),
doing what `pystap -p1` does: cold = empty parse cache, so each file is outlined
(its top level parsed, its bodies skipped until pass 2 links the file: see
engine/parse/outline.py); warm = the on-disk index filled by the cold run (pass 1
then only stats the files; no AST is loaded); in-process warm = a second pass 1 in
the same process (what the workbench sees when the script is re-run). For
comparison, "every body" is a cold pass 1 that also parses every body, as
`pystap -v -p1` does to print them all. The last row is what a user waits for: a fresh `pystap -p2` of a typical
script over our bundled library with a warm cache (passes 1+2, imports included;
pass 2 unpickles only the library files the script links), against stap's passes
1+2 of the same script. Ratios are ours / stap's, best of N runs, in real and in
CPU time (CPU time is the fairer figure on a busy machine), all measured in this
run on this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TAPSETS = "/usr/share/systemtap/tapset"
ORACLE = REPO.parent / "shared" / "tools" / "stap-oracle"

CHILD = """
import json, sys, time
t0 = time.perf_counter()
c0 = time.process_time()
sys.path.insert(0, {repo!r})
from pathlib import Path
from engine.parse import parse_library, machine_conditions
from engine.parse.cache import ParseCache
cache = ParseCache(Path({cache!r}))
conditions = machine_conditions()
library, macros, diagnostics = parse_library([], conditions, cache, roots=[Path({tapsets!r})], every_body={every_body!r})
first = time.perf_counter() - t0
first_cpu = time.process_time() - c0
t1 = time.perf_counter()
c1 = time.process_time()
parse_library([], conditions, cache, roots=[Path({tapsets!r})])
again = time.perf_counter() - t1
again_cpu = time.process_time() - c1
print(json.dumps({{"files": len(library), "real": first, "cpu": first_cpu, "again": again,
                  "again_cpu": again_cpu, "hits": cache.hits, "misses": cache.misses}}))
"""

TYPICAL = 'global n; probe timer.ms(100) { n++; printf("%d %s\\n", n, execname()) } probe end { println(n) }'

SCRIPT_CHILD = """
import json, sys, time
t0 = time.perf_counter()
c0 = time.process_time()
sys.path.insert(0, {repo!r})
from engine.session import Options, Session
session = Session(Options(script_text={script!r}, last_pass=2))
session.run_all()
assert not session.failed, [d.format() for d in session.diagnostics()]
library = session.artifact(1).library
print(json.dumps({{"real": time.perf_counter() - t0, "cpu": time.process_time() - c0,
                  "files": len(library), "loaded": len(getattr(library, "_loaded", library))}}))
"""


def ours(cache_dir: str, every_body: bool = False) -> dict:
    code = CHILD.format(repo=str(REPO), cache=cache_dir, tapsets=TAPSETS, every_body=every_body)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def typical(cache_dir: str) -> dict:
    code = SCRIPT_CHILD.format(repo=str(REPO), script=TYPICAL)
    env = dict(os.environ, XDG_CACHE_HOME=cache_dir)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout)


def stap() -> tuple[float, float, int]:
    proc = subprocess.run([str(ORACLE), "-v", "-p1", "-e", "probe begin{}"], capture_output=True, text=True)
    m = re.search(r"Pass 1: parsed user script and (\d+) library scripts .* in (\d+)usr/(\d+)sys/(\d+)real ms", proc.stderr)
    if not m:
        sys.exit("stap-oracle did not report its pass-1 time:\n" + proc.stderr)
    return int(m.group(4)) / 1000, (int(m.group(2)) + int(m.group(3))) / 1000, int(m.group(1))


def stap_passes_1_2(script: str) -> tuple[float, float]:
    """stap's passes 1+2 of `script`: (real, cpu) seconds as its -v lines report them."""
    proc = subprocess.run([str(ORACLE), "-v", "-p2", "-e", script], capture_output=True, text=True)
    times = re.findall(r"Pass [12]: .* in (\d+)usr/(\d+)sys/(\d+)real ms", proc.stderr)
    if len(times) != 2:
        sys.exit("stap-oracle did not report its pass-1/2 times:\n" + proc.stderr)
    return sum(int(t[2]) for t in times) / 1000, sum(int(t[0]) + int(t[1]) for t in times) / 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    stap_real, stap_cpu, stap_files = min(stap() for _ in range(runs))
    stap_script_real, stap_script_cpu = min(stap_passes_1_2(TYPICAL) for _ in range(runs))
    cold, warm, script, full = [], [], [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as cache_dir:
            cold.append(ours(cache_dir))
            warm.append(ours(cache_dir))
            typical(cache_dir)  # fills the cache for our bundled library
            script.append(typical(cache_dir))
        with tempfile.TemporaryDirectory() as cache_dir:
            full.append(ours(cache_dir, every_body=True))
    best_cold = min(cold, key=lambda r: r["real"])
    best_warm = min(warm, key=lambda r: r["real"])
    print(f"stap pass 1: {stap_files} library scripts, {stap_real * 1000:.0f} ms real, {stap_cpu * 1000:.0f} ms cpu")
    print(f"pystap files parsed: {best_cold['files']} .stp (+ .stpm macro files), cache misses cold/warm: "
          f"{best_cold['misses']}/{best_warm['misses']}")
    rows = (
        ("cold (empty cache, fresh process)", best_cold["real"], min(r["cpu"] for r in cold)),
        ("warm (disk cache, fresh process)", best_warm["real"], min(r["cpu"] for r in warm)),
        ("warm (in-process memory cache)", min(r["again"] for r in warm), min(r["again_cpu"] for r in warm)),
        ("cold, every body parsed (-v -p1)", min(r["real"] for r in full), min(r["cpu"] for r in full)),
    )
    for name, real, cpu in rows:
        print(
            f"{name:36s} {real * 1000:7.0f} ms real ({real / stap_real:5.2f}x stap)"
            f"  {cpu * 1000:7.0f} ms cpu ({cpu / stap_cpu:5.2f}x stap)"
        )
    real, cpu = min(r["real"] for r in script), min(r["cpu"] for r in script)
    print(f"typical script: {TYPICAL}")
    print(f"  stap passes 1+2: {stap_script_real * 1000:.0f} ms real, {stap_script_cpu * 1000:.0f} ms cpu; "
          f"pystap loaded {script[0]['loaded']} of {script[0]['files']} bundled library files")
    print(
        f"{'warm passes 1+2, on-demand library':36s} {real * 1000:7.0f} ms real ({real / stap_script_real:5.2f}x stap)"
        f"  {cpu * 1000:7.0f} ms cpu ({cpu / stap_script_cpu:5.2f}x stap)"
    )


if __name__ == "__main__":
    main()
