"""The learner's join body (its own module: the join function defines no other model)."""

from __future__ import annotations

from pydantic import Field

from functions.body import Body
from shared.domain.codes import NONCE_MAX, NONCE_MIN


class Join(Body):
    code: str = Field(min_length=1, max_length=64, description="Workshop code, e.g. CLAUDE-XY9Z.")
    reconnect_code: str | None = Field(
        default=None, min_length=1, max_length=64, description="Rejoin the seat it was issued for."
    )
    client_nonce: str | None = Field(
        default=None,
        min_length=NONCE_MIN,
        max_length=NONCE_MAX,
        pattern=r"^[\x20-\x7e]+$",
        description="Random per-browser idempotency key: a repeated join gets the same seat.",
    )
    display_name: str | None = Field(
        default=None,
        description="Optional name shown to the instructor: at most 40 characters once"
        " trimmed, no control characters. On a rejoin it replaces the seat's name; omitted,"
        " the name is kept.",
    )
