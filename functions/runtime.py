"""The process-wide ``Platform`` shared by every function entry point in this process.

Built lazily on first use from ``Settings.from_env()`` (so importing an entry point never
touches the environment or the network), or installed explicitly with ``set_platform`` by
tests and by the local platform, which wires its own adapters.
"""

from __future__ import annotations

import threading

from shared.bootstrap import Platform, bootstrap
from shared.settings import Settings

_lock = threading.Lock()
_platform: Platform | None = None


def get_platform() -> Platform:
    global _platform
    with _lock:
        if _platform is None:
            _platform = bootstrap(Settings.from_env())
        return _platform


def set_platform(platform: Platform | None) -> None:
    """Install ``platform`` (``None`` to forget it; the next ``get_platform`` rebuilds)."""
    global _platform
    with _lock:
        _platform = platform
