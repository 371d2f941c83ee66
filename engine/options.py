"""stap's command-line options, shared by pystap and stapui (re-exported by engine/session.py).

A plain class rather than a dataclass: pystap builds one first thing, to find out whether a
cached build can run at once (engine/run/fastpath.py), and importing dataclasses (with the
inspect, re and enum modules it pulls in) would cost every such start-up about 15 ms.
"""

from __future__ import annotations


class Options:
    """One value per option; the defaults are stap's."""

    def __init__(
        self,
        *,
        script_file: str | None = None,  # FILE, or "-" for stdin
        script_text: str | None = None,  # -e SCRIPT
        args: list[str] | None = None,  # $1 ... / @1 ...
        last_pass: int = 5,  # -p N
        verbose: int = 0,  # -v (repeatable)
        guru: bool = False,  # -g
        include_dirs: list[str] | None = None,  # -I DIR
        defines: dict[str, str] | None = None,  # -D NAME[=VALUE]
        global_settings: dict[str, str] | None = None,  # -G name=value
        keep_tmp: bool = False,  # -k
        target_pid: int | None = None,  # -x PID
        command: str | None = None,  # -c CMD
        output_file: str | None = None,  # -o FILE
        timeout: float | None = None,  # -T SECONDS
        unoptimized: bool = False,  # -u
        suppress_warnings: bool = False,  # -w
        timing: bool = False,  # -t (per-probe statistics)
        monitor: bool = False,  # --monitor (periodic global snapshots)
        flight_recorder: bool = False,  # -F
        buffer_mb: int | None = None,  # -s MB
        module_name: str | None = None,  # -m NAME
        tmp_dir: str | None = None,
    ) -> None:
        self.script_file = script_file
        self.script_text = script_text
        self.args = [] if args is None else args
        self.last_pass = last_pass
        self.verbose = verbose
        self.guru = guru
        self.include_dirs = [] if include_dirs is None else include_dirs
        self.defines = {} if defines is None else defines
        self.global_settings = {} if global_settings is None else global_settings
        self.keep_tmp = keep_tmp
        self.target_pid = target_pid
        self.command = command
        self.output_file = output_file
        self.timeout = timeout
        self.unoptimized = unoptimized
        self.suppress_warnings = suppress_warnings
        self.timing = timing
        self.monitor = monitor
        self.flight_recorder = flight_recorder
        self.buffer_mb = buffer_mb
        self.module_name = module_name
        self.tmp_dir = tmp_dir

    def replace(self, **changes) -> Options:
        """A copy with `changes` applied (as dataclasses.replace: lists and dicts shared)."""
        return Options(**{**vars(self), **changes})

    def __eq__(self, other: object) -> bool:
        return type(other) is Options and vars(self) == vars(other)

    __hash__ = None  # mutable, as the dataclass it was

    def __repr__(self) -> str:
        return "Options(" + ", ".join(f"{name}={value!r}" for name, value in vars(self).items()) + ")"
