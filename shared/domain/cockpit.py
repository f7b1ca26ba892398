"""Pure rules the instructor cockpit shows: a seat's budget and how close it is to it."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError as PydanticValidationError

from shared.domain.model_policy import ModelPolicy

#: A seat at or above this share of its budget is flagged in the cockpit.
BUDGET_WARNING_SHARE = 0.8


def seat_budget(policy: dict[str, Any], seat: int) -> float | None:
    """The seat's USD budget under the workshop's model policy (``None``: unlimited)."""
    try:
        parsed = ModelPolicy.model_validate(policy or {})
    except PydanticValidationError:  # a stored policy is validated on write; be lenient on read
        return None
    return parsed.limits_for(seat).budget_usd


def budget_share(spent: float, budget: float | None) -> float | None:
    """``spent / budget`` (``None`` without a budget; a zero budget is fully spent)."""
    if budget is None:
        return None
    if budget <= 0:
        return 1.0
    return spent / budget
