"""Every open terminal viewer on this host: caps, token-expiry timers, shutdown.

Caps are checked *before* the upgrade (429), so a flood of sockets spawns nothing.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

from workspace_agent.terminal.flow import ViewerSocket

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_TOKEN_EXPIRED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_WORKSHOP_STOPPED = 4410


class ViewerRegistry:
    def __init__(self, *, per_seat: int, per_host: int) -> None:
        self._per_seat = per_seat
        self._per_host = per_host
        self._by_seat: dict[int, set[ViewerSocket]] = defaultdict(set)
        self._reserved: dict[int, int] = defaultdict(int)
        self._timers: dict[ViewerSocket, asyncio.TimerHandle] = {}
        self._closers: set[asyncio.Task[None]] = set()  # strong refs until they finish
        self.closing = False

    def total(self) -> int:
        return sum(len(v) for v in self._by_seat.values()) + sum(self._reserved.values())

    def count(self, seat: int) -> int:
        return len(self._by_seat[seat]) + self._reserved[seat]

    def try_reserve(self, seat: int) -> bool:
        """Claim a slot for a socket about to be upgraded; False when a cap is reached."""
        if self.closing or self.count(seat) >= self._per_seat or self.total() >= self._per_host:
            return False
        self._reserved[seat] += 1
        return True

    def release_reservation(self, seat: int) -> None:
        self._reserved[seat] = max(0, self._reserved[seat] - 1)

    def add(self, viewer: ViewerSocket, *, expires_in: float) -> None:
        """Promote a reservation to a live viewer, closing it with 4401 at token expiry."""
        self.release_reservation(viewer.seat)
        self._by_seat[viewer.seat].add(viewer)
        loop = asyncio.get_running_loop()
        self._timers[viewer] = loop.call_later(max(0.0, expires_in), self._expire, viewer)

    def _expire(self, viewer: ViewerSocket) -> None:
        task = asyncio.ensure_future(viewer.close_socket(CLOSE_TOKEN_EXPIRED, "token_expired"))
        self._closers.add(task)
        task.add_done_callback(self._closers.discard)

    def remove(self, viewer: ViewerSocket) -> None:
        self._by_seat[viewer.seat].discard(viewer)
        timer = self._timers.pop(viewer, None)
        if timer is not None:
            timer.cancel()

    def viewers(self) -> list[ViewerSocket]:
        return [v for seat in self._by_seat.values() for v in seat]

    async def close_all(self, code: int = CLOSE_GOING_AWAY, reason: str = "agent_shutdown") -> None:
        """Refuse new sockets and close every open one with ``code``."""
        self.closing = True
        viewers = self.viewers()
        await asyncio.gather(
            *(v.close_socket(code, reason) for v in viewers), return_exceptions=True
        )
        for viewer in viewers:
            self.remove(viewer)
