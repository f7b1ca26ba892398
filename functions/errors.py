"""The one place errors become HTTP: ``{"error": {"code", "message", [field|status]}}`` + status.

Domain and service errors map by class; ``ApiError`` covers refusals only the HTTP edge knows
(body too large, no such route, wrong method). Anything else is a bug: it is logged (through
the redacting log handler) and answered with a bare 500 ``internal`` that carries no details.
"""

from __future__ import annotations

import logging

from functions.wire import ApiResponse, json_response
from shared.domain.errors import (
    CodeSpaceExhausted,
    CostCeilingExceeded,
    DomainError,
    DoorsNotOpen,
    Forbidden,
    InvalidTransition,
    NotFound,
    RateLimited,
    StaleState,
    TransientError,
    Unauthorized,
    ValidationError,
    WorkshopEnded,
    WorkshopFull,
)
from shared.services.errors import NotImplementedYet, Unavailable

log = logging.getLogger(__name__)


class ApiError(Exception):
    """A refusal decided at the HTTP edge."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


_STATUS_BY_CLASS: tuple[tuple[type[DomainError], int], ...] = (
    (ValidationError, 400),
    (Unauthorized, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (InvalidTransition, 409),
    (StaleState, 409),
    (WorkshopFull, 409),
    (CostCeilingExceeded, 409),
    (DoorsNotOpen, 409),
    (WorkshopEnded, 409),
    (RateLimited, 429),
    (NotImplementedYet, 501),
    (Unavailable, 503),
    (CodeSpaceExhausted, 503),
)

#: Detail keys a domain error may expose to the client (never arbitrary ``details``).
_PUBLIC_DETAILS = ("field", "status", "file")


def error_body(code: str, message: str, **extra: object) -> dict[str, object]:
    return {"error": {"code": code, "message": message, **extra}}


def error_response(exc: BaseException) -> ApiResponse:
    """Translate any exception raised while handling a request into its response."""
    if isinstance(exc, ApiError):
        return json_response(exc.status, error_body(exc.code, exc.message), exc.headers)
    if isinstance(exc, DomainError):
        return _domain_response(exc)
    if isinstance(exc, TransientError):
        log.warning("dependency unavailable: %s", exc)
        return json_response(503, error_body("unavailable", "a dependency is unavailable; retry"))
    log.error("unhandled error while serving a request", exc_info=exc)
    return json_response(500, error_body("internal", "internal error"))


def _domain_response(exc: DomainError) -> ApiResponse:
    status = next((s for cls, s in _STATUS_BY_CLASS if isinstance(exc, cls)), 400)
    extra = {k: exc.details[k] for k in _PUBLIC_DETAILS if k in exc.details}
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer realm="clarateach"'
    return json_response(status, error_body(exc.code, exc.message, **extra), headers)
