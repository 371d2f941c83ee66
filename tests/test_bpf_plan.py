"""Without the kernel: tracefs format parsing, capture-plan layouts, the capture program
a plan assembles to, and the C tables the emitter writes for it."""

from __future__ import annotations

from types import SimpleNamespace

from engine.elaborate.probes import tracefs
from engine.elaborate.probes.tracepoint import event_variables, field_capture
from engine.translate.bpf import plan as P
from engine.translate.bpf.capture import capture_program
from engine.translate.bpf.disasm import disassemble
from engine.translate.bpf.emit import KernelProbe, _probe_tables
from engine.translate.bpf.task import TaskOffsets

FORMAT = """name: sample_event
ID: 4242
format:
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;

\tfield:__data_loc char[] name;\toffset:8;\tsize:4;\tsigned:0;
\tfield:char comm[16];\toffset:12;\tsize:16;\tsigned:0;
\tfield:int dfd;\toffset:32;\tsize:8;\tsigned:0;
\tfield:const char * filename;\toffset:40;\tsize:8;\tsigned:0;
\tfield:u8 addr[6];\toffset:48;\tsize:6;\tsigned:0;
\tfield:long count;\toffset:56;\tsize:8;\tsigned:1;

print fmt: "name=%s", __get_str(name)
"""


def test_format_fields_types_and_kinds():
    fmt = tracefs.parse_format("demo", "sample_event", FORMAT)
    assert fmt.id == 4242 and fmt.name == "demo:sample_event"
    assert [(f.name, f.c_type, f.offset, f.size, f.signed) for f in fmt.own_fields()] == [
        ("name", "__data_loc char[]", 8, 4, False),
        ("comm", "char[16]", 12, 16, False),
        ("dfd", "int", 32, 8, False),
        ("filename", "const char *", 40, 8, False),
        ("addr", "u8[6]", 48, 6, False),
        ("count", "long", 56, 8, True),
    ]
    name, comm, dfd, filename, addr, count = fmt.own_fields()
    assert name.is_data_loc_string and comm.is_char_array and filename.is_char_pointer
    assert not addr.is_integer and not addr.is_char_array
    assert dfd.value_width == (4, True)  # syscall arguments: the declared int in an 8-byte slot
    assert count.value_width == (8, True) and filename.value_width == (8, False)


def test_listed_variables_skip_unreadable_fields():
    fmt = tracefs.parse_format("demo", "sample_event", FORMAT)
    assert [str(v) for v in event_variables(fmt).values()] == [
        "$name:__data_loc char[]", "$comm:char[16]", "$dfd:int", "$filename:const char*", "$count:long",
    ]


def test_format_digest_is_fnv1a_without_the_id_line():
    assert tracefs.format_digest("") == "cbf29ce484222325"
    assert tracefs.format_digest("a") == "af63dc4c8601ec8c"
    assert tracefs.format_digest("ID: 1\na") == tracefs.format_digest("ID: 2\na") == "af63dc4c8601ec8c"


def test_plan_layout_dedupes_and_aligns():
    fmt = tracefs.parse_format("demo", "sample_event", FORMAT)
    name, comm, dfd, *_ = fmt.own_fields()
    plan = P.CapturePlan()
    a = plan.add(field_capture(dfd, 512))
    b = plan.add(field_capture(name, 100))
    assert plan.add(field_capture(dfd, 512)) is a
    c = plan.add(field_capture(comm, 512))
    assert (plan.offset_of(a), plan.offset_of(b), plan.offset_of(c)) == (64, 72, 72 + 16 + 104)
    assert plan.record_size() == 72 + 16 + 104 + 16 + 512
    assert (a.kind, a.size, a.signed) == (P.INT, 4, True)


def test_capture_program_for_one_integer_field():
    plan = P.CapturePlan([P.Capture("$fd", P.INT, 16, 4, True)])
    text = disassemble(capture_program(plan, 7, TaskOffsets(1280, 1268, 1736, 24, 28)))
    assert text.splitlines()[:8] == [
        "   0: (bf) r6 = r1",
        "   1: (85) call bpf_get_current_pid_tgid#14",
        "   2: (77) r0 >>= 32",
        "   3: (16) if w0 == <runtime pid> goto pc+82",
        "   4: (18) r1 = map[events]",
        "   6: (b7) r2 = 72",
        "   7: (b7) r3 = 0",
        "   8: (85) call bpf_ringbuf_reserve#131",
    ]
    assert "  11: (62) *(u32 *)(r7 +0) = 7" in text
    assert "(07) r3 += 1280" in text and "(07) r3 += 1268" in text and "(07) r3 += 28" in text
    assert "(61) r1 = *(u32 *)(r6 +16)\n" in text and "(7b) *(u64 *)(r7 +64) = r1\n" in text
    # submitted without a wakeup (1) unless this record's 80 bytes take the fill across a quarter of the ring (2)
    assert text[text.index("  65: "):text.index("  78: ")] == (
        "  65: (18) r1 = map[events]\n"
        "  67: (b7) r2 = 0\n"
        "  68: (85) call bpf_ringbuf_query#134\n"
        "  69: (b7) r2 = 1\n"
        "  70: (a5) if r0 < <ring bytes / 4> goto pc+3\n"
        "  71: (17) r0 -= 80\n"
        "  72: (35) if r0 >= <ring bytes / 4> goto pc+1\n"
        "  73: (b7) r2 = 2\n"
        "  74: (bf) r1 = r7\n"
        "  75: (85) call bpf_ringbuf_submit#132\n"
        "  76: (05) goto pc+9\n"
        "  77: (62) *(u32 *)(r10 -4) = 7\n"
    )
    assert text.rstrip().endswith("  86: (b7) r0 = 0\n  87: (95) exit")


def test_emitted_tables_describe_the_record():
    plan = P.CapturePlan()
    fd = plan.add(P.Capture("$fd", P.INT, 16, 4, True))
    path = plan.add(P.Capture("$filename", P.USER_STRING, 24, 8, buffer=64))
    reads = [P.TargetRead(P.LONG_READ, (fd,)), P.TargetRead(P.CONST_READ, text="sys_enter_x")]
    derived = SimpleNamespace(point='kernel.trace("s:x")', data={"tracepoint": "s:x", "format digest": "00ff"})
    probe = KernelProbe(3, derived, plan, capture_program(plan, 3), reads, [path])
    tables = _probe_tables(probe)
    assert 'static const struct stp_bpf_field stp_bpf_probe_3_fields[] = {\n\t{"fd", 64, 0, 4, 1, 0, 0},\n};' in tables
    assert (
        "static const struct stp_bpf_target stp_bpf_probe_3_targets[] = {\n"
        "\t{STP_BPF_LONG, &stp_bpf_probe_3_fields[0], 1, NULL},\n"
        '\t{STP_BPF_CONST, NULL, 0, "sys_enter_x"},\n};'
    ) in tables
    assert '\t{"$filename", 72, 1, 0, 0, 1, 0},' in tables
    assert tables.rstrip().endswith(
        'static const struct stp_bpf_probe stp_bpf_probe_3 = {\n\t"kernel.trace(\\"s:x\\")", STP_BPF_TRACEPOINT, "s:x", "00ff", 0, 0, 0,\n'
        f"\tstp_bpf_probe_3_insns, {len(probe.program.insns)}, stp_bpf_probe_3_relocs, 6, stp_bpf_probe_3_targets, 2, "
        "stp_bpf_probe_3_user_strings, 1\n};"
    )
