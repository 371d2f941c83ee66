"""Completion contexts and the probe catalogue, over the real engine and tapset library."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.session import Options
from stapui.catalogue import Catalogue
from stapui.completion.completers import complete, enclosing_probe_point, script_globals
from stapui.completion.symbols import scan_file
from tests.support import require_root, require_tracefs

TAPSET = '''/**
 * sfunction frobnicate - Turns a value into its frobnicated form
 * @x: the value
 */
function frobnicate:long (x:long, how:string) { return x * 2 }
function _hidden:long () { return 1 }
// not a doc comment
function frob_twice (x:long) { }
'''


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return Catalogue()


def inserts(text: str, catalogue: Catalogue) -> list[str]:
    found = complete(text, len(text), catalogue)
    return [] if found is None else [item.insert for item in found.items]


def test_probe_family_shapes_after_probe(catalogue):
    assert inserts("probe timer.m", catalogue) == ["timer.ms(", "timer.msec("]
    assert inserts("probe be", catalogue) == ["begin", "begin("]
    assert inserts("probe begin, en", catalogue) == ["end", "end("]


def test_tapset_functions_with_signature_and_doc(tmp_path: Path):
    (tmp_path / "frob.stp").write_text(TAPSET)
    symbols = scan_file(tmp_path / "frob.stp")
    assert [(s.name, s.signature, s.doc) for s in symbols] == [
        ("frobnicate", "frobnicate:long (x:long, how:string)", "Turns a value into its frobnicated form"),
        ("frob_twice", "frob_twice (x:long)", ""),
    ]
    catalogue = Catalogue(Options(include_dirs=[str(tmp_path)]))
    found = complete("probe begin { frob", len("probe begin { frob"), catalogue)
    assert [(i.insert, i.detail) for i in found.items] == [
        ("frob_twice(", "frob_twice (x:long)"),
        ("frobnicate(", "frobnicate:long (x:long, how:string) — Turns a value into its frobnicated form"),
    ]


def test_bundled_tapset_functions_are_offered(catalogue):
    found = complete("probe begin { print(subst", len("probe begin { print(subst"), catalogue)
    assert found.items[0].insert == "substr("
    assert found.items[0].detail.startswith("substr:string (")


def test_reading_the_script_around_the_cursor():
    text = 'global a[100], b = 5, c\nprobe timer.ms(10), begin? { x = 1\n  if (x) { y }\n}\nprobe end { }'
    assert script_globals(text) == ["a", "b", "c"]
    assert enclosing_probe_point(text, text.index("y }")) == "timer.ms(10)"
    assert enclosing_probe_point(text, text.index("}\nprobe end") + 1) is None
    assert enclosing_probe_point(text, len(text) - 1) == "end"


def test_explain_a_timer_probe(catalogue):
    assert catalogue.explain("timer.ms(100)") == (
        "timer.ms(100)  [timer]\n"
        "  mechanism: runtime interval timer (timerfd, CLOCK_MONOTONIC)\n"
        "  interval_ns: 100000000\n"
        "  randomize_ns: 0"
    )


def test_tracepoints_syscalls_and_target_variables_from_this_machine(catalogue):
    require_root()
    require_tracefs()
    assert "sched:sched_switch" in inserts('probe kernel.trace("sched:sched_sw', catalogue)
    assert inserts("probe syscall.ope", catalogue) == ["open", "open_by_handle_at", "openat"]
    text = 'probe syscall.openat { printf("%s", $fi'
    assert inserts(text, catalogue) == ["$filename"]
    explained = catalogue.explain("syscall.openat")
    assert explained.startswith('kernel.trace("syscalls:sys_enter_openat")  [kernel.trace]\n  via alias syscall.openat\n')


def test_listing_failures_become_stap_messages(catalogue):
    listing = catalogue.list_probes("timer.bogus(1)")
    assert listing.probes == []
    assert listing.error == (
        "semantic error: while resolving probe point; "
        "semantic error: probe point mismatch (similar: us, s, ms, ns, hz)"
    )
