"""BPF programs that aggregate in the kernel, and the map tables the runtime merges.

For a handler aggregate.py found eligible, each derived probe's program becomes

    filters of the capture program (the runtime's own events, the -x/-c target)
    phase 1: per aggregation statement, its conditions, then the key built on the
             stack and its entry looked up (or created from the "agg_zero" template,
             stamped with the time the key was first seen); the entry pointers are
             kept on the stack
    phase 2: per statement with an entry, its value added (count, sum, min, max,
             sum of squares, histogram bucket)
    then:    the deletes from stashes of times (the latency pattern), and the probe's
             hit counted in "agg_hits"
    fallback: the unchanged capture program, reached when a map is full: the record
             goes to the ring and the user-space handler does the work, so nothing is
             lost and nothing is counted twice (phase 1 changes no total)

A relocation named "agg_capture" marks where that capture program starts: when the
kernel refuses the aggregation program (another kernel, other limits), the runtime
loads the capture program alone and the probe's user-space handler does all its work
(runtime_c/bpf_probes.c).  -DSTP_KERNEL_AGGREGATION_REFUSE makes every aggregation
program read below the stack, which the verifier refuses, to test that.

Register use: r6 the context, r7 an entry, r8 the value being aggregated; r1-r5 are
clobbered by helpers. Stack layout below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from engine.elaborate import capture_bpf as planner
from engine.parse import ast
from engine.translate.bpf import aggregate as A
from engine.translate.bpf.asm import Assembler, Program
from engine.translate.bpf.capture import _skip_own_process
from engine.translate.bpf.isa import FP, R0, R1, R2, R3, R4, R6, R7, R8, Reg
from engine.translate.bpf.task import TASK_REGISTER, CurrentTask, copy_comm
from engine.translate.bpf.task import task_offsets
from engine.translate.bpf.uprobe_attach import is_user_probe
from engine.translate.cstrings import c_literal

ZERO_MAP = "agg_zero"
CAPTURE_MARK = "agg_capture"  # no map: the slot where the capture program starts (bpf_agg.h)
HITS_MAP = "agg_hits"  # per-CPU u64 per script probe: events handled here (no handler ran)
_ZERO_KEY = -4  # u32 0: the key of one-entry arrays
_COMM = -40  # 16 bytes: execname() for comparisons
_SLOT = -48  # 8 bytes: a target value read through capture_bpf's recipes
_TEMPS = -56  # 8 bytes per nesting level of arithmetic, downwards
_MAX_DEPTH = 16
_POINTERS = _TEMPS - 8 * _MAX_DEPTH  # one entry pointer per statement, downwards (16: to -304)
_STASH_KEY = -384  # a stash key being built (at most 9 x 8 bytes, to -313)
_KEY = -512  # the key being built (at most A.MAX_KEY_BYTES, to -385)
COMM_BYTES = 16
_BPF_NOEXIST = 1
_BPF_LOCAL_STORAGE_GET_F_CREATE = 1

# Value words (bpf_agg.h): counter = first_ns, hits, total; stat = first_ns, count, sum, min, max, sum of
# squares, buckets...
_FIRST_NS, _HITS, _TOTAL = 0, 8, 16
_COUNT, _SUM, _MIN, _MAX, _SUMSQ, _BUCKETS = 8, 16, 24, 32, 40, 48
LOG_BUCKETS = 128  # STP_HIST_LOG_BUCKETS
LOG_BUCKET0 = 64


@dataclass
class AggMap:
    """The BPF map of one aggregation statement, or the stash map of a global (shared by
    every statement and probe using it: key = the integer indexes, value = a time)."""

    name: str
    update: A.Update | None  # None: a stash map only read by this probe
    buckets: int = 0  # histogram buckets of a stat value
    hist: str = ""  # "", "log" or "linear"
    linear: tuple[int, int, int] = (0, 0, 0)
    entries: int = 2048
    key_offsets: list[int] = field(default_factory=list)  # per key: offset in the BPF key, -1 if constant
    stash_of: ast.VarDecl | None = None
    task_local: bool = False  # a stash in task-local storage (task_local_stashes)
    refused: bool = False  # -DSTP_KERNEL_AGGREGATION_REFUSE: emit a program the verifier refuses

    @property
    def key_size(self) -> int:
        if self.stash_of is not None:
            return 8 * (self.stash_of.arity or 1)
        return sum(COMM_BYTES if k.comm else 8 for k in self.update.keys if k.constant is None)

    @property
    def value_size(self) -> int:
        if self.stash_of is not None:
            return 8
        return _BUCKETS + 8 * self.buckets if self.update.stat else 24


ENTRIES = "STP_KERNEL_AGGREGATION_ENTRIES"  # -D: fewer BPF map entries, to test the full-map fallback
REFUSE = "STP_KERNEL_AGGREGATION_REFUSE"  # -D: programs the verifier refuses, to test the capture fallback


def plan_maps(decision: A.Decision, specs: dict[int, Any], defines: dict[str, str], known: list[AggMap],
              task_stashes: set[int] = frozenset()) -> list[AggMap]:
    """The maps of an in-kernel handler: one per statement (in statement order; a stash
    statement's is its global's stash map), then the stash maps it only reads. New maps
    are named after the `known` ones (agg0, agg1 ...); stash maps are shared, and in
    task-local storage for the globals in `task_stashes`. `specs` are the statistics
    globals' StatSpecs (unit.GlobalInfo.spec). A map holds as many keys as its global
    (`global a[N]`, else MAXMAPENTRIES), or -DSTP_KERNEL_AGGREGATION_ENTRIES."""
    limit = _define(defines, "MAXMAPENTRIES", 2048)
    cap = _define(defines, ENTRIES, 0)
    maps: list[AggMap] = []

    def stash_map(decl: ast.VarDecl, update: A.Update | None) -> AggMap:
        shared = next((m for m in known + maps if m.stash_of is decl), None)
        name = shared.name if shared is not None else f"agg{len(_names(known + maps))}"
        entries = min(decl.maxsize or limit, cap or limit)
        return AggMap(name, update, entries=entries, stash_of=decl, task_local=id(decl) in task_stashes)

    for update in decision.updates:
        entries = min(update.target.maxsize or limit, cap or limit)
        if update.stash:
            maps.append(stash_map(update.target, update))
            continue
        spec = specs.get(id(update.target))
        hist, buckets, linear = "", 0, (0, 0, 0)
        if spec is not None and spec.hist == "STP_HIST_LOG":
            hist, buckets = "log", LOG_BUCKETS
        elif spec is not None and spec.hist == "STP_HIST_LINEAR":
            linear = spec.params
            buckets = _linear_buckets(*linear)
            hist = "linear" if buckets else ""
        offsets, offset = [], 0
        for key in update.keys:
            offsets.append(-1 if key.constant is not None else offset)
            offset += 0 if key.constant is not None else COMM_BYTES if key.comm else 8
        maps.append(AggMap(f"agg{len(_names(known + maps))}", update, buckets, hist, linear, entries, offsets))
    for decl in decision.stash_reads.values():
        if not any(m.stash_of is decl for m in maps):
            maps.append(stash_map(decl, None))
    for agg in maps:
        agg.refused = REFUSE in defines
    return maps


def task_local_stashes(plan: A.AggregationPlan, holds_task: Callable[[Any], bool]) -> set[int]:
    """id() of the stash globals that can live in task-local storage (bpf_task_storage.c):
    each is only ever `stash[tid()]`, in handlers whose probes all `holds_task` (their
    programs keep the task in TASK_REGISTER, task.py)."""
    fits: dict[int, bool] = {}
    for decision in plan.decisions:
        if not decision.in_kernel or not decision.stashes:
            continue
        holds = all(holds_task(derived) for derived in decision.probe.derived)
        for node in ast.walk(decision.probe.body):
            if isinstance(node, ast.ArrayIndex) and isinstance(node.base, ast.Symbol):
                stash = id(node.base.referent)
                if stash in decision.stashes:
                    fits[stash] = fits.get(stash, True) and holds and _is_tid(node.indexes)
    return {stash for stash, fit in fits.items() if fit}


def _is_tid(indexes: list[ast.Expr]) -> bool:
    return len(indexes) == 1 and isinstance(indexes[0], ast.FunctionCall) and indexes[0].name == "tid" \
        and not indexes[0].args


def _names(maps: list[AggMap]) -> set[str]:
    return {m.name for m in maps}


def _define(defines: dict[str, str], name: str, default: int) -> int:
    try:
        return int(str(defines.get(name) or default), 0)
    except ValueError:
        return default


def _linear_buckets(start: int, stop: int, interval: int) -> int:
    """As stat.c's linear_buckets: the range, an underflow and an overflow bucket."""
    if interval <= 0:
        return 0
    span = stop - start
    n = (abs(span) // interval) * (1 if span >= 0 else -1) + 3  # C's division truncates toward 0
    return n if 3 <= n <= 128 else 0


def aggregate_program(derived: Any, probe_index: int, maps: list[AggMap], capture: Program,
                      prologue: Program | None = None, current: CurrentTask | None = None) -> Program:
    """The program for script probe `probe_index` (`derived`): aggregate into `maps`,
    count the hit, or fall back to `capture` (marked by a CAPTURE_MARK relocation).
    A `prologue` (task.py, syscall_btf.py) runs first, leaving the task in TASK_REGISTER
    when `current` is given; the runtime keeps it in front of `capture` when it loads
    that alone."""
    a = Assembler()
    if prologue is not None:
        a.append(prologue)
    a.mov(R6, R1)
    if any(m.refused for m in maps):
        a.load(R1, FP, _KEY - 8, 8)  # below the 512-byte stack
    _skip_own_process(a, current)
    user = is_user_probe(derived)
    task = task_offsets()
    if user and task is not None and "raw_tracepoint" not in derived.data:
        planner._in_target(a, task)
    stashes = {id(m.stash_of): m for m in maps if m.stash_of is not None}
    emitter = _Emitter(a, derived, stashes, current)
    statements = [m for m in maps if m.update is not None]
    for index, agg in enumerate(statements):
        emitter.find_entry(index, agg)
    for index, agg in enumerate(statements):
        emitter.add_value(index, agg)
    for index, agg in enumerate(statements):  # last: values read a stash before its deletes
        if agg.update.stash == "delete":
            emitter.unstash(index, agg)
    emitter.count_hit(probe_index)
    a.label("out")
    a.mov(R0, 0)
    a.exit()
    a.label("fallback")
    a.mov(R1, R6)
    a.append(capture)
    program = a.assemble()
    program.relocations.append((len(program.insns) - len(capture.insns), CAPTURE_MARK))
    return program


class _Emitter:
    """Emits the computations of one derived probe's aggregation statements."""

    def __init__(self, a: Assembler, derived: Any, stashes: dict[int, AggMap], current: CurrentTask | None):
        self.a = a
        self.derived = derived
        self.stashes = stashes  # id(global) -> its stash map
        self.current = current  # the task is in TASK_REGISTER: read comm, pid, tid from it
        self.labels = 0
        attach = planner.attach_spec(derived) if is_user_probe(derived) else {}
        self.probe_address = attach.get("address") if attach.get("kind") == "uprobe" and not attach["retprobe"] else None

    def label(self, base: str) -> str:
        self.labels += 1
        return f"{base}_{self.labels}"

    # -- phase 1: find (or create) each statement's entry ---------------------------------

    def find_entry(self, index: int, agg: AggMap) -> None:
        a = self.a
        pointer = _POINTERS - 8 * index
        skip = self.label("skip")
        a.store(FP, pointer, 0, 8)
        for cond, truth in agg.update.guards:
            self.branch(cond, not truth, skip)
        if agg.update.stash == "store":
            self.store_time(agg)
        elif agg.update.stash == "delete":
            a.store(FP, pointer, 1, 8)
        elif agg.key_size == 0:
            self.lookup(agg.name, _ZERO_KEY, zero_key=True)
            a.jump_if("==", R0, 0, "fallback")
        else:
            self.build_key(agg)
            found = self.label("found")
            self.lookup(agg.name, _KEY)
            a.jump_if("!=", R0, 0, found)
            self.create(agg)
            a.label(found)
        if not agg.update.stash:
            a.store(FP, pointer, R0, 8)
        a.label(skip)

    # -- stashes of times -------------------------------------------------------------------

    def stash_key(self, values: list[A.Value], depth: int = 0) -> None:
        for position, value in enumerate(values):
            self.integer(value, depth)
            self.a.store(FP, _STASH_KEY + 8 * position, R1, 8)

    def stash_lookup(self, stash: AggMap) -> None:
        """r0 = the stash's slot for the key at _STASH_KEY (task-local: the thread's), or NULL."""
        if stash.task_local:
            self.task_slot(stash, create=False)
        else:
            self.lookup(stash.name, _STASH_KEY)

    def task_slot(self, stash: AggMap, create: bool) -> None:
        """r0 = the current thread's slot in task-local `stash` (NULL if it has none and
        not `create`); a slot holding 0 is an absent stash[tid()]: a time is never 0."""
        a = self.a
        a.load_map(R1, stash.name)
        a.mov(R2, TASK_REGISTER)
        a.mov(R3, 0)
        a.mov(R4, _BPF_LOCAL_STORAGE_GET_F_CREATE if create else 0)
        a.call("task_storage_get")

    def store_time(self, agg: AggMap) -> None:
        """stash[keys] = now (CLOCK_MONOTONIC: only differences are read back)."""
        a = self.a
        if not agg.task_local:
            self.stash_key(_key_values(agg.update.keys))
        a.call("ktime_get_ns")
        a.store(FP, _SLOT, R0, 8)
        if agg.task_local:
            self.task_slot(agg, create=True)
            a.jump_if("==", R0, 0, "fallback")
            a.load(R1, FP, _SLOT, 8)
            a.store(R0, 0, R1, 8)
            return
        a.mov(R3, FP)
        a.alu("+=", R3, _SLOT)
        self.map_call("map_update_elem", agg.name, _STASH_KEY, flags=0)  # BPF_ANY
        a.jump_if("s<", R0, 0, "fallback")

    def unstash(self, index: int, agg: AggMap) -> None:
        a = self.a
        done = self.label("kept")
        a.load(R1, FP, _POINTERS - 8 * index, 8)
        a.jump_if("==", R1, 0, done)
        if agg.task_local:
            self.task_slot(agg, create=False)
            a.jump_if("==", R0, 0, done)
            a.store(R0, 0, 0, 8)
        else:
            self.stash_key(_key_values(agg.update.keys))
            self.map_call("map_delete_elem", agg.name, _STASH_KEY)
        a.label(done)

    def stash_read(self, target: ast.ArrayIndex, env: dict, depth: int) -> None:
        """r1 = stash[keys], 0 when absent (as reading a missing array element)."""
        a = self.a
        stash = self.stashes[id(target.base.referent)]
        if not stash.task_local:
            self.stash_key([A.Value(index, env) for index in target.indexes], depth)
        self.stash_lookup(stash)
        a.mov(R1, 0)
        absent = self.label("absent")
        a.jump_if("==", R0, 0, absent)
        a.load(R1, R0, 0, 8)
        a.label(absent)

    def count_hit(self, probe_index: int) -> None:
        a = self.a
        a.store(FP, _ZERO_KEY, probe_index, 4)
        self.map_call("map_lookup_elem", HITS_MAP, _ZERO_KEY)
        a.jump_if("==", R0, 0, "out")
        self.a.mov(R7, R0)
        self.add_word(0, 1)

    def lookup(self, map_name: str, key: int, zero_key: bool = False) -> None:
        if zero_key:
            self.a.store(FP, _ZERO_KEY, 0, 4)
        self.map_call("map_lookup_elem", map_name, key)

    def map_call(self, helper: str, map_name: str, key: int, flags: int | None = None) -> None:
        """helper(map, fp + key[, r3, flags]): r3, the value, is set by the caller."""
        a = self.a
        a.load_map(R1, map_name)
        a.mov(R2, FP)
        a.alu("+=", R2, key)
        if flags is not None:
            a.mov(R4, flags)
        a.call(helper)

    def create(self, agg: AggMap) -> None:
        """Insert a zero value stamped with the time (BPF_NOEXIST: a racing CPU's insert
        wins), then look the entry up; a full map falls back to the ring."""
        a = self.a
        self.lookup(ZERO_MAP, _ZERO_KEY, zero_key=True)
        a.jump_if("==", R0, 0, "fallback")
        a.mov(R7, R0)
        a.call("ktime_get_ns")
        a.store(R7, _FIRST_NS, R0, 8)
        a.mov(R3, R7)
        self.map_call("map_update_elem", agg.name, _KEY, flags=_BPF_NOEXIST)
        self.lookup(agg.name, _KEY)
        a.jump_if("==", R0, 0, "fallback")

    def build_key(self, agg: AggMap) -> None:
        a = self.a
        for key, offset in zip(agg.update.keys, agg.key_offsets):
            if offset < 0:
                continue
            if key.comm:
                self.comm(_KEY + offset)
            else:
                self.integer(key.value)
                a.store(FP, _KEY + offset, R1, 8)

    # -- phase 2: add each value ----------------------------------------------------------

    def add_value(self, index: int, agg: AggMap) -> None:
        a = self.a
        if agg.update.stash:
            return
        done = self.label("done")
        a.load(R7, FP, _POINTERS - 8 * index, 8)
        a.jump_if("==", R7, 0, done)
        self.integer(agg.update.value)
        if agg.update.negate:
            a.neg(R1)
        if agg.update.stat:
            self.add_stat(agg, done)
        else:
            self.add_word(_HITS, 1)
            self.add_word(_TOTAL, R1)
        a.label(done)

    def add_word(self, offset: int, amount: Reg | int) -> None:
        a = self.a
        a.load(R2, R7, offset, 8)
        a.alu("+=", R2, amount)
        a.store(R7, offset, R2, 8)

    def add_stat(self, agg: AggMap, done: str) -> None:
        """count, sum, min, max as stat.c's stp_stat_add, the sum of squares, then the
        histogram bucket."""
        a = self.a
        a.mov(R8, R1)
        later, no_min, counted = self.label("later"), self.label("no_min"), self.label("counted")
        a.load(R2, R7, _COUNT, 8)
        a.jump_if("!=", R2, 0, later)
        a.store(R7, _MIN, R8, 8)
        a.store(R7, _MAX, R8, 8)
        a.jump(counted)
        a.label(later)
        a.load(R3, R7, _MIN, 8)
        a.jump_if("s>=", R8, R3, no_min)
        a.store(R7, _MIN, R8, 8)
        a.label(no_min)
        a.load(R3, R7, _MAX, 8)
        a.jump_if("s<=", R8, R3, counted)
        a.store(R7, _MAX, R8, 8)
        a.label(counted)
        self.add_word(_COUNT, 1)
        self.add_word(_SUM, R8)
        a.mov(R1, R8)
        a.alu("*=", R1, R8)
        self.add_word(_SUMSQ, R1)  # for @variance in snapshots (the script itself reads none)
        if agg.hist == "log":
            self.log_bucket()
        elif agg.hist == "linear":
            self.linear_bucket(agg)
        else:
            return
        a.jump_if(">", R2, agg.buckets - 1, done)  # never taken: tells the verifier the bound
        a.alu("<<=", R2, 3)
        a.alu("+=", R2, R7)
        a.load(R3, R2, _BUCKETS, 8)
        a.alu("+=", R3, 1)
        a.store(R2, _BUCKETS, R3, 8)

    def log_bucket(self) -> None:
        """r2 = 64 for 0, 64 + bits(|v|) for v > 0, 64 - bits(|v|) for v < 0 (stat.c)."""
        a = self.a
        positive, negative, indexed = self.label("positive"), self.label("negative"), self.label("indexed")
        a.mov(R2, R8)
        a.jump_if("s>=", R8, 0, positive)
        a.neg(R2)
        a.label(positive)
        a.mov(R3, 0)
        for shift in (32, 16, 8, 4, 2, 1):
            smaller = self.label("smaller")
            a.mov(R4, R2)
            a.alu(">>=", R4, shift)
            a.jump_if("==", R4, 0, smaller)
            a.mov(R2, R4)
            a.alu("+=", R3, shift)
            a.label(smaller)
        a.alu("+=", R3, R2)  # r2 is now 1 (v != 0) or 0: bits = floor(log2 |v|) + 1
        a.mov(R2, LOG_BUCKET0)
        a.jump_if("s<", R8, 0, negative)
        a.alu("+=", R2, R3)
        a.jump(indexed)
        a.label(negative)
        a.alu("-=", R2, R3)
        a.label(indexed)
        clamp = self.label("clamp")
        a.jump_if("<=", R2, LOG_BUCKETS - 1, clamp)
        a.mov(R2, LOG_BUCKETS - 1)
        a.label(clamp)

    def linear_bucket(self, agg: AggMap) -> None:
        """r2 = 0 below start, else (v - start) / interval + 1, at most buckets - 1."""
        a = self.a
        start, _, interval = agg.linear
        under, inside = self.label("under"), self.label("inside")
        a.mov(R2, R8)
        a.load_imm64(R3, start)
        a.alu("-=", R2, R3)
        a.jump_if("s<", R2, 0, under)
        a.load_imm64(R3, interval)
        a.alu("/=", R2, R3)
        a.alu("+=", R2, 1)
        a.jump_if("<", R2, agg.buckets - 1, inside)
        a.mov(R2, agg.buckets - 1)
        a.jump(inside)
        a.label(under)
        a.mov(R2, 0)
        a.label(inside)

    # -- values and conditions ------------------------------------------------------------

    def integer(self, value: A.Value, depth: int = 0) -> None:
        """r1 = the value of `value` (helpers clobber r0-r5)."""
        a, expr, env = self.a, value.expr, value.env
        if depth >= _MAX_DEPTH:
            raise A.NotEligible("arithmetic nested too deeply")
        if isinstance(expr, ast.NumberLiteral):
            if -(1 << 31) <= expr.value < (1 << 31):
                a.mov(R1, expr.value)
            else:
                a.load_imm64(R1, expr.value)
        elif isinstance(expr, ast.Symbol):
            self.integer(env[id(expr.referent)], depth)
        elif isinstance(expr, ast.TargetSymbol):
            self.target(expr)
        elif isinstance(expr, ast.FunctionCall) and expr.name in A.CONTEXT_FUNCTIONS:
            self.context(expr.name)
        elif isinstance(expr, ast.FunctionCall) and expr.name == A.TIME:  # only in a difference with a stashed time
            a.call("ktime_get_ns")
            a.mov(R1, R0)
        elif isinstance(expr, ast.ArrayIndex):  # a stashed time
            self.stash_read(expr, env, depth)
        elif isinstance(expr, ast.FunctionCall):
            self.integer(A.inline_call(value), depth)
        elif isinstance(expr, (ast.ComparisonExpr, ast.LogicalExpr, ast.ArrayIn)) or (
                isinstance(expr, ast.UnaryExpr) and expr.op == "!"):
            true, done = self.label("true"), self.label("tested")
            self.branch(value, True, true, depth)
            a.mov(R1, 0)
            a.jump(done)
            a.label(true)
            a.mov(R1, 1)
            a.label(done)
        elif isinstance(expr, ast.UnaryExpr):
            self.integer(A.Value(expr.operand, env), depth)
            if expr.op == "-":
                a.neg(R1)
            elif expr.op == "~":
                a.alu("^=", R1, -1)
        elif isinstance(expr, ast.BinaryExpr):
            self.operands(A.Value(expr.left, env), A.Value(expr.right, env), depth)
            op = {">>": "s>>="}.get(expr.op, expr.op + "=")
            a.alu(op, R1, R2)
        else:
            raise A.NotEligible(f"cannot compute {type(expr).__name__} in the kernel")

    def operands(self, left: A.Value, right: A.Value, depth: int) -> None:
        """r1 = left, r2 = right (left waits in the temporary of `depth`)."""
        a = self.a
        self.integer(left, depth)
        a.store(FP, _TEMPS - 8 * depth, R1, 8)
        self.integer(right, depth + 1)
        a.mov(R2, R1)
        a.load(R1, FP, _TEMPS - 8 * depth, 8)

    def comm(self, offset: int) -> None:
        """execname() into the stack at `offset` (COMM_BYTES, zero-padded)."""
        a = self.a
        if self.current is None:
            a.mov(R1, FP)
            a.alu("+=", R1, offset)
            a.mov(R2, COMM_BYTES)
            a.call("get_current_comm")
            return
        copy_comm(a, self.current, FP, offset)

    def context(self, name: str) -> None:
        a = self.a
        if name == "cpu":
            a.call("get_smp_processor_id")
            a.mov(R1, R0)
            return
        if self.current is not None and name in ("pid", "tid"):
            a.load(R1, TASK_REGISTER, self.current.tgid if name == "pid" else self.current.pid, 4)
            return
        a.call("get_current_uid_gid" if name in ("uid", "gid") else "get_current_pid_tgid")
        a.mov(R1, R0)
        if name in ("pid", "gid"):
            a.alu(">>=", R1, 32)
        else:
            a.alu("<<=", R1, 32)
            a.alu(">>=", R1, 32)

    def target(self, expr: ast.Expr) -> None:
        """r1 = the integer target value, sign- or zero-extended from its size."""
        a = self.a
        read = A.target_read(self.derived, expr)
        if is_user_probe(self.derived):
            planner._slot(a, planner.Slot(read), FP, _SLOT, self.probe_address)
            a.load(R1, FP, _SLOT, 8)
        else:
            a.load(R1, R6, read.ctx_offset, read.size)
        if read.size < 8:
            bits = 64 - 8 * read.size
            a.alu("<<=", R1, bits)
            a.alu("s>>=" if read.signed else ">>=", R1, bits)

    def branch(self, value: A.Value, truth: bool, label: str, depth: int = 0) -> None:
        """Jump to `label` when the condition `value` is `truth` (temporaries from `depth` on)."""
        a, expr, env = self.a, value.expr, value.env
        if isinstance(expr, ast.Symbol):  # a local: the analysis let no global through
            self.branch(env[id(expr.referent)], truth, label, depth)
        elif isinstance(expr, ast.UnaryExpr) and expr.op == "!":
            self.branch(A.Value(expr.operand, env), not truth, label, depth)
        elif isinstance(expr, ast.ArrayIn) and self.stashes[id(expr.operand.base.referent)].task_local:
            self.stash_read(expr.operand, env, depth)
            a.jump_if("!=" if truth else "==", R1, 0, label)
        elif isinstance(expr, ast.ArrayIn):
            self.stash_key([A.Value(index, env) for index in expr.operand.indexes], depth)
            self.stash_lookup(self.stashes[id(expr.operand.base.referent)])
            a.jump_if("!=" if truth else "==", R0, 0, label)
        elif isinstance(expr, ast.LogicalExpr):
            left, right = A.Value(expr.left, env), A.Value(expr.right, env)
            if (expr.op == "&&") == truth:  # both must agree with `truth`
                skip = self.label("skip")
                self.branch(left, not truth, skip, depth)
                self.branch(right, truth, label, depth)
                a.label(skip)
            else:  # either one decides
                self.branch(left, truth, label, depth)
                self.branch(right, truth, label, depth)
        elif isinstance(expr, ast.ComparisonExpr) and A.string_comparison(expr) is not None:
            equal = (expr.op == "==") == truth
            self.comm_equals(A.string_comparison(expr), equal, label)
        elif isinstance(expr, ast.ComparisonExpr):
            self.operands(A.Value(expr.left, env), A.Value(expr.right, env), depth)
            op = expr.op if truth else _NEGATED[expr.op]
            a.jump_if(_SIGNED.get(op, op), R1, R2, label)
        else:
            self.integer(value, depth)
            a.jump_if("!=" if truth else "==", R1, 0, label)

    def comm_equals(self, text: str, equal: bool, label: str) -> None:
        """Jump to `label` when (execname() == text) is `equal`."""
        a = self.a
        data = text.encode()
        if len(data) >= COMM_BYTES:  # a comm holds 15 characters: never equal
            if not equal:
                a.jump(label)
            return
        self.comm(_COMM)
        padded = data.ljust(COMM_BYTES, b"\0")
        differ = label if not equal else self.label("differ")
        for word in range(2):
            a.load(R1, FP, _COMM + 8 * word, 8)
            a.load_imm64(R2, int.from_bytes(padded[8 * word: 8 * word + 8], "little"))
            a.jump_if("!=", R1, R2, differ)
        if equal:
            a.jump(label)
            a.label(differ)


def _key_values(keys: list[A.Key]) -> list[A.Value]:
    """A stash statement's keys as values (its constants as literals)."""
    return [k.value if k.value is not None else A.Value(ast.NumberLiteral(k.constant, str(k.constant)), {}) for k in keys]


_NEGATED = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}
_SIGNED = {"<": "s<", "<=": "s<=", ">": "s>", ">=": "s>="}


# ---------------------------------------------------------------------------
# The runtime's tables (runtime_c/bpf_agg.h)


def tables(maps: list[AggMap], global_cname) -> str:
    """C for `stp_bpf_aggs[]`; `global_cname(decl)` is the C name of a global."""
    lines = []
    rows = []
    for agg in maps:
        if agg.stash_of is not None:
            kind = "STP_AGG_STASH_TASK" if agg.task_local else "STP_AGG_STASH_HASH"
            rows.append(f"\t{{.name = {c_literal(agg.name)}, .key_size = {agg.key_size}, .value_size = 8, "
                        f".entries = {agg.entries}, .stash = {kind}}},")
            continue
        update = agg.update
        keys = []
        for key, offset in zip(update.keys, agg.key_offsets):
            if isinstance(key.constant, str):
                keys.append(f"{{STP_AGG_KEY_STRING, 0, 0, {c_literal(key.constant)}}}")
            elif key.constant is not None:
                keys.append(f"{{STP_AGG_KEY_NUMBER, 0, {key.constant}LL, NULL}}")
            else:
                keys.append(f"{{STP_AGG_KEY_{'COMM' if key.comm else 'LONG'}, {offset}, 0, NULL}}")
        lines.append(f"static const struct stp_bpf_agg_key stp_{agg.name}_keys[] = {{{', '.join(keys) or '{0}'}}};")
        name = global_cname(update.target)
        if update.keys:
            target = f".array = &{name}"
        else:
            target = f".scalar = &{name}" if update.stat else f".counter = &{name}"
        rows.append(
            f"\t{{.name = {c_literal(agg.name)}, .key_size = {agg.key_size}, .value_size = {agg.value_size}, "
            f".entries = {agg.entries}, .stat = {int(update.stat)}, .buckets = {agg.buckets}, "
            f".keys = stp_{agg.name}_keys, .n_keys = {len(update.keys)}, {target}}},"
        )
    lines.append("static const struct stp_bpf_agg_map stp_bpf_aggs[] = {")
    lines += rows
    lines.append("};")
    return "\n".join(lines) + "\n"
