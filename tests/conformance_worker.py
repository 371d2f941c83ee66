"""Runs conformance cases through pystap's main() in one process, one after another,
so Python start-up and the parsed tapset library are paid once per worker.

Reads JSON lines {"argv": [...]} on stdin; writes one JSON line per case with
stdout, stderr and the exit status, exactly what a separate `pystap` would give.
A -c command writes to the descriptors it inherits: the worker's stderr, so that
nothing it prints lands among the replies.
"""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.cli import main  # noqa: E402


class _Capture(io.TextIOWrapper):
    def __init__(self) -> None:
        super().__init__(io.BytesIO(), encoding="utf-8", errors="replace", write_through=True)

    def text(self) -> str:
        self.flush()
        return self.buffer.getvalue().decode("utf-8", "replace")


def run_one(argv: list[str]) -> dict:
    real_out, real_err = sys.stdout, sys.stderr
    out, err = _Capture(), _Capture()
    sys.stdout, sys.stderr = out, err
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else 1
    except Exception as error:  # what entry() would print
        err.write(f"pystap: internal error: {type(error).__name__}: {error}\n")
        status = 1
    finally:
        sys.stdout, sys.stderr = real_out, real_err
    return {"stdout": out.text(), "stderr": err.text(), "status": status}


def serve() -> None:
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    for line in sys.stdin:
        request = json.loads(line)
        replies.write(json.dumps(run_one(request["argv"])) + "\n")
        replies.flush()


if __name__ == "__main__":
    serve()
