"""No script makes pass 2 raise: seeded token mutations of the corpus scripts.

Each mutant (tokens replaced, dropped or inserted) goes through passes 1 and 2 with
random -g/-u; whatever happens must be diagnostics, and every diagnostic and every
-p2 listing must render.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from engine.session import Options, Session
from tests.conformance_cases import load_all

_TOKEN = re.compile(r"[A-Za-z_$@][\w$]*|\d+|\s+|\S")


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    scripts = [p.read_text() for p in sorted((Path(__file__).parent / "elaborate_cases").rglob("*.stp"))]
    return scripts + [case.script for case in load_all()]


def mutate(rng: random.Random, text: str, vocabulary: list[str]) -> str:
    parts = _TOKEN.findall(text)
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(parts))
        roll = rng.random()
        if roll < 0.4:
            parts[i] = rng.choice(vocabulary)
        elif roll < 0.7:
            parts[i] = ""
        else:
            parts.insert(i, rng.choice(vocabulary) + " ")
    return "".join(parts)


@pytest.mark.parametrize("seed", range(4))
def test_mutants_never_raise(corpus, seed):
    rng = random.Random(seed)
    vocabulary = sorted({t for s in corpus for t in _TOKEN.findall(s) if not t.isspace()})
    reached = 0
    for _ in range(120):
        session = Session(Options(script_text=mutate(rng, rng.choice(corpus), vocabulary), last_pass=2,
                                  guru=rng.random() < 0.3, unoptimized=rng.random() < 0.2))
        session.run_all()
        reached += len(session.results) == 2
        for diagnostic in session.diagnostics():
            assert diagnostic.format().strip()
        if not session.failed:
            assert session.artifact(2).dump().startswith("#")
    assert reached > 20  # enough mutants got past the parser to exercise pass 2
