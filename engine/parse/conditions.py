"""The values `%( ... %)` conditionals test, as stap computes them on this machine.

stap evaluates preprocessor conditions against the kernel it targets: `kernel_v` is
the release without its local suffix, `kernel_vr` the whole release, `arch` the
machine name, `runtime` "kernel" (stap's default runtime, which is what scripts and
tapsets test for; our user-space runtime implements that runtime's language),
`systemtap_v` the language version (4.8, the version of the reference stap),
`systemtap_privilege` "stapdev" (pystap runs scripts with full privilege), CONFIG_*
from the running kernel's configuration.
"""

from __future__ import annotations

import fnmatch
import functools
import gzip
import os
import platform
import re
from dataclasses import dataclass, field
from pathlib import Path

SYSTEMTAP_VERSION = "4.8"


@dataclass(frozen=True)
class Conditions:
    kernel_vr: str
    arch: str
    runtime: str = "kernel"
    systemtap_v: str = SYSTEMTAP_VERSION
    privilege: str = "stapdev"
    guru: bool = False
    config: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def runtime_dir(self) -> str:
        """The tapset subdirectory of this runtime (stap's "linux" for the kernel runtime)."""
        return "linux" if self.runtime == "kernel" else self.runtime

    @property
    def kernel_v(self) -> str:
        return self.kernel_vr.split("-", 1)[0]

    def key(self) -> str:
        """What a cached parse depends on, besides the file's own text."""
        return f"{self.kernel_vr}|{self.arch}|{self.runtime}|{self.systemtap_v}|{self.privilege}|{self.guru}"


def machine_conditions(guru: bool = False) -> Conditions:
    return Conditions(kernel_vr=os.uname().release, arch=_arch(), guru=guru, config=kernel_config())


def _arch() -> str:
    machine = platform.machine()
    return {"i686": "i386", "i586": "i386", "aarch64": "arm64", "armv7l": "arm"}.get(machine, machine)


@functools.cache
def kernel_config() -> dict[str, str]:
    """CONFIG_* values of the running kernel (from /proc/config.gz or /boot/config-*)."""
    text = ""
    proc = Path("/proc/config.gz")
    boot = Path("/boot") / f"config-{os.uname().release}"
    try:
        if proc.exists():
            text = gzip.decompress(proc.read_bytes()).decode(errors="replace")
        elif boot.exists():
            text = boot.read_text(errors="replace")
    except OSError:
        text = ""
    config = {}
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and name.startswith("CONFIG_"):
            config[name] = value.strip().strip('"')
    return config


def compare(op: str, left, right) -> bool:
    """Apply a preprocessor comparison to two numbers or two strings."""
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    if op == ">=":
        return left >= right
    raise ValueError(op)


def match_glob(op: str, value: str, pattern: str) -> bool | None:
    """`==`/`!=` against a wildcard pattern; None for other operators."""
    if op == "==":
        return fnmatch.fnmatchcase(value, pattern)
    if op == "!=":
        return not fnmatch.fnmatchcase(value, pattern)
    return None


_VERSION_PART = re.compile(r"(\d+)|(\D+)")


def version_key(version: str) -> tuple:
    """A sort key comparing versions like strverscmp: digit runs numerically."""
    return tuple((0, int(d), "") if d else (1, 0, s) for d, s in _VERSION_PART.findall(version))


def compare_versions(op: str, left: str, right: str) -> bool:
    glob = match_glob(op, left, right) if any(c in right for c in "*?[") else None
    if glob is not None:
        return glob
    return compare(op, version_key(left), version_key(right))
