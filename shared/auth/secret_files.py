"""Platform secrets kept in 0600 files of the local state directory.

``ensure_secret_file`` creates the file exclusively (``O_EXCL``, mode 0600), so two processes
starting at once cannot both write one: the loser reads the winner's value.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def ensure_secret_file(path: Path) -> str:
    """The secret stored in ``path``; a new random one (0600, created exclusively) if absent."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(32))
    return _read(path)


def _read(path: Path) -> str:
    value = path.read_text().strip()
    if not value:
        raise RuntimeError(f"{path} is empty; delete it to generate a new secret")
    return value
