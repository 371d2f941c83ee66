"""User-space probes: process("PATH").function/.statement/.mark/.library, process.begin/end.

Each resolved probe records what the capture pipeline needs to attach it through
the uprobe PMU (perf_event_open with config1 = path, config2 = file offset; the
uretprobe bit for .return) and to check the binary is still the one elaborated
(its build-id): `data["path"]`, `data["offset"]`, `data["build_id"]`,
`data["semaphore_offset"]` for SDT markers with a semaphore, `data["pid"]` for
process(PID) probes (the binary is /proc/PID/exe; the runtime probes only that
process), and the original instruction bytes at the probe for explain(). Target variables resolve to
`engine.elaborate.dwarf_capture.Capture` recipes (or `PrettyPlan`s for `$var$`,
`$$vars` ...), carried in `TargetValue.capture`. process[("PATH")|(PID)].begin/.end
carry `data["process_lifecycle"]` ("begin"/"end") and the `path` or `pid` they match;
engine/translate/bpf/process_tracking.py captures them.
"""

from __future__ import annotations

import fnmatch
import math
import os
import re
import shlex
import shutil
from dataclasses import dataclass, replace

from engine.elaborate import dwarf as dwarfinfo
from engine.elaborate import elf as elfinfo
from engine.elaborate.dwarf_capture import (
    Capture,
    CaptureProblem,
    EntryString,
    Place,
    Planner,
    PrettyPlan,
    Step,
    component_token,
    spelled,
)
from engine.elaborate.probes.base import (
    DerivedProbe,
    ListedProbe,
    Match,
    ProbeProvider,
    ResolutionError,
    ResolveContext,
    TargetValue,
    TargetVar,
    register,
    similar,
)
from engine.parse.ast import CastOp, EntryOp, FunctionCall, Node, NumberLiteral, ProbePoint, TargetSymbol, Type

_FUNCTION_SUFFIXES = ("", ".call", ".return", ".inline", ".exported")


def _patterns() -> tuple[str, ...]:
    # bare: the -c/-x program; process(PID): that process only, named by its executable
    heads = ("process", "process(string)", "process(number)", "process(string).library(string)")
    shapes = ["process.begin", "process.end", "process(string).begin", "process(string).end",
              "process(number).begin", "process(number).end"]
    for head in heads:
        shapes += [f"{head}.function(string){suffix}" for suffix in _FUNCTION_SUFFIXES]
        shapes += [f"{head}.statement(string)", f"{head}.statement(number)", f"{head}.mark(string)",
                   f"{head}.provider(string).mark(string)"]
    return tuple(shapes)


@dataclass(eq=False)
class UprobeProbe(DerivedProbe):
    """A resolved process(...) probe with what its target variables resolve against."""

    planner: Planner | None = None  # DWARF function probes and statements
    sdt: elfinfo.SdtNote | None = None  # SDT markers
    image: elfinfo.ElfImage | None = None


class UprobeProvider(ProbeProvider):
    """process(...) probes, resolved against the binary's ELF symbols, DWARF and SDT notes."""

    family = "uprobe"
    description = "user-space functions, statements and SDT markers (uprobes), process.begin/end"
    patterns = _patterns()

    # -- resolution --------------------------------------------------------------------

    def resolve(self, point: ProbePoint, ctx: ResolveContext) -> list[DerivedProbe]:
        """Every pattern `point` matches (`process.*` is process.begin and process.end)."""
        return [derived for match in self.match(point) for derived in self._resolve(point, match, ctx)]

    def _resolve(self, point: ProbePoint, match: Match, ctx: ResolveContext) -> list[DerivedProbe]:
        if match.has("begin") or match.has("end"):
            return [self._lifecycle(point, match)]
        if match.args.get("process") is None:
            match = Match(match.pattern, {**match.args, "process": _target_program(point, ctx)})
        target = _Target.open(point, match)
        if match.has("function"):
            return target.functions(self, point, match)
        if match.has("statement"):
            return target.statements(self, point, match)
        return target.marks(self, point, match)

    def list(self, point: ProbePoint, ctx: ResolveContext) -> list[ListedProbe]:
        listed = {d.point: d for d in self.resolve(point, ctx)}
        return [ListedProbe(text, list(listed[text].target_vars.values()), self.family) for text in sorted(listed)]

    def _lifecycle(self, point: ProbePoint, match: Match) -> DerivedProbe:
        """process[("PATH")|(PID)].begin/.end, stap's task-finder probes: tracked from the
        scheduler's fork, exec and exit tracepoints and, for processes already running,
        /proc at start-up (engine/translate/bpf/process_tracking.py says exactly when
        each fires)."""
        from engine.translate.bpf.process_tracking import unavailable

        which = "begin" if match.has("begin") else "end"
        process = match.args.get("process")
        data = {"process_lifecycle": which}
        if isinstance(process, str):
            data["path"] = _lifecycle_program(process, point)
            text, matched = f'process("{data["path"]}").{which}', f"processes running {data['path']}"
        elif process is not None:
            if not os.path.isdir(f"/proc/{process}"):
                raise ResolutionError(f"cannot probe pid {process}: No such process", point.components[0])
            data["pid"] = process
            text, matched = f"process({process}).{which}", f"process {process}"
        else:
            text, matched = f"process.{which}", "every process"
        problem = unavailable()
        if problem is not None:
            raise ResolutionError(problem, point.components[0])
        mechanism = (f"{matched}: raw tracepoints sched_process_fork/exec/exit, matched in the runtime "
                     f"(executable inode, pid); processes running at start-up read from /proc")
        return self.derive(point, text, mechanism, data=data)

    # -- target variables ---------------------------------------------------------------

    def resolve_target(self, probe: DerivedProbe, expr: Node, ctx: ResolveContext, *, write: bool = False) -> TargetValue:
        if "process_lifecycle" in probe.data:
            raise ResolutionError('only "process(PATH_OR_PID).syscall" and "process(PATH_OR_PID).syscall.return" '
                                  "probes support target symbols", expr)
        if write:
            raise ResolutionError("writing to target variables is not supported by this runtime (uprobes are read-only)", expr)
        if isinstance(expr, EntryOp):
            if not probe.is_return:
                raise ResolutionError("@entry is allowed only in .return probes", expr)
            if isinstance(expr.operand, FunctionCall):  # @entry(user_string($ptr)): symbols._is_entry_string
                pointer = self.resolve_target(probe, expr.operand.args[0], ctx)
                if not isinstance(pointer.capture, Capture):
                    raise ResolutionError("user_string() needs an integer target value", expr.operand.args[0])
                capture = EntryString(replace(pointer.capture, at_entry=True))
                return TargetValue(Type.STRING, capture, f"@entry(user_string(...)): string at {capture.pointer.describe()}")
            expr = expr.operand
        if isinstance(expr, CastOp):
            return _cast(self, probe, expr, ctx)
        if not isinstance(expr, TargetSymbol):
            raise ResolutionError("unsupported target expression in a user-space probe", expr)
        try:
            value = _resolver(probe).resolve(expr)
        except CaptureProblem as problem:
            raise ResolutionError(str(problem), expr) from None
        if probe.is_return and expr.name not in ("$return", "$$return"):
            value = _at_entry(value, expr)  # stap: in .return probes $var means @entry($var)
        return value


def _cast(provider: UprobeProvider, probe: UprobeProbe, expr: CastOp, ctx: ResolveContext) -> TargetValue:
    """`@cast($ptr, "struct T" [, "MODULE"])->m`: the pointer is captured, then followed with T's layout."""
    if not isinstance(expr.operand, TargetSymbol) or expr.operand.pretty:
        raise ResolutionError("@cast of a value computed in the handler cannot be read at probe time; "
                              "cast a target variable such as $arg1", expr)
    pointer = provider.resolve_target(probe, expr.operand, ctx)
    if not isinstance(pointer.capture, Capture):
        raise ResolutionError("@cast needs an integer target value", expr.operand)
    module = expr.module or probe.data["path"]
    try:
        index = dwarfinfo.load_index(module)
    except elfinfo.ElfProblem as problem:
        raise ResolutionError(f"@cast module: {problem}", expr) from None
    type_offset = dwarfinfo.find_type(index, expr.type_name)
    if type_offset is None:
        raise ResolutionError(f"type definition '{expr.type_name}' not found in '{module}'", expr)
    planner = Planner(index, None, 0, probe.image.is_pie)
    place = Place(replace(pointer.capture, size=8, signed=False), True, type_offset)
    try:
        for component in expr.components:
            place = planner.member(place, component.name, "->") if component.kind == "member" else (
                planner.element(place, getattr(component.index, "value", 0)))
        text = f'@cast({spelled(expr.operand)}, "{expr.type_name}")' + spelled(expr)
        return _value(planner, place, expr.pretty, text)
    except CaptureProblem as problem:
        raise ResolutionError(str(problem), expr) from None


def _value(planner: Planner, place: Place, pretty: str, text: str) -> TargetValue:
    """The script-visible value of `place`: a long, or a pretty-printed string for `$`/`$$`."""
    if pretty:
        plan = PrettyPlan()
        _pretty(planner, place, pretty == "$$", plan, 0)
        return TargetValue(Type.STRING, plan, f"{text}{pretty}: {plan.text()}")
    capture = planner.final(place, text)
    return TargetValue(Type.LONG, capture, f"{text}: {capture.describe()}")


def _at_entry(value: TargetValue, expr: TargetSymbol) -> TargetValue:
    """The same value, captured when the function is entered (by the paired entry uprobe)."""
    if isinstance(value.capture, Capture):
        capture = replace(value.capture, at_entry=True)
        return TargetValue(value.type, capture, f"{spelled(expr)}: {capture.describe()}")
    if isinstance(value.capture, PrettyPlan):
        items = [i if isinstance(i, str) else (replace(i[0], at_entry=True), i[1]) for i in value.capture.items]
        return TargetValue(value.type, PrettyPlan(items), "at entry: " + value.description)
    return value


# ---------------------------------------------------------------------------
# One probed binary


@dataclass
class _Target:
    path: str  # the executable as stap prints it (absolute)
    binary: str  # the file probed (the executable or the .library)
    library: str | None
    image: elfinfo.ElfImage
    point: ProbePoint  # for locating errors
    pid: int = 0  # process(PID): only that process is probed

    @classmethod
    def open(cls, point: ProbePoint, match: Match) -> "_Target":
        process = match.args.get("process")
        pid = process if isinstance(process, int) else 0
        path = _program_of(pid, point) if pid else _find_program(process, point)
        binary, library = path, match.args.get("library")
        if library is not None:
            found = elfinfo.resolve_library(_read(path, point), library)
            if not found:
                raise ResolutionError(f"no library matching '{library}' is needed by {path}", point.components[1])
            binary = found[0]
        return cls(path, binary, library, _read(binary, point), point, pid)

    def head(self) -> str:
        """stap names a process(PID) probe by the process's executable too."""
        text = f'process("{self.path}")'
        return text + (f'.library("{self.binary}")' if self.library is not None else "")

    def index(self) -> dwarfinfo.DebugIndex:
        try:
            return dwarfinfo.load_index(self.binary)
        except (dwarfinfo.DebugInfoProblem, elfinfo.ElfProblem) as problem:
            raise ResolutionError(str(problem), self.point.components[0]) from None

    def base_data(self, address: int) -> dict:
        image = self.image
        return {
            "path": self.binary,
            "build_id": image.build_id,
            "address": f"0x{address:x}",
            "offset": image.file_offset(address),
            "pc": _pc_comment(image, address),
            "instruction": image.read_at(address, 8).hex(" "),
            **({"pid": self.pid} if self.pid else {}),
        }

    def mechanism(self, how: str) -> str:
        return f"{how}, only in process {self.pid}" if self.pid else how

    # -- .function --------------------------------------------------------------------

    def functions(self, provider: UprobeProvider, point: ProbePoint, match: Match) -> list[DerivedProbe]:
        pattern = match.args["function"]
        suffix = next((s for s in _FUNCTION_SUFFIXES[1:] if match.has(s[1:])), "")
        index = self.index()
        self._require_symbols(index, point)
        chosen = _select_functions(index, pattern, suffix)
        if not chosen and "*" not in pattern and "?" not in pattern:
            names = sorted({name for f in index.functions for name in (f.name, *f.aliases)})
            near = similar(_function_part(pattern), names)
            hint = f" (similar functions: {', '.join(near)})" if near else ""
            raise ResolutionError(f"no match{hint}", _component(point, "function"))
        return _listed_like_stap([self._function_probe(provider, point, index, f, suffix) for f in chosen])

    def _require_symbols(self, index: dwarfinfo.DebugIndex, point: ProbePoint) -> None:
        if index.has_dwarf or index.functions:
            return
        tried = ", ".join(elfinfo.debug_file_candidates(self.image)) or "no build-id or debug link to search by"
        raise ResolutionError(
            f"{self.binary} has no symbols and no debug information "
            f"(stripped; no .debug_info section, separate debug file not found: {tried})",
            point.components[0],
        )

    def _function_probe(self, provider, point, index, function: dwarfinfo.DwarfFunction, suffix: str) -> DerivedProbe:
        text = f'{self.head()}.function("{function.qualified}"){suffix}'
        is_return = suffix == ".return"
        address = function.low_pc if is_return else function.pc
        data = self.base_data(address)
        data["function"] = function.qualified
        if is_return:  # where the companion probe captures the entry values ($var, @entry)
            data["entry_offset"] = self.image.file_offset(function.pc)
            data["entry_address"] = f"0x{function.pc:x}"
        planner = Planner(index, function, function.pc, self.image.is_pie)
        variables = _function_variables(index, function, is_return)
        mechanism = self.mechanism("uretprobe (uprobe PMU, retprobe bit)" if is_return else "uprobe (uprobe PMU)")
        return UprobeProbe(text, provider.family, mechanism, provider, location=point, target_vars=variables,
                           is_return=is_return, data=data, planner=planner, image=self.image)

    # -- .statement -------------------------------------------------------------------

    def statements(self, provider: UprobeProvider, point: ProbePoint, match: Match) -> list[DerivedProbe]:
        spec = match.args["statement"]
        index = self.index()
        if isinstance(spec, int):
            function = _function_at(index, spec)
            return [self._statement_probe(provider, point, index, function, spec, f"statement(0x{spec:x})")]
        self._require_symbols(index, point)
        name, file_pattern, lines = _split_location(spec, point)
        functions = [f for f in _select_functions(index, f"{name}@{file_pattern}", "") if not f.inlined]
        probes = []
        for function in functions:
            rows = index.function_lines(function)
            for line in lines.chosen(index, function, rows):
                text = f'statement("{function.name}@{rows[line].file}:{line}")'
                probes.append(self._statement_probe(provider, point, index, function, rows[line].address, text))
        if not probes:
            raise _no_lines(index, name, file_pattern, lines, functions, _component(point, "statement"))
        return probes

    def _statement_probe(self, provider, point, index, function, address: int, text: str) -> DerivedProbe:
        data = self.base_data(address)
        variables: dict[str, TargetVar] = {}
        planner = None
        if function is not None:
            data["function"] = function.qualified
            planner = Planner(index, function, address, self.image.is_pie)
            variables = _variables_at(index, function, address)
        return UprobeProbe(f"{self.head()}.{text}", provider.family, self.mechanism("uprobe (uprobe PMU)"), provider,
                           location=point, target_vars=variables, data=data, planner=planner, image=self.image)

    # -- .mark --------------------------------------------------------------------------

    def marks(self, provider: UprobeProvider, point: ProbePoint, match: Match) -> list[DerivedProbe]:
        name_pattern = match.args["mark"]
        provider_pattern = match.args.get("provider") or "*"
        probes = []
        for note in self.image.sdt_notes:
            if not (fnmatch.fnmatchcase(note.name, name_pattern) and fnmatch.fnmatchcase(note.provider, provider_pattern)):
                continue
            probes.append(self._mark_probe(provider, point, note))
        if not probes and not self.image.sdt_notes:
            raise ResolutionError(f"{self.binary} has no SDT markers (no .note.stapsdt section)", _component(point, "mark"))
        return probes

    def _mark_probe(self, provider, point, note: elfinfo.SdtNote) -> DerivedProbe:
        data = self.base_data(note.pc)
        data["provider"] = note.provider
        data["name"] = note.name
        data["args"] = " ".join(a.spec for a in note.args)
        if note.semaphore:
            data["semaphore_offset"] = self.image.file_offset(note.semaphore)
        variables = {f"$arg{i}": TargetVar(f"$arg{i}", "long") for i in range(1, len(note.args) + 1)}
        text = f'{self.head()}.mark("{note.name}")'
        semaphore = " (semaphore incremented while attached)" if note.semaphore else ""
        mechanism = self.mechanism("uprobe on SDT marker" + semaphore)
        return UprobeProbe(text, provider.family, mechanism, provider, location=point, target_vars=variables,
                           data=data, sdt=note, image=self.image)


def _listed_like_stap(probes: list[UprobeProbe]) -> list[UprobeProbe]:
    """Probes with the same text (inline copies, one static function per unit) show the
    variables of the last one in -L, as stap's listing keeps the last it derived."""
    last = {p.point: p.target_vars for p in probes}
    for probe in probes:
        probe.target_vars = last[probe.point]
    return probes


def _read(path: str, point: ProbePoint) -> elfinfo.ElfImage:
    try:
        return elfinfo.read_image(path)
    except elfinfo.ElfProblem as problem:
        raise ResolutionError(f"cannot probe {path}: {problem}", point.components[0]) from None


def _lifecycle_program(name: str, point: ProbePoint) -> str:
    """process("PATH").begin/.end: found as for other probes, but, as in stap, a file
    that does not exist (yet) is no error: no process will match it."""
    if "/" in name and not os.path.exists(name):
        return os.path.abspath(name)
    return _find_program(name, point)


def _program_of(pid: int, point: ProbePoint) -> str:
    """process(PID): the executable the process runs, as stap finds it."""
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        raise ResolutionError(f"cannot probe pid {pid}: No such process", point.components[0]) from None


def _find_program(name: str, point: ProbePoint) -> str:
    """stap's lookup: absolute/relative paths as given, bare names through $PATH."""
    if "/" not in name:
        found = shutil.which(name)
        if found is None:
            raise ResolutionError(f"cannot find executable '{name}' in $PATH", point.components[0])
        return os.path.realpath(found)
    path = os.path.abspath(name)
    if not os.path.exists(path):
        raise ResolutionError(f"cannot probe {path}: No such file or directory", point.components[0])
    return os.path.realpath(path)  # stap names the file itself, not a symlink to it


def cache_dependencies(program, options) -> dict | None:
    """What a cached build of `program` depends on beyond the script and options: the
    probed files (path, size, mtime) and, for an unspecified process probe, -c/-x.
    None when it has no process probes (the start-up fast path checks this)."""
    files = sorted({d.data["path"] for p in program.probes for d in p.derived if d.family == "uprobe" and "path" in d.data})
    if not files:
        return None
    return {"files": [_stamp(f) for f in files], "command": options.command, "target_pid": options.target_pid}


def dependencies_changed(depends: dict | None, options) -> bool:
    """True when a build recorded with `depends` must be translated again."""
    if depends is None:
        return False
    if (depends["command"], depends["target_pid"]) != (options.command, options.target_pid):
        return True
    return any(_stamp(entry[0]) != entry for entry in depends["files"])


def _stamp(path: str) -> list:
    try:
        st = os.stat(path)
    except OSError:
        return [path, -1, -1]
    return [path, st.st_size, st.st_mtime_ns]


def _target_program(point: ProbePoint, ctx: ResolveContext) -> str:
    """An unspecified process probe means the -c command's program (its first word; no
    shell syntax, as stap requires) or the -x process's executable."""
    options = ctx.options
    if options.command and not any(c in options.command for c in "|&;<>(){}"):
        return shlex.split(options.command)[0]
    if options.target_pid:
        try:
            return os.readlink(f"/proc/{options.target_pid}/exe")
        except OSError as error:
            raise ResolutionError(f"cannot find the program of process {options.target_pid}: {error.strerror}",
                                  point.components[0]) from None
    raise ResolutionError("unspecified process probe is invalid without a -c COMMAND or -x PID [man stapprobes]",
                          point.components[0])


def _pc_comment(image: elfinfo.ElfImage, address: int) -> str:
    """How stap's -p2 shows the address: relative to .dynamic (PIE) or the first segment."""
    if image.is_pie:
        return f".dynamic+0x{address:x}"
    base = min((s.vaddr for s in image.segments), default=0)
    return f".absolute+0x{address - base:x}"


def _component(point: ProbePoint, functor: str):
    return next((c for c in point.components if c.functor == functor), point.components[0])


def _function_part(pattern: str) -> str:
    return pattern.split("@", 1)[0]


@dataclass(frozen=True)
class _Lines:
    """The line part of a statement probe, as stapprobes(3stap) describes it: `:N`, a
    range `:N-M`, a list `:N,M-K`, every line `:*` (numbers None), or `+N`, relative to
    the function's declaration line."""

    text: str
    numbers: frozenset[int] | None
    relative: bool = False

    def chosen(self, index, function: dwarfinfo.DwarfFunction, rows: dict) -> list[int]:
        """The lines probed in `function` (`rows`: its lines with code), one per address:
        where lines share their first instruction the lowest is kept, as stap keeps it.
        `:*` starts at the line stap gives the function's entry (its last row there),
        so the lines whose code the entry shares with it are left out."""
        if self.numbers is None:
            start = index.entry_line(function) or min(rows, default=0)
            wanted = [n for n in sorted(rows) if n >= start]
        else:
            shift = (function.decl_line or 0) if self.relative else 0
            wanted = sorted(n + shift for n in self.numbers if n + shift in rows)
        seen: set[int] = set()
        kept = []
        for line in wanted:
            if rows[line].address not in seen:
                seen.add(rows[line].address)
                kept.append(line)
        return kept



def _no_lines(index, name: str, file_pattern: str, lines: _Lines, functions: list, where) -> ResolutionError:
    """Why a statement probe matched nothing, with the nearest lines that have code."""
    if not functions:
        return ResolutionError(f"no function matches '{name}' in {file_pattern}", where)
    if lines.numbers is None:
        return ResolutionError(f"no line records for {file_pattern}{lines.text}", where)
    first = min(lines.numbers) + ((functions[0].decl_line or 0) if lines.relative else 0)
    with_code = {r.line for r in index.lines if dwarfinfo.file_matches(r.file, file_pattern)}
    near = sorted(with_code, key=lambda n: abs(n - first))[:3]
    hint = f" (try: {', '.join(f':{n}' for n in sorted(near))})" if near else ""
    return ResolutionError(f"no line records for {file_pattern}{lines.text}{hint}", where)


_LOCATION = re.compile(r"(?P<file>.*?)(?:(?P<sep>[:+])(?P<lines>[^:+]*))?")


def _split_location(spec: str, point: ProbePoint) -> tuple[str, str, _Lines]:
    """`FUNC@FILE:LINES` or `FUNC@FILE+N` -> (FUNC, FILE, lines); FUNC and FILE default to `*`."""
    name, _, where = spec.partition("@")
    found = _LOCATION.fullmatch(where)
    file_pattern, sep, text = found["file"], found["sep"], found["lines"]
    if sep is None:
        raise ResolutionError(f"statement probe '{spec}' needs a FILE:LINE location", _component(point, "statement"))
    return name or "*", file_pattern or "*", _parse_lines(sep, text, point)


def _parse_lines(sep: str, text: str, point: ProbePoint) -> _Lines:
    if sep == "+":
        if not text.isdigit():
            raise ResolutionError(f"unsupported line specification '+{text}' (a relative line is +NUMBER)",
                                  _component(point, "statement"))
        return _Lines(f"+{text}", frozenset({int(text)}), relative=True)
    if text == "*":
        return _Lines(":*", None)
    numbers: set[int] = set()
    for part in text.split(","):
        low, dash, high = part.partition("-")
        if not low.isdigit() or (dash and not high.isdigit()) or (dash and int(high) < int(low)):
            raise ResolutionError(f"unsupported line specification ':{text}' (lines are N, N-M, N,M-K or *)",
                                  _component(point, "statement"))
        numbers.update(range(int(low), int(high or low) + 1))
    return _Lines(f":{text}", frozenset(numbers))


def _select_functions(index: dwarfinfo.DebugIndex, pattern: str, suffix: str) -> list[dwarfinfo.DwarfFunction]:
    """Functions matching `NAME[@FILE[:LINE]]`, in DWARF order, honouring .call/.inline."""
    name, _, where = pattern.partition("@")
    file_pattern, _, line = where.partition(":")
    chosen = []
    for function in index.functions:
        if not function.named(name or "*"):
            continue
        if file_pattern and (function.decl_file is None or not dwarfinfo.file_matches(function.decl_file, file_pattern)):
            continue
        if line.isdigit() and function.decl_line != int(line):
            continue
        if _inlining_excludes(function, suffix):
            continue
        if suffix == ".exported" and not function.exported:
            continue
        chosen.append(function)
    return _one_per_address(chosen, name or "*")


def _inlining_excludes(function: dwarfinfo.DwarfFunction, suffix: str) -> bool:
    """.inline takes inlined instances, .call and .return the others; a function known
    only from the symbol table could be either, and stap offers it for all three."""
    if suffix not in (".inline", ".call", ".return") or not function.has_dwarf:
        return False
    return (suffix == ".inline") != function.inlined


def _one_per_address(functions: list[dwarfinfo.DwarfFunction], name: str) -> list[dwarfinfo.DwarfFunction]:
    """One probe per function entry, as stap's alias_dupes keeps: the first function
    matched at an address wins over its aliases (`*malloc` without debug information
    is `malloc`, not also `__libc_malloc`), and among DWARF functions sharing an address
    the one stap's cache yields first for `name`; inlined copies are told apart by site."""
    seen: dict = {}
    unique = []
    for function in functions:
        key = (function.qualified, function.pc) if function.inlined else function.low_pc
        if key in seen and _cache_rank(function, name) < _cache_rank(unique[seen[key]], name):
            unique[seen[key]] = function
        if key not in seen:
            seen[key] = len(unique)
            unique.append(function)
    return unique


def _cache_rank(function: dwarfinfo.DwarfFunction, name: str) -> float:
    """Where stap's function cache first yields `function` for the glob `name` (inf:
    nowhere, or it shares its address with no other function of its unit)."""
    return min((position for position, entry in function.cache_entries if fnmatch.fnmatchcase(entry, name)),
               default=math.inf)


def _function_at(index: dwarfinfo.DebugIndex, address: int) -> dwarfinfo.DwarfFunction | None:
    for function in index.functions:
        if function.low_pc <= address < function.high_pc and not function.inlined:
            return function
    return None


def _variables_at(index: dwarfinfo.DebugIndex, function: dwarfinfo.DwarfFunction, pc: int,
                  blocks: bool = True) -> dict[str, TargetVar]:
    """The variables readable at `pc`: a statement probe offers those of every scope
    there (`blocks`); a function probe only the function's own, as stap looks at the
    scopes around the function's DIE and not into its blocks, even one that starts at
    the entry (an inlined malloc_init_state's loop counter)."""
    variables = {}
    for variable in function.variables:
        if not blocks and variable.scope is not None:
            continue
        if variable.available_at(pc) and f"${variable.name}" not in variables:
            variables[f"${variable.name}"] = TargetVar(f"${variable.name}", variable.type_name)
    return variables


def _function_variables(index, function: dwarfinfo.DwarfFunction, is_return: bool) -> dict[str, TargetVar]:
    variables = _variables_at(index, function, function.pc, blocks=False)
    if is_return and function.return_type is not None:
        variables["$return"] = TargetVar("$return", function.return_type_name)
    return variables


# ---------------------------------------------------------------------------
# Resolving $expressions


def _resolver(probe: UprobeProbe) -> "_SdtResolver | _DwarfResolver":
    if probe.sdt is not None:
        return _SdtResolver(probe)
    if probe.planner is None or not probe.planner.function.has_dwarf:
        raise CaptureProblem(f"no debug information for target variables at {probe.point}")
    return _DwarfResolver(probe)


class _DwarfResolver:
    def __init__(self, probe: UprobeProbe):
        self.probe = probe
        self.planner: Planner = probe.planner

    def resolve(self, expr: TargetSymbol) -> TargetValue:
        name = expr.name
        if name.startswith("$$"):
            return self._context_list(expr)
        if name == "$return":
            return self._return(expr)
        variable = self.planner.variable(name[1:])
        place = self._follow(self.planner.place_of(variable), expr)
        return _value(self.planner, place, expr.pretty, expr.name if expr.pretty else spelled(expr))

    def _follow(self, place: Place, expr: TargetSymbol) -> Place:
        """Apply `->name` / `[n]`; errors point at the operator, as stap's do."""
        for component in expr.components:
            try:
                place = self._component(place, component)
            except CaptureProblem as problem:
                raise ResolutionError(str(problem), component, component_token(component)) from None
        return place

    def _component(self, place: Place, component) -> Place:
        if component.kind == "member":
            return self.planner.member(place, component.name, "->")
        if isinstance(component.index, NumberLiteral):
            return self.planner.element(place, component.index.value)
        raise CaptureProblem("array index must be a literal number for a value captured at probe time")

    def _return(self, expr: TargetSymbol) -> TargetValue:
        function = self.planner.function
        if not self.probe.is_return or function.return_type is None:
            raise CaptureProblem(self.planner.missing_local("return"))
        place = Place(Capture("rax"), False, function.return_type)
        capture = self.planner.final(self._follow(place, expr), "$return")
        return TargetValue(Type.LONG, capture, f"$return: {capture.describe()}")

    def _context_list(self, expr: TargetSymbol) -> TargetValue:
        which = expr.name[2:]
        planner = self.planner
        wanted = [v for v in planner.function.variables if v.available_at(planner.pc)]
        if which == "parms":
            wanted = [v for v in wanted if v.is_param]
        elif which == "locals":
            wanted = [v for v in wanted if not v.is_param]
        elif which == "return":
            wanted = []
        elif which != "vars":
            raise CaptureProblem(f"unknown context variable '{expr.name}'")
        plan = PrettyPlan()
        for variable in wanted:
            plan.items.append((" " if plan.items else "") + f"{variable.name}=")
            place = planner.place_of(variable)
            if expr.pretty:
                _pretty(planner, place, expr.pretty == "$$", plan, 0)
            else:
                _hex_or_struct(planner, place, plan)
        if which == "return" and self.probe.is_return and planner.function.return_type is not None:
            plan.items += ["return=", (Capture("rax", size=planner.size_of(planner.function.return_type)), "%#x")]
        return TargetValue(Type.STRING, plan, f"{expr.name}{expr.pretty}: {plan.text()}")


def _hex_or_struct(planner: Planner, place: Place, plan: PrettyPlan) -> None:
    """$$vars without `$`: integers and pointers in hex, aggregates as `{...}` (stap's shape)."""
    from engine.elaborate.dwarf import strip_typedefs

    t = strip_typedefs(planner.types, place.type)
    if t is not None and t.tag in ("structure_type", "union_type", "class_type", "array_type"):
        plan.items.append("{...}")
        return
    plan.items.append((planner.final(place, ""), "%#x"))


def _pretty(planner: Planner, place: Place, deep: bool, plan: PrettyPlan, depth: int) -> None:
    """stap's `$var$` rendering: structs as `{.a=1, .b=0x...}`, char pointers as quoted strings."""
    from engine.elaborate.dwarf import strip_typedefs

    t = strip_typedefs(planner.types, place.type)
    if t is not None and t.tag in ("structure_type", "union_type", "class_type"):
        if depth > 2:
            plan.items.append("{...}")
            return
        plan.items.append("{")
        for i, (name, _, _) in enumerate(m for m in t.members if m[0]):
            plan.items.append((", " if i else "") + f".{name}=")
            _pretty(planner, planner.member(place, name, "."), deep, plan, depth + 1)
        plan.items.append("}")
        return
    if t is not None and t.tag == "array_type":
        plan.items.append("[...]")
        return
    if t is not None and t.tag == "pointer_type" and (deep or depth == 0):
        target = strip_typedefs(planner.types, t.target)
        if target is not None and target.tag in ("structure_type", "union_type", "class_type"):
            _pretty(planner, Place(planner.final(place, ""), True, t.target), deep, plan, depth + 1)
            return
    if planner.is_char_pointer(place.type) and (deep or depth == 0):
        plan.items.append((planner.final(place, ""), "string"))
        return
    fmt = "%#x" if t is None or t.tag == "pointer_type" else "%d"
    plan.items.append((planner.final(place, ""), fmt))


class _SdtResolver:
    """`$argN`, `$$name`, `$$provider`, `$$parms` of an SDT marker."""

    def __init__(self, probe: UprobeProbe):
        self.probe = probe
        self.note: elfinfo.SdtNote = probe.sdt

    def resolve(self, expr: TargetSymbol) -> TargetValue:
        name = expr.name
        if name in ("$$name", "$$provider"):
            return TargetValue(Type.STRING, self.note.name if name == "$$name" else self.note.provider, "constant")
        if name in ("$$parms", "$$vars"):
            plan = PrettyPlan()
            for i, arg in enumerate(self.note.args, 1):
                plan.items += [(" " if i > 1 else "") + f"arg{i}=", (self._capture(arg), "%#x")]
            return TargetValue(Type.STRING, plan, f"{name}: {plan.text()}")
        number = name[4:] if name.startswith("$arg") else ""
        if not number.isdigit() or not 1 <= int(number) <= len(self.note.args):
            raise CaptureProblem(
                f"target variable '{name}' not found: marker '{self.note.name}' has {len(self.note.args)} arguments"
            )
        if expr.components or expr.pretty:
            raise CaptureProblem(f"'{name}' of an SDT marker is a plain long; use @cast to reach members")
        capture = self._capture(self.note.args[int(number) - 1])
        return TargetValue(Type.LONG, capture, f"{name} ({self.note.args[int(number) - 1].spec}): {capture.describe()}")

    def _capture(self, arg: elfinfo.SdtArg) -> Capture:
        if arg.kind == "register":
            return Capture(arg.register, size=arg.size, signed=arg.signed)
        if arg.kind == "constant":
            return Capture(None, arg.offset, size=arg.size, signed=arg.signed)
        if arg.index is not None:
            raise CaptureProblem(f"indexed SDT argument '{arg.spec}' is not supported")
        load = Step("load", arg.size, arg.signed)
        if arg.register == "rip" and arg.symbol:
            symbol = self.probe.image.symbol_named(arg.symbol)
            if symbol is None:
                raise CaptureProblem(f"SDT argument '{arg.spec}' names unknown symbol '{arg.symbol}'")
            return Capture(None, symbol.address + arg.offset, load_base=self.probe.image.is_pie, steps=(load,),
                           size=arg.size, signed=arg.signed)
        return Capture(arg.register, arg.offset, steps=(load,), size=arg.size, signed=arg.signed)


register(UprobeProvider())
