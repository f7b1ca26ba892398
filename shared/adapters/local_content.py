"""Content packs as files: ``<state dir>/content/<workshop id>.zip``, 0600 in a 0700 directory.

Writes are atomic (temp file in the same directory, fsync, rename).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from shared.ports.content import ContentStore

WORKSHOP_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def check_workshop_id(workshop_id: str) -> str:
    if not isinstance(workshop_id, str) or not WORKSHOP_ID.fullmatch(workshop_id):
        raise ValueError("not a workshop id")
    return workshop_id


class LocalContent(ContentStore):
    def __init__(self, directory: Path | str) -> None:
        self._dir = Path(directory)

    def _path(self, workshop_id: str) -> Path:
        return self._dir / f"{check_workshop_id(workshop_id)}.zip"

    def put(self, workshop_id: str, data: bytes) -> None:
        target = self._path(workshop_id)
        self._dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self._dir, 0o700)  # mkdir's mode is masked by the umask
        fd, tmp = tempfile.mkstemp(dir=self._dir, prefix=".tmp-")  # created 0600
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, workshop_id: str) -> bytes | None:
        try:
            return self._path(workshop_id).read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, workshop_id: str) -> bool:
        try:
            self._path(workshop_id).unlink()
        except FileNotFoundError:
            return False
        return True
