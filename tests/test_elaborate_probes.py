"""The probe-provider framework and the providers that need no kernel, on hand-built points."""

from __future__ import annotations

import pytest

from engine.elaborate.probes import base
from engine.elaborate.probes.base import ResolutionError, ResolveContext, dispatch, point_text
from engine.parse.ast import NumberLiteral, ProbePoint, ProbePointComponent, StringLiteral, TargetSymbol, Type


def point(*parts: str | tuple) -> ProbePoint:
    """point("timer", ("ms", 10)) -> timer.ms(10)."""
    components = []
    for part in parts:
        if isinstance(part, tuple):
            name, arg = part
            lit = NumberLiteral(arg, str(arg)) if isinstance(arg, int) else StringLiteral(arg)
            components.append(ProbePointComponent(name, lit))
        else:
            components.append(ProbePointComponent(part))
    return ProbePoint(components)


def resolve(p: ProbePoint):
    provider = dispatch(p)
    assert provider is not None
    return provider.resolve(p, ResolveContext())


def error_of(p: ProbePoint) -> str:
    with pytest.raises(ResolutionError) as info:
        resolve(p)
    return info.value.message


def test_begin_end_error_sequence_numbers():
    assert [d.point for d in resolve(point("begin"))] == ["begin"]
    derived = resolve(point(("end", -3)))[0]
    assert (derived.point, derived.data["sequence"], derived.family) == ("end(-3)", -3, "builtin")
    assert resolve(point(("error", 3)))[0].point == "error(3)"
    assert resolve(point("never"))[0].point == "never"


def test_timer_units_and_randomize():
    d = resolve(point("timer", ("ms", 16), ("randomize", 5)))[0]
    assert d.point == "timer.ms(16).randomize(5)"
    assert (d.data["interval_ns"], d.data["randomize_ns"]) == (16_000_000, 5_000_000)
    assert resolve(point("timer", ("hz", 100)))[0].data["interval_ns"] == 10_000_000
    assert resolve(point("timer", ("jiffies", 3)))[0].data["interval_ns"] == 12_000_000
    assert resolve(point("timer", ("sec", 2)))[0].data["interval_ns"] == 2_000_000_000


@pytest.mark.parametrize(
    "p, message",
    [
        (point("timer", ("ms", 0)), "interval value out of range (1, 86400000)"),
        (point("timer", ("s", 100000)), "interval value out of range (1, 86400)"),
        (point("timer", ("ns", 10)), "interval value out of range (100000, 86400000000000)"),
        (point("timer", ("us", 10)), "interval value out of range (100, 86400000000)"),
        (point("timer", ("hz", 0)), "frequency must be greater than 0"),
        (point("timer", ("jiffies", 0)), "invalid interval for jiffies timer"),
        (point("timer", ("ms", 10), ("randomize", 20)), "randomization value out of range"),
        (point("timer", ("foo", 1)), "probe point mismatch (similar: s, hz, ms, ns, us)"),
        (point("timer", "ms"), "probe point mismatch (similar: ms, s, ns, us, hz)"),
        (point("timer", ("ms", "a")), "probe point mismatch (similar: ms, s, ns, us, hz)"),
        (point("begin", "foo"), "invalid suffix for probe"),
        (point("never", "x"), "invalid suffix for probe"),
        (point(("procfs", "a"), "write", ("maxsize", 3)), "invalid suffix for probe"),
        (point(("procfs", "a")), "probe point truncated (follow:  read umask(number) write)"),
    ],
)
def test_resolution_errors_match_stap(p, message):
    assert error_of(p) == message


def test_mismatch_blames_the_component():
    p = point("timer", ("foo", 1))
    with pytest.raises(ResolutionError) as info:
        resolve(p)
    assert info.value.node is p.components[1]


def test_procfs_value_rules():
    ctx = ResolveContext()
    read = resolve(point(("procfs", "a"), "read", ("maxsize", 100)))[0]
    assert read.point == 'procfs("a").read.maxsize(100)'
    assert read.data == {"name": "a", "direction": "read", "maxsize": 100, "umask": None}
    assert read.resolve_target(TargetSymbol("$value"), ctx, write=True).type is Type.STRING
    with pytest.raises(ResolutionError, match="cannot be read in a procfs read probe"):
        read.resolve_target(TargetSymbol("$value"), ctx)
    with pytest.raises(ResolutionError, match=r"invalid target symbol for procfs probe, \$value expected"):
        read.resolve_target(TargetSymbol("$foo"), ctx, write=True)
    write = resolve(point("procfs", "write"))[0]
    assert write.data["name"] == "command"
    assert write.resolve_target(TargetSymbol("$value"), ctx).type is Type.STRING


def test_builtin_probes_reject_target_variables():
    derived = resolve(point("begin"))[0]
    with pytest.raises(ResolutionError, match="unresolved target-symbol expression"):
        derived.resolve_target(TargetSymbol("$x"), ResolveContext())


def test_wildcard_functor_without_match():
    p = point("timer", ("zz*", 1))
    assert error_of(p).startswith("probe point mismatch: didn't find any wildcard matches")


def test_registry_and_text():
    functors = base.known_functors()
    for name in ("begin", "end", "error", "never", "timer", "procfs"):
        assert name in functors
    assert dispatch(point("nosuch")) is None
    assert point_text(point("timer", ("ms", 16), ("randomize", 5))) == "timer.ms(16).randomize(5)"


def test_listing_and_explain():
    provider = dispatch(point(("procfs", "x"), "read"))
    listed = provider.list(point(("procfs", "x"), "read"), ResolveContext())
    assert [l.format(True) for l in listed] == ['procfs("x").read $value:string']
    explained = resolve(point("timer", ("s", 1)))[0].explain()
    assert explained.splitlines()[0] == "timer.s(1)  [timer]"
    assert "interval_ns: 1000000000" in explained


def test_family_table_names_what_each_module_registers():
    """load_providers(head) imports a family only for the heads FAMILIES lists: they must be right."""
    import importlib

    from engine.elaborate.probes import FAMILIES

    base.providers()
    for name, functors in FAMILIES.items():
        try:
            module = importlib.import_module(f"engine.elaborate.probes.{name}")
        except ModuleNotFoundError:
            continue
        registered = {f for p in base._REGISTRY if type(p).__module__ == module.__name__ for f in p.first_functors()}
        assert registered == set(functors), name


def test_timer_script_imports_no_kernel_or_user_family():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from engine.session import Options, Session\n"
        "s = Session(Options(script_text='probe timer.ms(100) { println(execname()) } probe end {}', last_pass=2))\n"
        "s.run_all()\n"
        "print(s.failed, sorted(m.rsplit('.', 1)[1] for m in sys.modules if m.startswith('engine.elaborate.probes.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out == "False ['base', 'builtin', 'perf', 'timer']\n"
