"""Benchmark pass 1 over SystemTap's own tapset library against stap's pass 1.

    python3 bench/parse.py [--runs N]

stap's pass 1 parses every tapset file; `stap -v -p1 -e 'probe begin{}'` reports
its time ("Pass 1: ... in Xusr/Ysys/Zreal ms."). We time the same files in a fresh
interpreter each run (imports and grammar loading included, as stap's figure
includes its start-up; the pickling of a cold run's cache entries too): cold = empty parse cache, warm = the on-disk cache filled
by the cold run, and in-process warm = a second pass 1 in the same process (what
the workbench sees when the script is re-run). Ratios are ours / stap's, best of
N runs, in real and in CPU time (CPU time is the fairer figure on a busy machine),
all measured in this run on this machine.
"""

from __future__ import annotations

import argparse
import json
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
library, macros, diagnostics = parse_library([], conditions, cache, roots=[Path({tapsets!r})])
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


def ours(cache_dir: str) -> dict:
    code = CHILD.format(repo=str(REPO), cache=cache_dir, tapsets=TAPSETS)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def stap() -> tuple[float, float, int]:
    proc = subprocess.run([str(ORACLE), "-v", "-p1", "-e", "probe begin{}"], capture_output=True, text=True)
    m = re.search(r"Pass 1: parsed user script and (\d+) library scripts .* in (\d+)usr/(\d+)sys/(\d+)real ms", proc.stderr)
    if not m:
        sys.exit("stap-oracle did not report its pass-1 time:\n" + proc.stderr)
    return int(m.group(4)) / 1000, (int(m.group(2)) + int(m.group(3))) / 1000, int(m.group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    stap_real, stap_cpu, stap_files = min(stap() for _ in range(runs))
    cold, warm = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as cache_dir:
            cold.append(ours(cache_dir))
            warm.append(ours(cache_dir))
    best_cold = min(cold, key=lambda r: r["real"])
    best_warm = min(warm, key=lambda r: r["real"])
    print(f"stap pass 1: {stap_files} library scripts, {stap_real * 1000:.0f} ms real, {stap_cpu * 1000:.0f} ms cpu")
    print(f"pystap files parsed: {best_cold['files']} .stp (+ .stpm macro files), cache misses cold/warm: "
          f"{best_cold['misses']}/{best_warm['misses']}")
    rows = (
        ("cold (empty cache, fresh process)", best_cold["real"], min(r["cpu"] for r in cold)),
        ("warm (disk cache, fresh process)", best_warm["real"], min(r["cpu"] for r in warm)),
        ("warm (in-process memory cache)", min(r["again"] for r in warm), min(r["again_cpu"] for r in warm)),
    )
    for name, real, cpu in rows:
        print(
            f"{name:36s} {real * 1000:7.0f} ms real ({real / stap_real:5.2f}x stap)"
            f"  {cpu * 1000:7.0f} ms cpu ({cpu / stap_cpu:5.2f}x stap)"
        )


if __name__ == "__main__":
    main()
