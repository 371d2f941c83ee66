"""Property: whatever sequence of records the writer sends, through whatever small ring,
the reader decodes exactly that sequence (adjacent output joined), with nothing lost.
Exercises framing, padding, output coalescing, splitting of large writes, flushes and
the writer's wait for a reader that is slower than it."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.run.channel import Channel, LostCounts
from engine.run.records import Exit, Output, RunError, RunWarning
from tests.test_channel import SMALL, build_writer

_WRITER = None


def writer_path(tmp_path_factory):
    """One build for all examples (hypothesis does not mix with function fixtures)."""
    global _WRITER
    if _WRITER is None:
        _WRITER = build_writer(tmp_path_factory.mktemp("props"))
    return _WRITER


def chunk(size: int, seed: int) -> bytes:
    return bytes((seed + i) % 255 + 1 for i in range(size))  # no NUL: the replay is line-based


text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0\n"), max_size=300)
small_output = st.builds(chunk, st.integers(0, 200), st.integers(0, 254))
large_output = st.builds(chunk, st.integers(SMALL - 64, 2 * SMALL + 64), st.integers(0, 254))
MAX_PAYLOAD = SMALL - 16 - 8  # a sub-buffer less its header and one record header
near_full = st.builds(chunk, st.integers(MAX_PAYLOAD - 24, MAX_PAYLOAD), st.integers(0, 254))
tiny_output = st.builds(chunk, st.integers(1, 16), st.integers(0, 254))
step = st.one_of(
    st.tuples(st.just("O"), small_output),
    st.tuples(st.just("O"), large_output),
    st.tuples(st.just("O"), near_full),
    st.tuples(st.just("O"), tiny_output),
    st.tuples(st.just("W"), text),
    st.tuples(st.just("E"), text),
    st.tuples(st.just("X"), st.integers(-(2**31), 2**31 - 1)),
    st.tuples(st.just("F"), st.none()),
)


def script_line(kind: str, value) -> str:
    if kind == "X":
        return f"X {value}\n"
    if kind == "F":
        return "F\n"
    raw = value if isinstance(value, bytes) else value.encode()
    return f"{kind} {raw.hex()}\n"


def expected(steps) -> list:
    out: list = []
    for kind, value in steps:
        if kind == "O" and value:
            if out and isinstance(out[-1], Output):
                out[-1] = Output(out[-1].data + value)
            else:
                out.append(Output(value))
        elif kind in "WE":
            out.append((RunWarning if kind == "W" else RunError)(value))
        elif kind == "X":
            out.append(Exit(value))
    return out


def joined(records: list) -> list:
    out: list = []
    for record in records:
        if out and isinstance(record, Output) and isinstance(out[-1], Output):
            out[-1] = Output(out[-1].data + record.data)
        else:
            out.append(record)
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, max_size=30), n_subbufs=st.integers(2, 4))
def test_every_record_sequence_arrives_exactly(tmp_path_factory, tmp_path, steps, n_subbufs):
    script = tmp_path / "steps"
    script.write_text("".join(script_line(*s) for s in steps))
    with Channel.create(subbuf_size=SMALL, n_subbufs=n_subbufs, wait_ms=60_000) as channel:
        proc = channel.popen([str(writer_path(tmp_path_factory)), "replay", str(script)])
        records = joined(list(channel.records(timeout=60)))
        assert proc.wait(timeout=60) == 0
        assert records == expected(steps)
        assert channel.lost == LostCounts()


def test_writes_around_a_full_sub_buffer_arrive_exactly(tmp_path_factory, tmp_path):
    """Every way of filling a sub-buffer to within 24 bytes, then topping it up."""
    steps = []
    for gap in range(25):
        steps += [("O", chunk(MAX_PAYLOAD - gap, gap)), *(("O", chunk(n, n)) for n in range(1, 10)), ("W", "x")]
    script = tmp_path / "steps"
    script.write_text("".join(script_line(*s) for s in steps))
    with Channel.create(subbuf_size=SMALL, n_subbufs=2, wait_ms=60_000) as channel:
        proc = channel.popen([str(writer_path(tmp_path_factory)), "replay", str(script)])
        assert joined(list(channel.records(timeout=60))) == expected(steps)
        assert proc.wait(timeout=60) == 0
