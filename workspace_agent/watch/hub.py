"""Live changes of a seat workspace for the pages that show it (issue 21).

``WatchHub.subscribe(seat)`` hands out a ``Subscription``; the first one of a seat starts a
``SeatWatch`` (one inotify instance), the last one to leave stops it and closes the inotify
fd, which drops every kernel watch at once. A subscription yields ``Batch`` es: the
workspace-relative paths that changed (created, written, deleted or moved, files and dirs),
coalesced, or ``resync`` when there were too many to list (the page re-lists what it shows).

Bounds, because a learner's ``npm install`` or ``git clone`` is a burst of tens of thousands
of events and the kernel's inotify limits are per user:

* directories named in ``EXCLUDED`` (``node_modules``, ``.git``, ``.venv``, ``__pycache__``)
  are never descended into: their own entry shows in the tree, their insides only when the
  learner expands them (a plain listing);
* at most ``max_dirs`` watches per seat; past that the hub says ``limited`` once and the tree
  falls back to listing on demand for the rest;
* a batch is sent at most every ``min_interval`` seconds, after ``debounce`` seconds of
  collecting, and a batch of more than ``max_paths`` paths is sent as ``resync`` instead;
* a slow page never queues: its pending paths merge into one set (then ``resync``).

Symlinks are never followed: directories are opened component by component with
``O_NOFOLLOW`` from the workspace root fd (``safe_fs.DIR_FLAGS``) and the watch is added
through ``/proc/self/fd/N`` of that open directory, so a learner swapping a path component
for a link to ``/`` between our check and ``inotify_add_watch`` cannot make us watch outside.
The wd → path map is ours (inotify's paths would be ``/proc/self/fd/N``).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import stat as stat_mod
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from asyncinotify import Event, Inotify, Mask

from workspace_agent.files.safe_fs import DIR_FLAGS
from workspace_agent.logs import log_event

log = logging.getLogger("workspace_agent.watch")

EXCLUDED = frozenset({"node_modules", ".git", ".venv", "__pycache__"})
WATCH_MASK = (
    Mask.CREATE
    | Mask.DELETE
    | Mask.CLOSE_WRITE
    | Mask.MOVED_FROM
    | Mask.MOVED_TO
    | Mask.DELETE_SELF
    | Mask.ONLYDIR  # not DONT_FOLLOW: /proc/self/fd/N is the one link we must resolve
)
EVENTS_PER_READ = 512  # inotify events parsed per read(2): fewer wakeups in a burst


@dataclass(frozen=True)
class Batch:
    paths: frozenset[str]
    resync: bool = False
    limited: bool = False


@dataclass(frozen=True)
class WatchLimits:
    max_dirs: int = 4000
    max_paths: int = 200
    debounce: float = 0.05
    min_interval: float = 0.2  # ≤ 5 batches per second per page


class Subscription:
    """One page's view of a seat's changes; iterate for batches, ``close`` to leave."""

    def __init__(self, hub: WatchHub, seat: int, limits: WatchLimits) -> None:
        self._hub = hub
        self.seat = seat
        self._limits = limits
        self._paths: set[str] = set()
        self._resync = False
        self._limited = False
        self._ready = asyncio.Event()
        self.closed = False

    def offer(self, paths: set[str], *, resync: bool, limited: bool) -> None:
        if resync or len(self._paths) + len(paths) > self._limits.max_paths:
            self._resync = True
            self._paths.clear()
        elif not self._resync:
            self._paths |= paths
        self._limited = self._limited or limited
        self._ready.set()

    async def next(self) -> Batch:
        await self._ready.wait()
        self._ready.clear()
        batch = Batch(frozenset(self._paths), self._resync, self._limited)
        self._paths = set()
        self._resync = self._limited = False
        return batch

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            await self._hub._leave(self)


class WatchHub:
    """Every seat's watch on this host, started and stopped by its subscribers."""

    def __init__(
        self,
        workspace: Callable[[int], Path],
        limits: WatchLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._workspace = workspace
        self.limits = limits or WatchLimits()
        self._clock = clock
        self._seats: dict[int, SeatWatch] = {}
        self._subscribers: dict[int, set[Subscription]] = {}
        self._lock = asyncio.Lock()

    def active_seats(self) -> set[int]:
        return set(self._seats)

    async def subscribe(self, seat: int) -> Subscription:
        async with self._lock:
            subscription = Subscription(self, seat, self.limits)
            subs = self._subscribers.setdefault(seat, set())
            subs.add(subscription)
            if seat not in self._seats:
                watch = SeatWatch(self._workspace(seat), self.limits, subs, self._clock)
                try:
                    await watch.start()
                except BaseException:
                    subs.discard(subscription)
                    raise
                self._seats[seat] = watch
            return subscription

    async def _leave(self, subscription: Subscription) -> None:
        async with self._lock:
            subs = self._subscribers.get(subscription.seat, set())
            subs.discard(subscription)
            if not subs:
                self._subscribers.pop(subscription.seat, None)
                watch = self._seats.pop(subscription.seat, None)
                if watch is not None:
                    await watch.stop()

    async def close(self) -> None:
        async with self._lock:
            for watch in self._seats.values():
                await watch.stop()
            self._seats.clear()
            for subs in self._subscribers.values():
                for sub in subs:
                    sub.closed = True
                    sub.offer(set(), resync=True, limited=False)
            self._subscribers.clear()


@dataclass
class SeatWatch:
    root: Path
    limits: WatchLimits
    subscribers: set[Subscription]
    clock: Callable[[], float]
    _inotify: Inotify | None = None
    _dirs: dict[int, str] = field(default_factory=dict)  # wd → workspace-relative dir
    _pending: set[str] = field(default_factory=set)
    _resync: bool = False
    _limited: bool = False
    _limited_told: bool = False
    _dirty: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        self._rebuild()
        self._tasks = [
            asyncio.create_task(self._read(), name=f"watch-read-{self.root.parent.name}"),
            asyncio.create_task(self._flush(), name=f"watch-flush-{self.root.parent.name}"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._inotify is not None:
            self._inotify.close()  # one close(2) frees every watch of this seat
            self._inotify = None
        self._dirs.clear()

    @property
    def watch_count(self) -> int:
        return len(self._dirs)

    # -- watches ---------------------------------------------------------------------------
    def _rebuild(self) -> None:
        """A fresh inotify instance over a fresh walk (at start, and after a queue overflow,
        when events were lost and the old watches no longer describe the tree)."""
        if self._inotify is not None:
            self._inotify.close()
        self._inotify = Inotify(cache_size=EVENTS_PER_READ)
        self._dirs.clear()
        self._limited = False
        try:
            root_fd = os.open(self.root, DIR_FLAGS)
        except OSError:
            return  # no workspace (yet): nothing to watch
        try:
            self._watch_tree(root_fd, "", report=False)
        except BaseException:
            self._inotify.close()
            self._inotify = None
            raise
        finally:
            os.close(root_fd)

    def _watch_tree(self, dir_fd: int, rel: str, *, report: bool) -> None:
        """Watch the directory open as ``dir_fd`` and, breadth-first, the real directories
        under it; ``report`` adds every entry found (created before its parent's watch)."""
        queue: list[tuple[int, str]] = [(os.dup(dir_fd), rel)]
        try:
            while queue:
                fd, here = queue.pop(0)
                try:
                    if not self._add_watch(fd, here):
                        continue
                    with os.scandir(fd) as it:
                        entries = [(e.name, e.is_dir(follow_symlinks=False)) for e in it]
                    for name, is_dir in entries:
                        child = f"{here}/{name}" if here else name
                        if report:
                            self._pending.add(child)
                        if not is_dir or name in EXCLUDED:
                            continue
                        try:
                            queue.append((os.open(name, DIR_FLAGS, dir_fd=fd), child))
                        except OSError:
                            continue  # vanished or swapped for a link: not followed
                finally:
                    os.close(fd)
        finally:
            for fd, _ in queue:
                os.close(fd)

    def _add_watch(self, fd: int, rel: str) -> bool:
        assert self._inotify is not None
        if len(self._dirs) >= self.limits.max_dirs:
            self._limited = True
            return False
        try:
            watch = self._inotify.add_watch(f"/proc/self/fd/{fd}", WATCH_MASK)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:  # the user's max_user_watches is used up
                self._limited = True
                log_event(log, "watch_limit", level=logging.WARNING, root=self.root.parent.name)
            return False
        self._dirs[watch.wd] = rel
        return True

    def _forget(self, rel: str) -> None:
        """Stop watching ``rel`` and everything under it (moved away or deleted)."""
        assert self._inotify is not None
        prefix = rel + "/"
        gone = [wd for wd, path in self._dirs.items() if path == rel or path.startswith(prefix)]
        by_wd = {w.wd: w for w in self._inotify.watches}
        for wd in gone:
            self._dirs.pop(wd, None)
            watch = by_wd.get(wd)
            if watch is not None:
                with contextlib.suppress(OSError):
                    self._inotify.rm_watch(watch)

    def _watch_new_dir(self, rel: str) -> None:
        """A directory appeared at ``rel``: open it without following links, then watch it."""
        parts = rel.split("/")
        if parts[-1] in EXCLUDED:
            return
        try:
            fd = os.open(self.root, DIR_FLAGS)
        except OSError:
            return
        try:
            for part in parts:
                nxt = os.open(part, DIR_FLAGS, dir_fd=fd)  # O_NOFOLLOW on every component
                os.close(fd)
                fd = nxt
            st = os.fstat(fd)
            if stat_mod.S_ISDIR(st.st_mode):
                self._watch_tree(fd, rel, report=True)
        except OSError:
            pass  # gone again, or a link: not watched
        finally:
            os.close(fd)

    # -- events ----------------------------------------------------------------------------
    async def _read(self) -> None:
        while self._inotify is not None:
            self._handle(await self._inotify.get())

    def _handle(self, event: Event) -> None:
        mask = event.mask
        if Mask.Q_OVERFLOW in mask:
            self._resync = True
            self._rebuild()
            self._dirty.set()
            return
        watch = event.watch
        wd = watch.wd if watch is not None else None
        base = self._dirs.get(wd) if wd is not None else None
        if base is None:
            return  # a watch we already forgot
        if Mask.IGNORED in mask or Mask.DELETE_SELF in mask:
            self._dirs.pop(wd, None)  # type: ignore[arg-type]
            return
        if event.name is None:
            return
        path = f"{base}/{event.name}" if base else str(event.name)
        self._pending.add(path)
        if Mask.ISDIR in mask:
            if Mask.MOVED_FROM in mask or Mask.DELETE in mask:
                self._forget(path)
            elif Mask.CREATE in mask or Mask.MOVED_TO in mask:
                self._watch_new_dir(path)
        self._dirty.set()

    async def _flush(self) -> None:
        last = float("-inf")
        while True:
            await self._dirty.wait()
            await asyncio.sleep(self.limits.debounce)  # collect the rest of the burst
            wait = last + self.limits.min_interval - self.clock()
            if wait > 0:
                await asyncio.sleep(wait)
            self._dirty.clear()
            paths, self._pending = self._pending, set()
            resync = self._resync or len(paths) > self.limits.max_paths
            self._resync = False
            limited = self._limited and not self._limited_told
            self._limited_told = self._limited_told or self._limited
            for sub in list(self.subscribers):
                sub.offer(set() if resync else paths, resync=resync, limited=limited)
            last = self.clock()
