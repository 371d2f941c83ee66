"""Where stapui's caches live: $XDG_CACHE_HOME/stapui/NAME.

Apart from os it imports nothing, because a cached rerun (engine/run/fastpath.py) asks
for its directory first and every import here would be paid by each start-up.
"""

from __future__ import annotations

import os


def cache_dir(name: str) -> str:
    """$XDG_CACHE_HOME/stapui/NAME, created, or a per-user temporary directory when the
    home directory cannot be written (daemon accounts such as nobody)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    root = os.path.join(base, "stapui", name)
    try:
        os.makedirs(root, exist_ok=True)
        if os.access(root, os.W_OK):
            return root
    except OSError:
        pass
    import tempfile  # only for the fallback

    fallback = os.path.join(tempfile.gettempdir(), f"stapui-{os.getuid()}", name)
    os.makedirs(fallback, mode=0o700, exist_ok=True)
    return fallback
