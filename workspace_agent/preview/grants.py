"""Who may view a preview: one-time codes, preview sessions (cookies) and sharing.

* ``issue_code`` (called through the agent's API with a learner's or instructor's token)
  returns a random one-time code bound to one seat and port, valid ``CODE_TTL`` seconds. It
  is not a token: it grants nothing but its single exchange on that preview's origin.
* ``redeem`` consumes a code (whatever happens next, a code works once) and
  ``start_session`` returns the value of the preview cookie: random, bound to the same seat
  and port, expiring after ``SESSION_IDLE`` seconds unused and ``SESSION_MAX`` in all.
* ``share`` marks a port "shared with the instructor"; an instructor's code or session for a
  port that is not shared (any more) is refused.

Only SHA-256 digests of codes and session values are kept. Everything is in memory: an agent
restart signs every viewer out (they open the preview again from the Ports panel). Time
comes from the injected clock.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace

CODE_TTL = 60.0
SESSION_IDLE = 3600.0
SESSION_MAX = 12 * 3600.0
MAX_CODES_PER_SEAT = 64  # one seat's requests never evict another seat's codes or sessions
MAX_SESSIONS_PER_SEAT = 256


@dataclass(frozen=True)
class Viewer:
    """Whose browser a preview session belongs to."""

    seat: int
    port: int
    instructor: bool
    issued_at: int  # ``iat`` of the token the code was asked for with (seat release checks)


@dataclass(frozen=True)
class _Entry:
    viewer: Viewer
    expires: float
    hard_expiry: float


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class PreviewGrants:
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._codes: dict[str, _Entry] = {}
        self._sessions: dict[str, _Entry] = {}
        self._shared: set[tuple[int, int]] = set()

    # -- sharing -------------------------------------------------------------------------
    def share(self, seat: int, port: int, shared: bool) -> None:
        if shared:
            self._shared.add((seat, port))
        else:
            self._shared.discard((seat, port))

    def is_shared(self, seat: int, port: int) -> bool:
        return (seat, port) in self._shared

    def shared_ports(self, seat: int) -> set[int]:
        return {port for s, port in self._shared if s == seat}

    def allowed(self, viewer: Viewer) -> bool:
        return not viewer.instructor or self.is_shared(viewer.seat, viewer.port)

    # -- codes and sessions --------------------------------------------------------------
    def issue_code(self, viewer: Viewer) -> str:
        now = self._clock()
        self._prune(self._codes, now, viewer.seat, MAX_CODES_PER_SEAT)
        code = secrets.token_urlsafe(32)
        self._codes[_digest(code)] = _Entry(viewer, now + CODE_TTL, now + CODE_TTL)
        return code

    def redeem(self, code: str, seat: int, port: int) -> Viewer | None:
        entry = self._codes.pop(_digest(code), None) if code else None
        if entry is None or entry.expires <= self._clock():
            return None
        if (entry.viewer.seat, entry.viewer.port) != (seat, port):
            return None
        return entry.viewer if self.allowed(entry.viewer) else None

    def start_session(self, viewer: Viewer) -> str:
        now = self._clock()
        self._prune(self._sessions, now, viewer.seat, MAX_SESSIONS_PER_SEAT)
        value = secrets.token_urlsafe(32)
        self._sessions[_digest(value)] = _Entry(
            viewer, min(now + SESSION_IDLE, now + SESSION_MAX), now + SESSION_MAX
        )
        return value

    def session(self, value: str, seat: int, port: int) -> Viewer | None:
        """The viewer of a cookie value presented at ``seat``/``port``'s origin (sliding)."""
        key = _digest(value)
        entry = self._sessions.get(key)
        now = self._clock()
        if entry is None:
            return None
        if entry.expires <= now:
            del self._sessions[key]
            return None
        if (entry.viewer.seat, entry.viewer.port) != (seat, port) or not self.allowed(entry.viewer):
            return None
        self._sessions[key] = replace(entry, expires=min(now + SESSION_IDLE, entry.hard_expiry))
        return entry.viewer

    @staticmethod
    def _prune(table: dict[str, _Entry], now: float, seat: int, cap: int) -> None:
        for key in [k for k, e in table.items() if e.expires <= now]:
            del table[key]
        mine = [k for k, e in table.items() if e.viewer.seat == seat]  # oldest first
        for key in mine[: max(0, len(mine) - cap + 1)]:
            del table[key]
