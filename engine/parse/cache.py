"""The parse cache for library files: in memory, and pickled under the XDG cache dir.

A parse depends only on the file's text, the preprocessor's conditions and the
library macros in scope, so those, hashed, are the key: an edited file or a new
kernel simply misses. Pickles are written atomically (temporary file + rename) so
concurrent runs never read half a file; an unreadable entry is a miss.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
from pathlib import Path

from engine.parse import ast
from engine.parse.conditions import Conditions

FORMAT_VERSION = "3"


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).absolute() / "stapui" / "parse"


class ParseCache:
    _default: "ParseCache | None" = None

    def __init__(self, directory: Path | None):
        self.directory = directory
        self.memory: dict[str, object] = {}
        self.hits = 0
        self.misses = 0

    @classmethod
    def default(cls) -> "ParseCache":
        if cls._default is None:
            cls._default = cls(cache_root())
        return cls._default

    def key(self, path: Path, data: bytes, conditions: Conditions, macros_digest: str) -> str:
        """The entry's name. The path counts too: a parse's nodes and tokens name their file."""
        digest = hashlib.sha256(data)
        digest.update(f"\0{FORMAT_VERSION}\0{conditions.key()}\0{macros_digest}\0{path}".encode())
        return digest.hexdigest()

    def parse(
        self, path: Path, conditions: Conditions, macros: dict, macros_digest: str = "", data: bytes | None = None
    ) -> ast.StapFile:
        """The parsed tapset file at `path` (whose bytes may be given), from the cache when known."""
        from engine.parse import parse_text

        data = Path(path).read_bytes() if data is None else data
        key = self.key(path, data, conditions, macros_digest)
        hit = self.load(key)
        if hit is not None:
            self.hits += 1
            return hit
        self.misses += 1
        stapfile = parse_text(
            data.decode("utf-8", "surrogateescape"), str(path), is_tapset=True, conditions=conditions, macros=macros
        )
        self.store(key, stapfile)
        return stapfile

    def load(self, key: str):
        """The entry stored under `key` (kept in memory once read), or None."""
        hit = self.memory.get(key) or self._load(key)
        if hit is not None:
            self.memory[key] = hit
        return hit

    def store(self, key: str, value) -> None:
        self.memory[key] = value
        self._store(key, value)

    def macros(self, path: Path, conditions: Conditions) -> dict:
        """The macros a .stpm file defines, from the cache when its content is known."""
        from engine.parse import parse_with_macros

        data = Path(path).read_bytes()
        key = self.key(path, data, conditions, "macros")
        hit = self.load(key)
        if hit is not None:
            return hit
        text = data.decode("utf-8", "surrogateescape")
        macros = parse_with_macros(text, str(path), is_tapset=True, conditions=conditions)[1]
        self.store(key, macros)
        return macros

    def _path(self, key: str) -> Path | None:
        return self.directory / key[:2] / (key + ".pickle") if self.directory else None

    def _load(self, key: str):
        path = self._path(key)
        return None if path is None else read_pickle(path)

    def _store(self, key: str, stapfile) -> None:
        path = self._path(key)
        if path is not None:
            write_pickle(path, stapfile)


def read_pickle(path: Path):
    """The object pickled at `path`, or None if it is missing or unreadable."""
    try:
        with open(path, "rb") as handle:
            return pickle.load(handle)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, ValueError, TypeError):
        return None


def write_pickle(path: Path, value) -> None:
    """Pickle `value` at `path` atomically (temporary file + rename); a failure only costs speed."""
    limit = sys.getrecursionlimit()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        sys.setrecursionlimit(max(limit, 20000))  # deep expression trees
        with open(temporary, "wb") as handle:
            pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)
    except (OSError, RecursionError, pickle.PicklingError):
        return
    finally:
        sys.setrecursionlimit(limit)
