"""Per-seat gateway tokens: the only model credential a seat ever holds.

One random token per seat (``secrets.token_urlsafe(32)``), created on first start and kept in
``<state_dir>/gateway/seat-tokens.json`` (0600) so seats keep working across agent restarts
(their tmux sessions and containers outlive the agent process). A token is valid only for its
own seat; comparison is constant-time.
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path

from workspace_agent.gateway.files import ensure_private_dir, read_json, write_private_json

TOKEN_FILE = "seat-tokens.json"  # noqa: S105 - a file name, not a secret
#: Length bound for a presented token, so a huge header costs nothing to reject.
MAX_TOKEN_LENGTH = 256


class SeatTokens:
    """The tokens of the seats a host serves. ``repr`` never shows a token."""

    def __init__(self, tokens: dict[int, str]) -> None:
        self._tokens = dict(tokens)

    def __repr__(self) -> str:
        return f"SeatTokens(seats={sorted(self._tokens)})"

    @classmethod
    def load_or_create(cls, directory: Path, seats: range) -> SeatTokens:
        """Load the tokens in ``directory``; create (and persist) any missing seat's token."""
        path = ensure_private_dir(directory) / TOKEN_FILE
        stored = read_json(path)
        tokens: dict[int, str] = {}
        if isinstance(stored, dict):
            for key, value in stored.items():
                if key.isdigit() and isinstance(value, str) and len(value) >= 32:
                    tokens[int(key)] = value
        missing = [seat for seat in seats if seat not in tokens]
        for seat in missing:
            tokens[seat] = secrets.token_urlsafe(32)
        if missing or not path.exists():
            write_private_json(path, {str(seat): token for seat, token in tokens.items()})
        return cls({seat: tokens[seat] for seat in seats})

    def token_for(self, seat: int) -> str:
        """The seat's token; ``KeyError`` if this host does not serve ``seat``."""
        return self._tokens[seat]

    def matches(self, seat: int, presented: str | None) -> bool:
        """True only if ``presented`` is exactly ``seat``'s token (constant-time compare)."""
        expected = self._tokens.get(seat)
        if expected is None or not presented or len(presented) > MAX_TOKEN_LENGTH:
            return False
        return hmac.compare_digest(expected.encode(), presented.encode("utf-8", "replace"))
