"""Helpers shared by the test suite: kernel-feature requirements and the stap oracle."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
STAP_TAPSET_DIR = Path("/usr/share/systemtap/tapset")
STAP_EXAMPLES_DIR = Path("/usr/share/systemtap/examples")  # shipped by systemtap-doc


def require(condition: bool, what: str) -> None:
    """Skip when `what` is unavailable, but fail when STAPUI_REQUIRE_KERNEL is set (CI).

    CI runs as root on a machine with tracefs, uprobes and BPF; it sets the variable so
    a missing feature there is a failure, never a silent skip.
    """
    if condition:
        return
    if os.environ.get("STAPUI_REQUIRE_KERNEL"):
        pytest.fail(f"required for this test but unavailable: {what}")
    pytest.skip(f"unavailable: {what}")


def require_root() -> None:
    require(os.geteuid() == 0, "root privileges")


def require_tracefs() -> None:
    require(Path("/sys/kernel/tracing/events").is_dir(), "tracefs mounted at /sys/kernel/tracing")


def require_stap() -> None:
    """The real SystemTap translator is the oracle for passes 1-3."""
    require(shutil.which("stap") is not None, "SystemTap (apt-get install systemtap)")


def _oracle_tree() -> Path:
    """A minimal fake kernel build tree so stap starts without kernel headers."""
    release = os.uname().release
    tree = Path(tempfile.gettempdir()) / "stapui-oracle" / release / "build"
    if not (tree / "Module.symvers").exists():
        (tree / "include/config").mkdir(parents=True, exist_ok=True)
        (tree / "include/generated").mkdir(parents=True, exist_ok=True)
        config = Path("/proc/config.gz")
        if config.exists():
            import gzip

            (tree / ".config").write_bytes(gzip.decompress(config.read_bytes()))
        else:
            (tree / ".config").write_text("CONFIG_64BIT=y\n")
        (tree / "include/config/kernel.release").write_text(release + "\n")
        (tree / "include/generated/utsrelease.h").write_text(f'#define UTS_RELEASE "{release}"\n')
        (tree / "Module.symvers").write_text("")
    return tree


_ORACLE_NOISE = ("Kernel function symbol table missing", "README.Debian should help")


def stap_oracle(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the real stap (passes 1-3 only) the way ../shared/tools/stap-oracle does."""
    require_stap()
    proc = subprocess.run(
        ["stap", "-r", str(_oracle_tree()), *args],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
    )
    proc.stderr = "".join(
        line for line in proc.stderr.splitlines(keepends=True) if not any(n in line for n in _ORACLE_NOISE)
    )
    return proc
