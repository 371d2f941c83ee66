"""Install-time step beside pyproject.toml: compile the C runtime into the package.

Building runtime_c/ into libstaprt.a takes seconds of CPU; done here, once, a user's
first script compiles only its own C file (engine/build/runtime_lib.py). The parser's
LALR tables (lark's analysis of grammar.lark, about a second) are built here too.
Everything else about the package is declared in pyproject.toml.
"""

import os
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithRuntime(build_py):
    """build_py, then the runtime library compiled from the copied runtime sources and
    the parser's tables from the copied grammar."""

    def run(self) -> None:
        super().run()
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from engine.build.runtime_lib import install_library
        from engine.parse.parser import install_tables

        self.announce(install_library(Path(self.build_lib) / "runtime_c"), level=2)
        self.announce(install_tables(Path(self.build_lib) / "engine" / "parse"), level=2)


setup(cmdclass={"build_py": BuildPyWithRuntime})
