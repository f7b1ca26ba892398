"""``OutputRing``'s interface over shared memory, so a seat's output survives the agent.

The ring lives in a ``memfd`` that the terminal holder (``holder.py``) creates with the shell
and keeps open; the agent maps the same pages. Whoever reads the PTY (the agent, or the
holder while no agent is connected) is the ring's only writer; the handover over the holder
socket orders the two (the holder stops draining before it passes the descriptors on).

Layout: a 64-byte header — magic, capacity, ``start``, ``end``, ``base`` (little-endian
``u64``: absolute offsets as in ``OutputRing``; ``base`` is the last ``clear`` point, so
"output was dropped" is ``start > base``) — then ``capacity`` data bytes, the byte at absolute
offset ``o`` stored at ``o % capacity``. An append publishes the new ``start`` first, then
copies, then the new ``end``: a writer killed mid-append (SIGKILL) leaves ``[start, end)``
intact, at worst missing the bytes being appended.

Cost per append: one copy of the new bytes (two at the wrap point) and two 8-byte stores,
like ``OutputRing``'s ``bytearray`` append and front trim.
"""

from __future__ import annotations

import mmap
import os
import struct

from workspace_agent.terminal.ring import REPLAY_ALIGN

MAGIC = b"CTRING01"
HEADER = 64
_U64 = struct.Struct("<Q")
_START, _END, _BASE = 16, 24, 32


def create_ring_fd(capacity: int, name: str = "ct-ring") -> int:
    """A new, zeroed, close-on-exec memfd holding an empty ring of ``capacity`` bytes."""
    if capacity <= 0:
        raise ValueError("capacity must be positive")
    fd = os.memfd_create(name, os.MFD_CLOEXEC)
    try:
        os.ftruncate(fd, HEADER + capacity)
        with mmap.mmap(fd, HEADER) as mm:
            mm[0:8] = MAGIC
            _U64.pack_into(mm, 8, capacity)
    except BaseException:
        os.close(fd)
        raise
    return fd


class SharedRing:
    """A ring mapped from ``fd`` (which it does not own: the caller closes it)."""

    def __init__(self, fd: int) -> None:
        size = os.fstat(fd).st_size
        if size <= HEADER:
            raise ValueError("not a ring: too small")
        self._mm = mmap.mmap(fd, size)
        if self._mm[0:8] != MAGIC:
            self._mm.close()
            raise ValueError("not a ring: bad magic")
        self.capacity = _U64.unpack_from(self._mm, 8)[0]
        if self.capacity != size - HEADER:
            self._mm.close()
            raise ValueError("not a ring: size does not match capacity")
        self.start = _U64.unpack_from(self._mm, _START)[0]
        self._end = _U64.unpack_from(self._mm, _END)[0]
        self._base = _U64.unpack_from(self._mm, _BASE)[0]
        if not self._base <= self.start <= self._end or self._end - self.start > self.capacity:
            self._mm.close()
            raise ValueError("not a ring: inconsistent offsets")

    @property
    def end(self) -> int:
        return self._end

    def __len__(self) -> int:
        return self._end - self.start

    def append(self, data: bytes) -> None:
        n = len(data)
        if not n:
            return
        cap = self.capacity
        mm = self._mm
        new_end = self._end + n
        if new_end - self.start > cap:
            self.start = new_end - cap
            _U64.pack_into(mm, _START, self.start)
        view = memoryview(data)[-cap:] if n > cap else data
        pos = (new_end - len(view)) % cap
        first = min(len(view), cap - pos)
        mm[HEADER + pos : HEADER + pos + first] = view[:first]
        if first < len(view):
            mm[HEADER : HEADER + len(view) - first] = view[first:]
        self._end = new_end
        _U64.pack_into(mm, _END, new_end)

    def read(self, cursor: int, limit: int) -> bytes:
        """Up to ``limit`` bytes from ``cursor`` (which must be in ``[start, end]``)."""
        if cursor < self.start or cursor > self._end:
            raise ValueError(f"cursor {cursor} outside [{self.start}, {self._end}]")
        n = min(limit, self._end - cursor)
        cap = self.capacity
        pos = cursor % cap
        first = min(n, cap - pos)
        head = self._mm[HEADER + pos : HEADER + pos + first]
        if first == n:
            return head
        return head + self._mm[HEADER : HEADER + n - first]

    def replay_start(self) -> int:
        """As ``OutputRing.replay_start``: after the first newline once output was dropped."""
        if self.start <= self._base:
            return self.start
        newline = self.read(self.start, REPLAY_ALIGN).find(b"\n")
        return self.start + newline + 1 if newline >= 0 else self.start

    def clear(self) -> None:
        self.start = self._base = self._end
        _U64.pack_into(self._mm, _START, self.start)
        _U64.pack_into(self._mm, _BASE, self._base)

    def close(self) -> None:
        self._mm.close()
