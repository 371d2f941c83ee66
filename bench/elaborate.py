"""Benchmark: warm passes 1+2 (parse + elaborate against the whole bundled library).

    python3 bench/elaborate.py [ROUNDS]

For a timer script and a syscall-counting script, prints pystap's cold and warm
pass-1+2 wall time (in process, as the workbench runs it) next to stap's own
pass-1+2 times from `stap-oracle -v -p2` on the same script. Goal: warm < 150 ms.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.session import Options, Session  # noqa: E402

ORACLE = Path(__file__).resolve().parent.parent.parent / "shared" / "tools" / "stap-oracle"
SCRIPTS = {
    "timer": "global n; probe timer.ms(100) { n++; printf(\"%d %s\\n\", n, execname()) } probe end { println(n) }",
    "syscalls": "global c; probe syscall.* { c[name]++ } probe end { foreach (s in c- limit 10) printf(\"%s %d\\n\", s, c[s]) }",
}
_PASS = re.compile(r"Pass ([12]): .* in (\d+)usr/(\d+)sys/(\d+)real ms")


def ours(script: str) -> float:
    session = Session(Options(script_text=script, last_pass=2))
    session.run_all()
    if session.failed:
        raise SystemExit("".join(d.format() for d in session.diagnostics()))
    return float(sum(t.real_ms for t in session.timings))


def stap(script: str) -> float | None:
    if not ORACLE.exists():
        return None
    proc = subprocess.run([str(ORACLE), "-v", "-p2", "-e", script], capture_output=True, text=True)
    times = [int(m.group(4)) for m in _PASS.finditer(proc.stderr)]
    return float(sum(times)) if len(times) == 2 else None


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    for name, script in SCRIPTS.items():
        cold = ours(script)
        warm = statistics.median(ours(script) for _ in range(rounds))
        stap_times = [t for t in (stap(script) for _ in range(3)) if t is not None]
        stap_ms = statistics.median(stap_times) if stap_times else None
        line = f"{name:9} pystap passes 1+2: cold {cold:6.0f} ms, warm {warm:6.1f} ms"
        if stap_ms is not None:
            line += f"   stap passes 1+2: {stap_ms:6.0f} ms   (warm pystap/stap = {warm / stap_ms:.2f})"
        print(line)


if __name__ == "__main__":
    main()
