"""Service-level refusals that refine the domain errors (the HTTP edge maps them by base class)."""

from __future__ import annotations

from shared.domain.errors import DomainError, NotFound


class WorkshopNotAvailable(NotFound):
    """Join refused: the code is unknown, malformed, or its workshop is not running.

    One error for all three on purpose, so a caller cannot tell live codes from dead ones.
    """

    code = "workshop_not_available"

    def __init__(self) -> None:
        super().__init__("no running workshop has this code")


class InvalidReconnectCode(NotFound):
    code = "invalid_reconnect_code"

    def __init__(self) -> None:
        super().__init__("this reconnect code does not match a seat in this workshop")


class Unavailable(DomainError):
    """A dependency (event bus, host) is not able to serve the request now; retrying may work."""

    code = "unavailable"

    def __init__(self, message: str, code: str = "unavailable") -> None:
        super().__init__(message)
        self.code = code


class NotImplementedYet(DomainError):
    """The feature's module is not installed in this build."""

    code = "not_implemented"
