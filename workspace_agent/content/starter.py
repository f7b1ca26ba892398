"""Copy a pack's ``starter/`` into a seat's workspace.

Written through the files API's ``SeatFS`` (fd-relative, ``O_NOFOLLOW``: a symbolic link in
the workspace is never written through, so nothing lands outside it) with the seat user as
owner. Existing files are kept: a copy never overwrites what a learner has. Whether a seat
got its copy is remembered outside the workspace (``<state>/guide/seat-<n>.starter``), so a
restart or reconnect never copies again; a reset removes the mark and copies afresh.
"""

from __future__ import annotations

import logging

from shared.content import Pack
from workspace_agent.files.safe_fs import FsError, SeatFS
from workspace_agent.logs import log_event

log = logging.getLogger("workspace_agent.content")

STARTER_PREFIX = "starter/"
#: ``git init`` + one commit of the starter files, run in the seat as the learner.
GIT_COMMIT_SCRIPT = (
    'git init -q && git add -A && git -c user.name="ClaraTeach" '
    '-c user.email="workshop@clarateach.invalid" commit -q -m "$1"'
)


def install_starter(pack: Pack, fs: SeatFS) -> int:
    """Write every starter file that does not exist yet; the number written."""
    written = 0
    for f in pack.starter_files():
        rel = f.path.removeprefix(STARTER_PREFIX)
        parts = rel.split("/")
        try:
            for depth in range(1, len(parts)):
                _mkdir(fs, "/".join(parts[:depth]))
            with fs.writer(rel, len(f.data), if_match="") as writer:
                writer.write(f.data)
                writer.chmod(0o755 if f.executable else 0o644)
                writer.commit()
            written += 1
        except FsError as exc:  # exists already, or a learner's link in the way: kept
            log_event(log, "starter_file_skipped", level=logging.INFO, path=rel, reason=exc.code)
    return written


def _mkdir(fs: SeatFS, path: str) -> None:
    try:
        fs.mkdir(path)
    except FsError as exc:
        if exc.code != "exists":
            raise


def git_commit_argv(message: str) -> list[str]:
    return ["/bin/sh", "-c", GIT_COMMIT_SCRIPT, "sh", message]
