"""Private files of the gateway: a 0700 directory, 0600 files, atomic replacement."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (mode 0700) if needed and tighten it if it already existed."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def write_private_json(path: Path, data: Any) -> None:
    """Atomically replace ``path`` with ``data`` as JSON; the file is 0600 from creation on.

    The temporary file is created with ``O_EXCL`` and mode 0600, so the content is never
    readable by others, not even for a moment; ``os.replace`` makes the switch atomic.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, separators=(",", ":"), sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_json(path: Path) -> Any | None:
    """The JSON content of ``path``, or ``None`` if it is missing or unreadable as JSON."""
    try:
        with open(path, encoding="utf-8") as src:
            return json.load(src)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None
