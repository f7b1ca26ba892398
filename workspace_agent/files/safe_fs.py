"""Filesystem operations confined to one seat workspace, without check-then-use races.

How containment works (the agent may share a UID with the learner's shell, so the learner can
swap any path component for a symlink at any moment):

* Client paths are parsed, never joined as strings: NUL, backslashes, absolute paths and ``..``
  are refused up front; ``~user``, ``%2e%2e`` (after the one decoding the URL layer does) and
  names with newlines, ``;``, ``$(...)`` or a leading ``-`` are just literal names.
* Every component is opened relative to an already-open directory fd with ``O_NOFOLLOW``
  (``os.open(name, flags, dir_fd=fd)``), starting from an fd of the workspace root. A
  component that is swapped for a symlink between our ``lstat`` and ``open`` fails to open.
* Reads, listings and stat may follow a learner symlink only if its target stays inside the
  workspace: the target is re-walked component by component from the root fd (``..`` pops the
  fd stack and can never pop the root), like ``openat2(RESOLVE_IN_ROOT)`` but refusing rather
  than clamping. Absolute targets must lie under the workspace's real path.
* Writes, mkdir, rename and delete never follow symlinks at all (403). Deleting a symlink
  removes the link; recursive deletes walk directories by fd and never cross a link.

Errors are ``FsError(status, code, message)``: 400 bad path, 403 outside/symlink, 404 missing,
409 conflict, 413 too large, 507 disk full. Messages never contain host paths.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import secrets
import stat as stat_mod
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
MAX_PATH = 4096
MAX_NAME = 255
MAX_LINK_HOPS = 40


class FsError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def parse_path(raw: str) -> list[str]:
    """Split a client path into components; ``""`` and ``"."`` mean the workspace root."""
    if "\x00" in raw:
        raise FsError(400, "invalid_path", "paths may not contain NUL")
    if "\\" in raw:
        raise FsError(400, "invalid_path", "use '/' as the separator; backslashes are refused")
    if raw.startswith("/"):
        raise FsError(400, "invalid_path", "paths are relative to the workspace")
    if len(raw.encode("utf-8", "surrogateescape")) > MAX_PATH:
        raise FsError(400, "invalid_path", "path too long")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise FsError(403, "outside_workspace", "the path leaves the workspace")
    if any(len(p.encode("utf-8", "surrogateescape")) > MAX_NAME for p in parts):
        raise FsError(400, "invalid_path", "a path component is too long")
    return parts


def os_error(exc: OSError) -> FsError:
    """Translate an OS error into a client-safe refusal (no host paths in the message)."""
    table = {
        errno.ENOENT: (404, "not_found", "no such file or directory"),
        errno.EEXIST: (409, "exists", "the target already exists"),
        errno.ENOTEMPTY: (409, "not_empty", "the directory is not empty"),
        errno.EISDIR: (409, "is_a_directory", "the target is a directory"),
        errno.ENOTDIR: (409, "not_a_directory", "a path component is not a directory"),
        errno.ELOOP: (403, "symlink_refused", "symbolic links are not followed here"),
        errno.EACCES: (403, "permission_denied", "permission denied"),
        errno.EPERM: (403, "permission_denied", "operation not permitted"),
        errno.ENAMETOOLONG: (400, "invalid_path", "name too long"),
        errno.EINVAL: (400, "invalid_operation", "invalid operation for this path"),
        errno.EXDEV: (400, "invalid_operation", "cannot move across filesystems"),
        errno.ENOSPC: (507, "insufficient_storage", "the workspace disk is full"),
        errno.EDQUOT: (507, "insufficient_storage", "the workspace quota is exhausted"),
        errno.EBUSY: (409, "busy", "the target is busy"),
    }
    status, code, message = table.get(exc.errno or 0, (400, "fs_error", "filesystem error"))
    return FsError(status, code, message)


@dataclass(frozen=True)
class Stat:
    name: str
    path: str
    type: str  # "file" | "dir" | "symlink"
    size: int
    mtime: float
    etag: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "type": self.type,
            "size": self.size,
            "mtime": self.mtime,
            "etag": self.etag,
        }


def etag_of(st: os.stat_result) -> str:
    """A strong validator of one version of a file: inode, size and nanosecond mtime.

    Every save through the agent is a rename of a fresh inode, and any other writer changes
    the size or the mtime, so equal ETags mean "the version the editor started from"."""
    return f'"{st.st_ino:x}-{st.st_size:x}-{st.st_mtime_ns:x}"'


def _kind(mode: int) -> str:
    if stat_mod.S_ISLNK(mode):
        return "symlink"
    return "dir" if stat_mod.S_ISDIR(mode) else "file"


def make_stat(name: str, path: str, st: os.stat_result) -> Stat:
    return Stat(name, path, _kind(st.st_mode), st.st_size, round(st.st_mtime, 3), etag_of(st))


def _renameat2_noreplace() -> Any:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    return fn


_RENAMEAT2 = _renameat2_noreplace()
_RENAME_NOREPLACE = 1


class Located:
    """An open directory chain (root … parent) and the final name within the parent."""

    def __init__(self, stack: list[int], name: str | None, display: str) -> None:
        self.stack = stack
        self.name = name
        self.display = display

    @property
    def dir_fd(self) -> int:
        return self.stack[-1]

    def close(self) -> None:
        for fd in self.stack:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.stack = []


class SeatFS:
    """All file operations of one seat, confined to ``root``."""

    def __init__(self, root: Path, owner: tuple[int, int] | None = None) -> None:
        self.root = root
        self.real_root = PurePosixPath(os.path.realpath(root))
        self._owner = owner  # docker runtime as root: files belong to the learner UID

    # -- resolution -----------------------------------------------------------------------
    @contextlib.contextmanager
    def locate(self, raw: str, *, follow: bool, follow_last: bool = False) -> Iterator[Located]:
        parts = parse_path(raw)
        located = self._resolve(parts, follow=follow, follow_last=follow_last)
        located.display = "/".join(parts)
        try:
            yield located
        finally:
            located.close()

    def _open_root(self) -> int:
        try:
            return os.open(self.root, DIR_FLAGS)
        except OSError as exc:
            raise FsError(404, "workspace_missing", "the workspace does not exist") from exc

    def _resolve(self, parts: list[str], *, follow: bool, follow_last: bool) -> Located:
        stack = [self._open_root()]
        queue: deque[str] = deque(parts)
        hops = 0
        try:
            while queue:
                name = queue.popleft()
                if name in ("", "."):
                    continue
                if name == "..":  # only from a symlink target: never above the root fd
                    if len(stack) == 1:
                        raise FsError(403, "outside_workspace", "a link leads out of the workspace")
                    os.close(stack.pop())
                    continue
                last = not queue
                if last and not follow_last:
                    return Located(stack, name, "")
                try:
                    st = os.stat(name, dir_fd=stack[-1], follow_symlinks=False)
                except FileNotFoundError:
                    if last:
                        return Located(stack, name, "")
                    raise FsError(404, "not_found", "no such file or directory") from None
                if stat_mod.S_ISLNK(st.st_mode):
                    if not follow:
                        raise FsError(
                            403, "symlink_refused", "symbolic links are not followed here"
                        )
                    hops += 1
                    if hops > MAX_LINK_HOPS:
                        raise FsError(400, "too_many_links", "too many levels of symbolic links")
                    queue = self._link_target(stack, name, queue)
                    continue
                if last:
                    return Located(stack, name, "")
                stack.append(_open_subdir(name, stack[-1]))
            return Located(stack, None, "")
        except OSError as exc:
            Located(stack, None, "").close()
            raise os_error(exc) from None
        except BaseException:
            Located(stack, None, "").close()
            raise

    def _link_target(self, stack: list[int], name: str, rest: deque[str]) -> deque[str]:
        target = os.readlink(name, dir_fd=stack[-1])
        if "\x00" in target or not target:
            raise FsError(403, "symlink_refused", "unusable link")
        if target.startswith("/"):
            path = PurePosixPath(target)
            if not path.is_relative_to(self.real_root):
                raise FsError(403, "outside_workspace", "a link leads out of the workspace")
            while len(stack) > 1:  # restart from the root fd
                os.close(stack.pop())
            return deque([*path.relative_to(self.real_root).parts, *rest])
        return deque([*target.split("/"), *rest])

    # -- read side -------------------------------------------------------------------------
    def listdir(self, raw: str) -> tuple[str, list[Stat]]:
        with self.locate(raw, follow=True, follow_last=True) as loc:
            fd = self._open_dir(loc)
            try:
                entries = []
                with os.scandir(fd) as it:
                    for entry in it:
                        try:
                            st = entry.stat(follow_symlinks=False)
                        except OSError:
                            continue  # vanished while listing
                        path = f"{loc.display}/{entry.name}" if loc.display else entry.name
                        entries.append(make_stat(entry.name, path, st))
            finally:
                os.close(fd)
            entries.sort(key=lambda s: s.name)
            return loc.display, entries

    def _open_dir(self, loc: Located) -> int:
        if loc.name is None:
            return os.dup(loc.dir_fd)
        try:
            return os.open(loc.name, DIR_FLAGS, dir_fd=loc.dir_fd)
        except NotADirectoryError:
            raise FsError(400, "not_a_directory", "the path is not a directory") from None
        except OSError as exc:
            raise os_error(exc) from None

    def stat(self, raw: str) -> Stat:
        with self.locate(raw, follow=True, follow_last=False) as loc:
            try:
                if loc.name is None:
                    return make_stat("", "", os.fstat(loc.dir_fd))
                st = os.stat(loc.name, dir_fd=loc.dir_fd, follow_symlinks=False)
            except OSError as exc:
                raise os_error(exc) from None
            return make_stat(loc.name, loc.display, st)

    def open_for_read(self, raw: str) -> tuple[int, str, int]:
        """An fd of a regular file (caller closes it), its name and size."""
        with self.locate(raw, follow=True, follow_last=True) as loc:
            if loc.name is None:
                raise FsError(400, "is_a_directory", "the path is a directory")
            try:
                # O_NONBLOCK: a learner's FIFO must not hang the agent on open.
                fd = os.open(
                    loc.name,
                    os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK,
                    dir_fd=loc.dir_fd,
                )
            except OSError as exc:
                raise os_error(exc) from None
            st = os.fstat(fd)
            if not stat_mod.S_ISREG(st.st_mode):
                os.close(fd)
                raise FsError(400, "not_a_file", "the path is not a regular file")
            os.set_blocking(fd, True)
            return fd, loc.name, st.st_size

    # -- write side ------------------------------------------------------------------------
    def writer(self, raw: str, limit: int, *, if_match: str | None = None) -> AtomicWriter:
        return AtomicWriter(self, raw, limit, if_match=if_match)

    def mkdir(self, raw: str) -> Stat:
        with self.locate(raw, follow=False) as loc:
            if loc.name is None:
                raise FsError(409, "exists", "the workspace root exists")
            try:
                os.mkdir(loc.name, 0o755, dir_fd=loc.dir_fd)
                self._chown(loc.name, loc.dir_fd)
                return make_stat(
                    loc.name,
                    loc.display,
                    os.stat(loc.name, dir_fd=loc.dir_fd, follow_symlinks=False),
                )
            except OSError as exc:
                raise os_error(exc) from None

    def delete(self, raw: str, *, recursive: bool) -> None:
        with self.locate(raw, follow=False) as loc:
            if loc.name is None:
                raise FsError(400, "invalid_path", "the workspace root cannot be deleted")
            try:
                st = os.stat(loc.name, dir_fd=loc.dir_fd, follow_symlinks=False)
                if not stat_mod.S_ISDIR(st.st_mode):
                    os.unlink(loc.name, dir_fd=loc.dir_fd)  # a symlink: the link, not its target
                    return
                if not recursive:
                    raise FsError(409, "is_a_directory", "deleting a directory needs recursive=1")
                _remove_tree(loc.dir_fd, loc.name)
            except OSError as exc:
                raise os_error(exc) from None

    def rename(self, src: str, dst: str, *, overwrite: bool) -> Stat:
        with self.locate(src, follow=False) as a, self.locate(dst, follow=False) as b:
            if a.name is None or b.name is None:
                raise FsError(400, "invalid_path", "the workspace root cannot be moved")
            try:
                os.stat(a.name, dir_fd=a.dir_fd, follow_symlinks=False)
                if overwrite:  # replacing a link replaces the link itself: rename never follows
                    os.rename(a.name, b.name, src_dir_fd=a.dir_fd, dst_dir_fd=b.dir_fd)
                else:
                    _rename_noreplace(a.dir_fd, a.name, b.dir_fd, b.name)
                st = os.stat(b.name, dir_fd=b.dir_fd, follow_symlinks=False)
            except OSError as exc:
                raise os_error(exc) from None
            return make_stat(b.name, b.display, st)

    def _chown(self, name: str, dir_fd: int) -> None:
        if self._owner is not None:
            os.chown(name, *self._owner, dir_fd=dir_fd, follow_symlinks=False)

    # -- whole-workspace walk (archive) ------------------------------------------------------
    def walk_files(self) -> Iterator[tuple[str, int, os.stat_result]]:
        """``(relative path, open fd, stat)`` for every regular file, never crossing a link.
        The caller must close each fd before advancing."""
        root = self._open_root()
        try:
            yield from _walk(root, "")
        finally:
            os.close(root)


class AtomicWriter:
    """Write a file via a temp file in the same directory, then ``rename`` over the target.

    The target must not be a symlink or a directory; parents are walked without following
    links. ``write`` raises ``FsError(413)`` past ``limit`` (the temp file is removed).
    Use as a context manager and call ``commit()``; leaving without commit discards.

    ``if_match`` is a precondition checked on entry and again just before the rename: an ETag
    (``etag_of``) the target must still have, or ``"*"`` (it must exist) or ``""`` (it must not
    exist). A mismatch is ``FsError(409, "changed_on_disk")`` (``"exists"`` for ``""``) and
    nothing is written. A writer
    racing the last check inside the same microseconds can still win: the learner's shell shares
    the directory, and POSIX has no compare-and-rename.
    """

    def __init__(self, fs: SeatFS, raw: str, limit: int, *, if_match: str | None = None) -> None:
        self._fs = fs
        self._raw = raw
        self._limit = limit
        self._if_match = if_match
        self._loc: Located | None = None
        self._fd = -1
        self._tmp = ""
        self.size = 0

    def __enter__(self) -> AtomicWriter:
        parts = parse_path(self._raw)
        loc = self._fs._resolve(parts, follow=False, follow_last=False)
        loc.display = "/".join(parts)
        self._loc = loc
        try:
            if loc.name is None:
                raise FsError(400, "is_a_directory", "the workspace root is a directory")
            existing = _lstat_or_none(loc.name, loc.dir_fd)
            self._check_precondition(existing)
            mode = 0o644
            if existing is not None:
                if stat_mod.S_ISLNK(existing.st_mode):
                    raise FsError(403, "symlink_refused", "symbolic links are not written through")
                if stat_mod.S_ISDIR(existing.st_mode):
                    raise FsError(409, "is_a_directory", "the target is a directory")
                mode = stat_mod.S_IMODE(existing.st_mode)
            self._tmp = f".{loc.name[:200]}.ct-{secrets.token_hex(6)}.tmp"
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            self._fd = os.open(self._tmp, flags, mode, dir_fd=loc.dir_fd)
        except OSError as exc:
            self._discard()
            raise os_error(exc) from None
        except BaseException:
            self._discard()
            raise
        return self

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self._limit:
            raise FsError(413, "too_large", f"the file exceeds the {self._limit}-byte limit")
        view = memoryview(chunk)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as exc:
            raise os_error(exc) from None

    def chmod(self, mode: int) -> None:
        """Set the new file's permission bits (applied before it replaces the target)."""
        try:
            os.fchmod(self._fd, mode)
        except OSError as exc:
            raise os_error(exc) from None

    def commit(self) -> Stat:
        loc = self._loc
        assert loc is not None and loc.name is not None
        try:
            if self._fs._owner is not None:
                os.fchown(self._fd, *self._fs._owner)
            os.close(self._fd)
            self._fd = -1
            self._check_precondition(_lstat_or_none(loc.name, loc.dir_fd))
            os.rename(self._tmp, loc.name, src_dir_fd=loc.dir_fd, dst_dir_fd=loc.dir_fd)
            self._tmp = ""
            st = os.stat(loc.name, dir_fd=loc.dir_fd, follow_symlinks=False)
        except OSError as exc:
            raise os_error(exc) from None
        return make_stat(loc.name, loc.display, st)

    def _check_precondition(self, current: os.stat_result | None) -> None:
        expected = self._if_match
        if expected is None:
            return
        if expected == "":
            if current is not None:
                raise FsError(409, "exists", "the target already exists")
            return
        if expected == "*":
            ok = current is not None
        else:
            ok = current is not None and etag_of(current) == expected
        if not ok:
            raise FsError(409, "changed_on_disk", "the file changed on disk since you opened it")

    def __exit__(self, *exc_info: object) -> None:
        self._discard()

    def _discard(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._loc is not None:
            if self._tmp:
                with contextlib.suppress(OSError):
                    os.unlink(self._tmp, dir_fd=self._loc.dir_fd)
                self._tmp = ""
            self._loc.close()
            self._loc = None


def _open_subdir(name: str, dir_fd: int) -> int:
    """Open a directory we just saw; if it became a symlink meanwhile (a swap race), refuse."""
    try:
        return os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    except (NotADirectoryError, OSError) as exc:
        if exc.errno in (errno.ENOTDIR, errno.ELOOP):
            now = _lstat_or_none(name, dir_fd)
            if now is not None and stat_mod.S_ISLNK(now.st_mode):
                raise FsError(403, "symlink_refused", "the path changed into a link") from None
        raise


def _lstat_or_none(name: str, dir_fd: int) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _rename_noreplace(src_fd: int, src: str, dst_fd: int, dst: str) -> None:
    if _RENAMEAT2 is not None:
        rc = _RENAMEAT2(src_fd, os.fsencode(src), dst_fd, os.fsencode(dst), _RENAME_NOREPLACE)
        if rc == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.ENOSYS, errno.EINVAL):
            raise OSError(err, os.strerror(err))
    # Fallback (old kernels or filesystems without RENAME_NOREPLACE): check, then rename.
    if _lstat_or_none(dst, dst_fd) is not None:
        raise FileExistsError(errno.EEXIST, "exists")
    os.rename(src, dst, src_dir_fd=src_fd, dst_dir_fd=dst_fd)


def _remove_tree(parent_fd: int, name: str) -> None:
    """``rm -r`` by fd: descend only into real directories, unlink everything else."""
    fd = os.open(name, DIR_FLAGS, dir_fd=parent_fd)
    try:
        with os.scandir(fd) as it:
            children = [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
        for child, is_dir in children:
            if is_dir:
                _remove_tree(fd, child)
            else:
                os.unlink(child, dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=parent_fd)


def _walk(dir_fd: int, prefix: str) -> Iterator[tuple[str, int, os.stat_result]]:
    with os.scandir(dir_fd) as it:
        entries = sorted(
            (e.name, e.is_dir(follow_symlinks=False), e.is_file(follow_symlinks=False)) for e in it
        )
    for name, is_dir, is_file in entries:
        rel = f"{prefix}{name}"
        try:
            if is_dir:
                child = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
                try:
                    yield from _walk(child, rel + "/")
                finally:
                    os.close(child)
            elif is_file:
                fd = os.open(
                    name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=dir_fd
                )
                st = os.fstat(fd)
                if not stat_mod.S_ISREG(st.st_mode):
                    os.close(fd)
                    continue
                yield rel, fd, st
        except OSError:
            continue  # raced away or swapped for a link: skip it
