"""Domain errors. Each carries a stable machine ``code``; the HTTP edge maps classes to statuses.

Nothing here knows about HTTP: ``functions/`` translates these in one place.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the services raise on purpose."""

    code = "domain_error"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ValidationError(DomainError):
    """A request field has a bad value. ``field`` names it."""

    code = "invalid_request"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", field=field)
        self.field = field


class NotFound(DomainError):
    code = "not_found"


class Unauthorized(DomainError):
    code = "unauthorized"


class Forbidden(DomainError):
    code = "forbidden"


class InvalidTransition(DomainError):
    """The workshop state machine does not allow this move from the current status."""

    code = "invalid_state"

    def __init__(self, current: str, target: str) -> None:
        super().__init__(
            f"workshop is {current}; it cannot move to {target}", status=current, target=target
        )
        self.current = current
        self.target = target


class StaleState(DomainError):
    """A compare-and-set lost: the stored status was not one of the expected ones."""

    code = "invalid_state"

    def __init__(self, current: str, expected: tuple[str, ...]) -> None:
        super().__init__(
            f"workshop is {current}, expected one of {', '.join(expected)}", status=current
        )
        self.current = current
        self.expected = expected


class WorkshopFull(DomainError):
    code = "workshop_full"


class CodeSpaceExhausted(DomainError):
    """No unused workshop code was found after the allowed number of attempts."""

    code = "code_space_exhausted"


class RateLimited(DomainError):
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after


class CostCeilingExceeded(DomainError):
    """Starting would exceed the deployment's per-workshop cost ceiling."""

    code = "cost_ceiling_exceeded"


class DoorsNotOpen(DomainError):
    """A new learner tried to join before the workshop's ``join_opens_at``."""

    code = "doors_not_open"


class WorkshopEnded(DomainError):
    """The workshop's ``ends_at`` has passed: no new learners, only downloads in the grace."""

    code = "workshop_ended"


class TransientError(Exception):
    """An external system failed in a way that retrying may fix (raise so Pub/Sub redelivers)."""


class PermanentError(Exception):
    """An external system refused in a way retrying will not fix (quota, bad config)."""
