"""In-kernel aggregation (issue 8): eligible handlers aggregate in per-CPU BPF maps and
give exactly what the user-space handlers give (-DSTP_NO_KERNEL_AGGREGATION), with
exact values from known workloads; ineligible handlers say why they stay in user space."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from tests.bpf_harness.util import compile_program, pystap
from tests.conformance_cases import Case, load_all, run_cases
from tests.programs import build
from tests.support import REPO, require_root, require_tracefs

ROUNDS = 20  # probed.c: add(i, 100 + i), greet("stapui", i + 1) for i < ROUNDS
FORCE_USER = "-DSTP_NO_KERNEL_AGGREGATION"

SYSCALL_PROGRAM = r"""
#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char buf[128];
	int fd = open("/dev/zero", O_RDONLY);

	dup2(fd, 77);
	for (int i = 0; i < atoi(argv[1]); i++)
		syscall(SYS_getpid);
	for (int size = 1; size <= 100; size++)
		if (read(77, buf, size) != size)
			return 1;
	return 0;
}
"""


def paths(stderr: str) -> list[str]:
    """The pass-3 -v lines saying where each kernel probe's handler runs (not how a
    syscall probe attaches: tests/test_kernel_syscall_btf.py)."""
    attach = (": BTF raw tracepoint ", ": perf tracepoint ")
    return [line for line in stderr.splitlines() if line.startswith("probe ") and not any(a in line for a in attach)]


def both_ways(script: str, *args: str) -> tuple[str, list[str]]:
    """Run `script` in the kernel and in user space; the outputs must be identical."""
    kernel = pystap("-v", "-e", script, *args)
    user = pystap("-v", FORCE_USER, "-e", script, *args)
    assert kernel.returncode == 0, kernel.stderr
    assert user.returncode == 0, user.stderr
    assert all("kernel aggregation disabled" in line for line in paths(user.stderr))
    assert kernel.stdout == user.stdout, (kernel.stderr, user.stderr)
    return kernel.stdout, paths(kernel.stderr)


@pytest.fixture(scope="module")
def probed() -> str:
    require_root()
    return str(build("probed", "-O0"))


@pytest.fixture(scope="module")
def syscaller(tmp_path_factory) -> str:
    require_root()
    require_tracefs()
    directory = tmp_path_factory.mktemp("kagg")
    return str(compile_program(directory, "kagg_sys", SYSCALL_PROGRAM))


def uprobe_script(probed: str, body: str, end: str, globals_: str, function: str = "add") -> str:
    return f'global {globals_}\nprobe process("{probed}").function("{function}") {{ {body} }}\nprobe end {{ {end} }}'


def test_counts_and_sums_by_argument(probed):
    script = uprobe_script(
        probed, "n++; byarg[$a]++; total += $b; back -= $a",
        'printf("n=%d total=%d back=%d\\n", n, total, back); foreach (k in byarg) printf("%d:%d ", k, byarg[k])',
        "n, byarg, total, back")
    out, where = both_ways(script, "-c", f"{probed} {ROUNDS}")
    assert out == "3420\nn=20 total=2190 back=-190\n" + "".join(f"{i}:1 " for i in range(20))
    assert where == [f'probe process("{probed}").function("add@{REPO}/tests/programs/probed.c:21"): '
                     "in-kernel aggregation (count n; count byarg by $a; sum total; subtract from back)"]


def test_statistics_with_constant_and_context_keys(probed):
    script = uprobe_script(
        probed, 's <<< $b; k[execname(), "add", 7] <<< $a; if ($a > 10 && $a != 15) big++',
        'printf("%d %d %d %d %d big=%d\\n", @count(s), @sum(s), @min(s), @max(s), @avg(s), big)\n'
        '  foreach ([e, f, x] in k) printf("%s %s %d %d %d %d %d\\n", e, f, x, @count(k[e, f, x]), @sum(k[e, f, x]),'
        " @min(k[e, f, x]), @max(k[e, f, x]))",
        "s, k, big")
    out, where = both_ways(script, "-c", f"{probed} {ROUNDS}")
    comm = Path(probed).name[:15]
    assert out == f"3420\n20 2190 100 119 109 big=8\n{comm} add 7 20 190 0 19\n"
    assert "in-kernel aggregation" in where[0]


def test_mixed_keys_conditions_and_tests(probed):
    script = uprobe_script(
        probed,
        'if (!($a > 3) || $a == 7) a[execname(), $a, pid(), "k", uid()] <<< $b\n'
        "  else { b[$a & 3] += $b - $a * 2; if (cpu() >= 0) c++ else c-- }\n"
        "  g[gid(), ~$a] += 1 + ($a * 2 == $b - 100 + $a) + !($a & 1)",
        'foreach ([x, y, z, w, v] in a) printf("%s %d %d %s %d %d\\n", x, y, z == target(), w, v, @count(a[x, y, z, w, v]))\n'
        '  foreach (k+ in b) printf("b %d %d\\n", k, b[k]); printf("c %d\\n", c)\n'
        '  foreach ([gx, gy] in g) printf("%d:%d ", gy, g[gx, gy])',
        "a, b, c, g")
    out, where = both_ways(script, "-c", f"{probed} {ROUNDS}")
    comm = Path(probed).name[:15]
    assert out.splitlines() == [
        "3420", *(f"{comm} {i} 1 k 0 1" for i in (0, 1, 2, 3, 7)),
        "b 0 360", "b 1 356", "b 2 352", "b 3 255", "c 15",
        " ".join(f"{~i}:{3 if i % 2 == 0 else 2}" for i in range(20)) + " ",
    ]
    assert where[0].endswith("in-kernel aggregation (aggregate a by execname(), $a, pid(), \"k\", uid(); "
                             "sum b by an expression; count c; count down c; sum g by gid(), an expression)")


def test_histograms_of_arguments(probed):
    script = uprobe_script(probed, "h <<< $b * 3 - 300; lin <<< $a",
                           "print(@hist_log(h)); print(@hist_linear(lin, 0, 10, 2))", "h, lin")
    out, where = both_ways(script, "-c", f"{probed} {ROUNDS}")
    assert "in-kernel aggregation (aggregate h; aggregate lin)" in where[0]
    log, linear = out.split("\n\n")[:2]
    assert log.splitlines()[2:] == [  # 3 * i for i < 20: 0, 3, 6, ... 57 (after the program's line and the header)
        "    0 |@                                                  1",
        "    1 |                                                   0",
        "    2 |@                                                  1",
        "    4 |@                                                  1",
        "    8 |@@@                                                3",
        "   16 |@@@@@                                              5",
        "   32 |@@@@@@@@@                                          9",
        "   64 |                                                   0",
        "  128 |                                                   0",
    ]
    assert linear.splitlines()[-1] == "  >10 |@@@@@@@@                                           8"


def test_return_values(probed):
    script = uprobe_script(probed, "r <<< $return", 'printf("%d %d %d\\n", @count(r), @sum(r), @max(r))', "r",
                           function="greet")
    script = script.replace('function("greet")', 'function("greet").return')
    out, where = both_ways(script, "-c", f"{probed} {ROUNDS}")
    assert out == f"3420\n20 {6 * sum(range(1, 21))} 120\n"
    assert "in-kernel aggregation (aggregate r)" in where[0]


def test_deletes_in_a_timer_lose_nothing(probed):
    script = uprobe_script(
        probed, "c[1]++; s <<< $a",
        'foreach (k in c) kept[k] += c[k]; printf("kept %d left %d\\n", kept[1], @count(s))', "c, s, kept")
    script += "\nprobe timer.ms(2) { foreach (k in c) kept[k] += c[k]; delete c }"
    out, where = both_ways(script, "-c", f"{probed} 20000")
    assert out.splitlines()[1:] == ["kept 20000 left 20000"]
    assert "in-kernel aggregation (count c by 1; aggregate s)" in where[0]


def test_a_full_map_falls_back_to_the_ring(probed):
    script = uprobe_script(probed, "byarg[$a] += $b", 'foreach (k+ in byarg) printf("%d:%d ", k, byarg[k])', "byarg")
    out, where = both_ways(script, "-DSTP_KERNEL_AGGREGATION_ENTRIES=4", "-c", f"{probed} {ROUNDS}")
    assert out == "3420\n" + "".join(f"{i}:{100 + i} " for i in range(20))
    assert "in-kernel aggregation" in where[0]


REFUSE = "-DSTP_KERNEL_AGGREGATION_REFUSE"  # every aggregation program reads below the stack
REFUSED = "kernel refused the in-kernel aggregation program (invalid read from stack R10 off=-520 size=8); " \
          "using the user-space handler"


def test_a_refused_uprobe_program_falls_back_to_the_user_space_handler(probed):
    script = uprobe_script(probed, "n++; byarg[$a] += $b; s <<< $a",
                           'printf("n=%d %d %d\\n", n, @sum(s), @max(s)); foreach (k+ in byarg) printf("%d:%d ", k, byarg[k])',
                           "n, byarg, s")
    run = pystap(REFUSE, "-e", script, "-c", f"{probed} {ROUNDS}")
    assert run.returncode == 0, run.stderr
    assert run.stdout == "3420\nn=20 190 19\n" + "".join(f"{i}:{100 + i} " for i in range(20))
    assert run.stderr == (f'WARNING: probe process("{probed}").function("add@{REPO}/tests/programs/probed.c:21"): '
                          f"{REFUSED}\n")


def test_a_refused_tracepoint_program_falls_back_to_the_user_space_handler(syscaller):
    script = textwrap.dedent("""\
        global n, h, per
        probe syscall.getpid { if (execname() == "kagg_sys") n++ }
        probe syscall.read { if (execname() == "kagg_sys" && fd == 77) { h <<< count; per[execname()] += count } }
        probe end { printf("n=%d %d %d %d %d\\n", n, @count(h), @sum(h), @min(h), @max(h))
          foreach (e in per) printf("%s %d\\n", e, per[e]) }
        """)
    run = pystap(REFUSE, "-e", script, "-c", f"{syscaller} 1000")
    assert run.returncode == 0, run.stderr
    assert run.stdout == "n=1000 100 5050 1 100\nkagg_sys 5050\n"
    assert [line for line in run.stderr.splitlines() if "kernel refused" in line] == [
        f'WARNING: probe kernel.trace("syscalls:sys_enter_getpid"): {REFUSED}',
        f'WARNING: probe kernel.trace("syscalls:sys_enter_read"): {REFUSED}',
    ]


def test_a_refused_program_sharing_a_stash_still_fails(syscaller):
    """Its partner's handler would find the user-space stash empty: no fallback."""
    script = textwrap.dedent("""\
        global start, lat
        probe syscall.read { if (execname() == "kagg_sys" && fd == 77) start[tid()] = gettimeofday_ns() }
        probe syscall.read.return { if (tid() in start) { lat <<< gettimeofday_ns() - start[tid()]; delete start[tid()] } }
        probe end { printf("%d\\n", @count(lat)) }
        """)
    run = pystap(REFUSE, "-e", script, "-c", f"{syscaller} 10")
    assert run.returncode == 1
    assert run.stdout == ""
    assert run.stderr.splitlines()[0] == ('ERROR: cannot load the capture program for '
                                          'kernel.trace("syscalls:sys_enter_read"): Permission denied')


def test_syscalls_of_a_known_process(syscaller):
    script = textwrap.dedent("""\
        global n, h, per, calls
        probe syscall.getpid { if (execname() == "kagg_sys") { n++; calls[name]++ } }
        probe syscall.read { if (execname() == "kagg_sys" && fd == 77) { h <<< count; per[execname()] += count } }
        probe end { printf("n=%d %d %d %d %d\\n", n, @count(h), @sum(h), @min(h), @max(h)); print(@hist_log(h))
          foreach (e in per) printf("%s %d\\n", e, per[e]); foreach (c in calls) printf("%s %d\\n", c, calls[c]) }
        """)
    out, where = both_ways(script, "-c", f"{syscaller} 1000")
    assert out.splitlines()[0] == "n=1000 100 5050 1 100"
    assert out.splitlines()[-2:] == ["kagg_sys 5050", "getpid 1000"]
    assert where == [
        'probe kernel.trace("syscalls:sys_enter_getpid"): in-kernel aggregation (count n; count calls by "getpid")',
        'probe kernel.trace("syscalls:sys_enter_read"): in-kernel aggregation (aggregate h; sum per by execname())',
    ]


def test_the_latency_pattern_stays_in_the_kernel(syscaller):
    script = textwrap.dedent("""\
        global start, lat
        probe syscall.read { if (execname() == "kagg_sys" && fd == 77) start[tid()] = gettimeofday_ns() }
        probe syscall.read.return { if (tid() in start) { lat <<< gettimeofday_ns() - start[tid()]; delete start[tid()] } }
        probe end { printf("%d %d\\n", @count(lat), @min(lat) > 0 && @max(lat) < 1000000000) }
        """)
    out, where = both_ways(script, "-c", f"{syscaller} 10")
    assert out == "100 1\n"
    assert where == [
        'probe kernel.trace("syscalls:sys_enter_read"): in-kernel aggregation (stash the time in start[tid()])',
        'probe kernel.trace("syscalls:sys_exit_read"): in-kernel aggregation (aggregate lat; delete start[tid()])',
    ]


def test_a_stash_read_in_user_space_keeps_its_probes_there(probed):
    script = (f'global start, n\nprobe process("{probed}").function("add") {{ start[tid()] = gettimeofday_ns() }}\n'
              f'probe process("{probed}").function("add").return {{ if (tid() in start) n++ }}\n'
              'probe end { foreach (t in start) n++ }')
    result = pystap("-p3", "-v", "-e", script)
    entry, back = (line.split(": ", 1)[1] for line in paths(result.stderr))
    assert entry == "user-space handler: global start is also used by the handler of end as more than a stash of times"
    assert back.startswith(f'user-space handler: global start is also used by the handler of process("{probed}")')


@pytest.mark.parametrize(
    ("handler", "extra", "reason"),
    [
        ('n++; printf("x")', "", "calls printf"),
        ("n++; m[1] = n", "", "assigns m with ="),
        ("s <<< $a", "probe end { println(@variance(s)) }", "@variance(s) depends on the order values arrive in"),
        ("s <<< $a", "probe end { println(@min(s)) } probe timer.s(1) { delete s }",
         "@min/@max of s cannot be merged across its deletes"),
        ("w[$a]++", "", "global w% wraps around in insertion order"),
        ("n += $a / 2", "", "uses operator / there"),
        ("for (i = 0; i < 2; i++) n++", "", "has a loop"),
        ("n++", "probe process(\"PROBED\").function(\"greet\") { if (n > 3) m[1]++ }",
         "global n is also read by the handler of"),
        ("n++", "probe process(\"PROBED\").function(\"greet\") if (n > 3) { m[1]++ }",
         "global n is also read by the handler of"),
    ],
)
def test_ineligible_handlers_say_why(probed, handler, extra, reason):
    script = (f"global n, m, s, w%\nprobe process(\"{probed}\").function(\"add\") {{ {handler} }}\n"
              + extra.replace("PROBED", probed))
    result = pystap("-p3", "-v", "-e", script)
    assert result.returncode == 0, result.stderr
    first = paths(result.stderr)[0]
    assert first.startswith(f'probe process("{probed}").function("add@')
    assert f"user-space handler: {reason}" in first


def test_forcing_user_space_for_every_probe(probed):
    script = uprobe_script(probed, "n++", 'printf("%d\\n", n)', "n")
    result = pystap("-p3", "-v", FORCE_USER, "-e", script)
    assert result.returncode == 0, result.stderr
    assert paths(result.stderr)[0].endswith("user-space handler: kernel aggregation disabled (-DSTP_NO_KERNEL_AGGREGATION)")
    assert "agg0" not in result.stdout


def test_timing_handlers_keeps_them_in_user_space(probed):
    script = uprobe_script(probed, "n++", 'printf("%d\\n", n)', "n")
    result = pystap("-p3", "-v", "-t", "-e", script)
    assert result.returncode == 0, result.stderr
    assert paths(result.stderr)[0].endswith("user-space handler: -t times every handler")


def test_the_engine_panel_artifact_lists_each_path(probed):
    script = uprobe_script(probed, "n++", 'printf("%d\\n", n)', "n")
    result = pystap("-p3", "-e", script)
    assert result.returncode == 0, result.stderr
    listing = result.stdout.split("// ---- kernel probe handlers ----\n")[1]
    assert listing.splitlines()[0].endswith('): in-kernel aggregation (count n)')
    assert "r1 = map[agg0]" in listing  # the per-CPU array of n
    assert "r1 = map[events]" in listing  # the capture program, for a full map


IN_KERNEL_CASES = 35  # of tests/conformance/kernel.cases, the cases with a probe aggregating in the kernel


def aggregates_in_the_kernel(case: Case) -> bool:
    """Whether pass 3 puts at least one probe of the (bound) case on the in-kernel path."""
    from engine.cli import parse_args
    from engine.session import Session
    from engine.translate import translate

    options = parse_args(case.argv).options
    options.last_pass = 2
    session = Session(options)
    session.run_all()
    program = session.artifact(2)
    return program is not None and any(": in-kernel aggregation" in line
                                       for line in translate(program, options).probe_paths)


def outcome(case: Case, proc) -> tuple[str, str, int]:
    """What a run of a bound case gave, with its placeholders put back."""
    return case.unbind(proc.stdout), case.unbind(proc.stderr), proc.returncode


def test_conformance_cases_give_the_same_results_both_ways():
    """Issue 8's differential: every conformance case with a probe aggregating in the
    kernel runs as is and with -DSTP_NO_KERNEL_AGGREGATION (each run with its own
    @COMM@, so they can run at the same time); both must give the case's stdout,
    stderr and exit status."""
    require_root()
    require_tracefs()
    eligible = [case for case in load_all() if aggregates_in_the_kernel(case.bind())]
    assert len(eligible) == IN_KERNEL_CASES, [case.name for case in eligible]
    kernel = [case.bind() for case in eligible]
    user = [replace(bound, options=[FORCE_USER, *bound.options]) for bound in (case.bind() for case in eligible)]
    procs = run_cases(kernel + user)
    failures = [
        (case.name, outcome(k, kernel_run), outcome(u, user_run))
        for case, k, u, kernel_run, user_run in zip(eligible, kernel, user, procs, procs[len(kernel):])
        if not outcome(k, kernel_run) == outcome(u, user_run) == (case.stdout, case.stderr, case.expected_status)
    ]
    assert failures == []


def test_snapshots_merge_what_the_kernel_aggregated(probed):
    """The workbench's snapshots read the kernel's maps: a consistent prefix of the calls,
    with the variance the merged sum of squares gives (values 100, 101, ...)."""
    from engine.run import launch
    from engine.run.records import Snapshot, Stat
    from engine.session import Options, Session
    from tests.test_runtime_monitor import Collector

    script = f'global s probe process("{probed}").function("add") {{ s <<< $b }}'
    session = Session(Options(script_text=script, last_pass=4, command=f"{probed} 3000000"))
    assert session.run_all().ok, [d.format() for d in session.diagnostics()]
    collector = Collector()
    handle = launch(session, session.artifact(4), collector)
    handle.set_monitor(20)

    def busy(record) -> bool:
        return isinstance(record, Snapshot) and isinstance(record.globals.get("s"), Stat) and record.globals["s"].count > 1000

    collector.wait_for(busy)
    handle.stop()
    handle.wait(60)
    handle.close()
    snapshot = next(r for r in collector.records if busy(r))
    stat = snapshot.globals["s"]
    n = stat.count
    hits = [p.hits for p in snapshot.probes if p.point.startswith("process(")]
    assert len(hits) == 1 and hits[0] >= n  # counted after the value, merged after it
    assert (stat.sum, stat.min, stat.max) == (n * 100 + n * (n - 1) // 2, 100, 99 + n)
    assert abs(stat.variance - n * (n + 1) // 12) <= 1
