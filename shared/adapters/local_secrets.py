"""Secrets as files: one 0600 file per secret in a 0700 directory (embedded mode).

References look like ``local:<name>``. Writes are atomic (temp file + rename in the same
directory), so a reader sees the old or the new value, never a torn one.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from shared.ports.secrets import Secrets

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
REF_PREFIX = "local:"


def _check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError("secret name must be 1-255 of [A-Za-z0-9_-]")
    return name


class LocalSecrets(Secrets):
    def __init__(self, directory: Path | str) -> None:
        self._dir = Path(directory)

    @property
    def directory(self) -> Path:
        return self._dir

    def _ensure_dir(self) -> None:
        self._dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        # mkdir's mode is masked by the umask and ignored for an existing directory.
        os.chmod(self._dir, 0o700)

    def _path(self, ref: str) -> Path:
        if not ref.startswith(REF_PREFIX):
            raise ValueError("not a local secret reference")
        return self._dir / _check_name(ref.removeprefix(REF_PREFIX))

    def ref_for(self, name: str) -> str:
        """``local:<name>``, the reference ``put(name, ...)`` returns (port contract)."""
        return REF_PREFIX + _check_name(name)

    def put(self, name: str, value: str, labels: dict[str, str] | None = None) -> str:
        """Store ``value`` (labels are meaningless for files and ignored)."""
        ref = REF_PREFIX + _check_name(name)
        self._ensure_dir()
        fd, tmp = tempfile.mkstemp(dir=self._dir, prefix=".tmp-")  # created 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(value)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self._path(ref))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return ref

    def access(self, ref: str) -> str | None:
        try:
            return self._path(ref).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def delete(self, ref: str) -> None:
        self._path(ref).unlink(missing_ok=True)
