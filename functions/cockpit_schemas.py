"""Request bodies of the cockpit routes. Rules (lengths, plain text) live in
``shared.domain.cockpit`` so the messages speak to the instructor, not in validator words."""

from __future__ import annotations

from pydantic import Field

from functions.schemas import _Body
from shared.domain.model_policy import ModelPolicy


class Broadcast(_Body):
    message: str = Field(
        description="Plain text, 1-500 characters; shown as a banner on every learner page."
    )


class ReleaseSeat(_Body):
    seat: int = Field(description="The seat to free (1..seats); its learner's token stops working.")


class ResetSeat(_Body):
    seat: int = Field(description="The seat to reset (fresh shell, empty workspace).")


class ChangeModelPolicy(_Body):
    model_policy: ModelPolicy = Field(
        description="The whole new policy (per-seat limits, budgets, prices, Claude Code"
        " settings; docs/gateway.md). Applies to running hosts at once."
    )
