"""Pure rules of the instructor cockpit: seat budgets, broadcasts and raised hands."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError as PydanticValidationError

from shared.domain.errors import NotFound, ValidationError
from shared.domain.model_policy import ModelPolicy

#: A seat at or above this share of its budget is flagged in the cockpit.
BUDGET_WARNING_SHARE = 0.8

#: Per-seat model error counters each host's gateway reports with its usage totals
#: (cumulative): the model API could not be reached (connection error or timeout); the
#: workshop key was refused upstream (401/403) or is not available on the host; and the
#: gateway's own refusals by budget, by rate and by the instructor's pause.
MODEL_ERROR_COUNTERS = (
    "upstream_unreachable",
    "key_refused",
    "budget_refused",
    "rate_refused",
    "paused_refused",
)


def seat_budget(policy: dict[str, Any], seat: int) -> float | None:
    """The seat's USD budget under the workshop's model policy (``None``: unlimited)."""
    try:
        parsed = ModelPolicy.model_validate(policy or {})
    except PydanticValidationError:  # a stored policy is validated on write; be lenient on read
        return None
    return parsed.limits_for(seat).budget_usd


def effective_policy(policy: dict[str, Any]) -> dict[str, Any]:
    """The stored policy as it applies (defaults filled in), as JSON; lenient on read."""
    try:
        return ModelPolicy.model_validate(policy or {}).model_dump(mode="json")
    except PydanticValidationError:
        return ModelPolicy().model_dump(mode="json")


def budget_share(spent: float, budget: float | None) -> float | None:
    """``spent / budget`` (``None`` without a budget; a zero budget is fully spent)."""
    if budget is None:
        return None
    if budget <= 0:
        return 1.0
    return spent / budget


#: A broadcast is short, plain text (rendered as text on every learner page, never HTML).
BROADCAST_MAX = 500
#: What a learner may add to a raised hand.
HAND_TEXT_MAX = 140


def _plain(text: str) -> str:
    """Strip, and drop control characters other than newline and tab."""
    return "".join(c for c in text.strip() if c in "\n\t" or (ord(c) >= 32 and ord(c) != 127))


def broadcast_message(raw: object) -> str:
    """The instructor's broadcast, cleaned; ``ValidationError`` in the instructor's words."""
    if not isinstance(raw, str):
        raise ValidationError("message", "must be text")
    message = _plain(raw)
    if not 1 <= len(message) <= BROADCAST_MAX:
        raise ValidationError("message", f"must be between 1 and {BROADCAST_MAX} characters")
    return message


def hand_text(raw: object) -> str:
    """The optional text of a raised hand ("" when none)."""
    if raw is None:
        return ""
    if not isinstance(raw, str):
        raise ValidationError("text", "must be text")
    text = _plain(raw)
    if len(text) > HAND_TEXT_MAX:
        raise ValidationError("text", f"must be at most {HAND_TEXT_MAX} characters")
    return text


class UnknownSeat(NotFound):
    code = "unknown_seat"


class SeatNotClaimed(NotFound):
    code = "seat_not_claimed"


def seat_number(raw: object, seats: int) -> int:
    """A seat of a workshop of ``seats`` seats, or an error that says which seats exist."""
    if not isinstance(raw, int) or isinstance(raw, bool):
        raise ValidationError("seat", "must be a seat number")
    if not 1 <= raw <= seats:
        raise UnknownSeat(f"seat {raw} is not a seat of this workshop (seats 1-{seats})")
    return raw
