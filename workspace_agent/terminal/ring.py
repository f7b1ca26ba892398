"""A bounded log of a shell's recent output, addressed by absolute byte offsets.

Offsets count every byte ever appended since the ring was created, so a reader keeps a
cursor (``int``) instead of a reference: ``read(cursor, n)`` returns what follows the cursor,
``start`` is the oldest offset still held, ``end`` the next one to be written. A cursor below
``start`` fell too far behind (its bytes were overwritten) and must resynchronise.

Memory is ``capacity`` plus one append. CPython's ``bytearray`` deletes from the front in
amortised O(1), so appending and trimming cost one copy of the new bytes.
"""

from __future__ import annotations

from typing import Protocol

REPLAY_ALIGN = 4096  # how far into the ring replay may skip to start on a line boundary


class Ring(Protocol):
    """What a shell's ring offers (``OutputRing``; ``shared_ring.SharedRing`` in shared memory)."""

    capacity: int
    start: int

    @property
    def end(self) -> int: ...

    def __len__(self) -> int: ...

    def append(self, data: bytes) -> None: ...

    def read(self, cursor: int, limit: int) -> bytes: ...

    def replay_start(self) -> int: ...

    def clear(self) -> None: ...


class OutputRing:
    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self._buf = bytearray()
        self.start = 0  # absolute offset of _buf[0]
        self._dropped = False  # has output been trimmed since the last clear?

    @property
    def end(self) -> int:
        return self.start + len(self._buf)

    def __len__(self) -> int:
        return len(self._buf)

    def append(self, data: bytes) -> None:
        self._buf += data
        excess = len(self._buf) - self.capacity
        if excess > 0:
            del self._buf[:excess]
            self.start += excess
            self._dropped = True

    def read(self, cursor: int, limit: int) -> bytes:
        """Up to ``limit`` bytes from ``cursor`` (which must be in ``[start, end]``)."""
        if cursor < self.start or cursor > self.end:
            raise ValueError(f"cursor {cursor} outside [{self.start}, {self.end}]")
        i = cursor - self.start
        return bytes(self._buf[i : i + limit])

    def replay_start(self) -> int:
        """Where a replay should begin: the oldest byte, or — once output has been dropped —
        just after the first newline near the front, so replay does not start mid-line."""
        if not self._dropped:
            return self.start
        newline = self._buf.find(b"\n", 0, REPLAY_ALIGN)
        return self.start + newline + 1 if newline >= 0 else self.start

    def clear(self) -> None:
        """Forget everything (a fresh shell); offsets keep growing so cursors stay unique."""
        self.start = self.end
        self._buf = bytearray()
        self._dropped = False
