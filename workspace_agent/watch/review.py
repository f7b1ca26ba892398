"""What changed in a seat since the learner last looked: the "Changes" view (issue 21).

A *review base* is a snapshot of the workspace's text-sized files, kept by the agent next to
(not inside) the workspace: ``seats/N/review-base/manifest.json`` (path → size, sha256, mtime)
and ``blobs/<sha256>``. It is taken when the seat first comes up (so it holds whatever the
workshop put there, e.g. starter files) and again whenever the learner marks the changes as
reviewed. ``changes`` compares the workspace with it: added, modified, deleted.

Bounded like the live watch: the directories in ``hub.EXCLUDED`` are skipped, links are never
followed (the walk goes by directory fd with ``O_NOFOLLOW``), files over ``MAX_FILE_BYTES``
are compared by size and mtime only (no content kept), as is everything past
``MAX_TOTAL_BYTES`` of kept content, and at most ``MAX_FILES`` files count.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import stat as stat_mod
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workspace_agent.files.safe_fs import DIR_FLAGS, FsError, parse_path
from workspace_agent.watch.hub import EXCLUDED

MAX_FILE_BYTES = 512 * 1024
MAX_FILES = 5000
MAX_TOTAL_BYTES = 32 * 1024 * 1024  # content kept per seat; past it, size and mtime only
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Entry:
    size: int
    mtime_ns: int
    sha256: str  # "" for files too large to keep

    def to_json(self) -> dict[str, Any]:
        return {"size": self.size, "mtime_ns": self.mtime_ns, "sha256": self.sha256}


def _walk(root: Path) -> Iterator[tuple[str, int, os.stat_result]]:
    """(relative path, open fd, stat) of regular files; the caller's loop closes each fd."""
    try:
        top = os.open(root, DIR_FLAGS)
    except OSError:
        return
    stack: list[tuple[int, str]] = [(top, "")]
    count = 0
    while stack:
        fd, prefix = stack.pop()
        try:
            with os.scandir(fd) as it:
                entries = sorted(
                    (e.name, e.is_dir(follow_symlinks=False), e.is_file(follow_symlinks=False))
                    for e in it
                )
            for name, is_dir, is_file in entries:
                rel = f"{prefix}{name}"
                try:
                    if is_dir and name not in EXCLUDED:
                        stack.append((os.open(name, DIR_FLAGS, dir_fd=fd), rel + "/"))
                    elif is_file:
                        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
                        child = os.open(name, flags, dir_fd=fd)
                        st = os.fstat(child)
                        if not stat_mod.S_ISREG(st.st_mode):
                            os.close(child)
                            continue
                        count += 1
                        if count > MAX_FILES:
                            os.close(child)
                            return
                        try:
                            yield rel, child, st
                        finally:
                            os.close(child)
                except OSError:
                    continue  # raced away or swapped for a link: skipped
        finally:
            os.close(fd)
    for fd, _ in stack:
        os.close(fd)


def _read_all(fd: int) -> bytes:
    chunks = []
    while block := os.read(fd, 256 * 1024):
        chunks.append(block)
    return b"".join(chunks)


class ReviewBase:
    """One seat's review base, stored under ``directory``."""

    def __init__(self, workspace: Path, directory: Path, clock: Any = time.time) -> None:
        self.workspace = workspace
        self.directory = directory
        self._clock = clock

    def exists(self) -> bool:
        return (self.directory / MANIFEST).is_file()

    def _manifest(self) -> tuple[float, dict[str, Entry]]:
        try:
            raw = json.loads((self.directory / MANIFEST).read_text())
        except (OSError, ValueError):
            return 0.0, {}
        files = {
            path: Entry(int(e["size"]), int(e["mtime_ns"]), str(e["sha256"]))
            for path, e in raw.get("files", {}).items()
        }
        return float(raw.get("since", 0.0)), files

    def take(self) -> float:
        """Snapshot the workspace now (replacing the previous base atomically)."""
        parent = self.directory.parent
        parent.mkdir(parents=True, exist_ok=True)
        fresh = parent / f".review-{secrets.token_hex(4)}"
        (fresh / "blobs").mkdir(parents=True, mode=0o700)
        files: dict[str, dict[str, Any]] = {}
        kept = 0
        for rel, fd, st in _walk(self.workspace):
            digest = ""
            if st.st_size <= MAX_FILE_BYTES and kept + st.st_size <= MAX_TOTAL_BYTES:
                data = _read_all(fd)
                kept += len(data)
                digest = hashlib.sha256(data).hexdigest()
                blob = fresh / "blobs" / digest
                if not blob.exists():
                    blob.write_bytes(data)
            files[rel] = Entry(st.st_size, st.st_mtime_ns, digest).to_json()
        since = float(self._clock())
        (fresh / MANIFEST).write_text(json.dumps({"since": since, "files": files}))
        old = parent / f".review-old-{secrets.token_hex(4)}"
        with contextlib.suppress(FileNotFoundError):
            os.rename(self.directory, old)
        os.rename(fresh, self.directory)
        shutil.rmtree(old, ignore_errors=True)
        return since

    def changes(self) -> dict[str, Any]:
        """``{"since", "files": [{"path", "status"}]}``: added, modified or deleted files."""
        since, base = self._manifest()
        seen: set[str] = set()
        out: list[dict[str, str]] = []
        for rel, fd, st in _walk(self.workspace):
            seen.add(rel)
            old = base.get(rel)
            if old is None:
                out.append({"path": rel, "status": "added"})
                continue
            if old.size == st.st_size and old.mtime_ns == st.st_mtime_ns:
                continue
            same_bytes = (
                old.sha256
                and st.st_size <= MAX_FILE_BYTES
                and hashlib.sha256(_read_all(fd)).hexdigest() == old.sha256
            )
            if same_bytes:
                continue  # touched, not changed
            out.append({"path": rel, "status": "modified"})
        out.extend({"path": p, "status": "deleted"} for p in base if p not in seen)
        out.sort(key=lambda c: c["path"])
        return {"since": since, "files": out}

    def original(self, raw: str) -> bytes:
        """The base version of ``raw`` (404 if the file was not in the base or too large)."""
        path = "/".join(parse_path(raw))
        _, base = self._manifest()
        entry = base.get(path)
        if entry is None or not entry.sha256:
            raise FsError(404, "not_in_base", "no earlier version of this file was kept")
        try:
            return (self.directory / "blobs" / entry.sha256).read_bytes()
        except OSError:
            raise FsError(404, "not_in_base", "no earlier version of this file was kept") from None
