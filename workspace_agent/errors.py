"""The agent's one translation of failures into HTTP: ``{"error": {"code", "message"}}``.

Handlers raise ``ApiError`` (or let ``error_middleware`` map stray aiohttp/OS errors); no
response ever carries a traceback, a token or a host path.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from workspace_agent.logs import log_event

log = logging.getLogger("workspace_agent")


class ApiError(Exception):
    """A refusal with a status, a stable code and a human message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(
        {"error": {"code": code, "message": message}}, status=status, headers=headers
    )


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    429: "too_many",
}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        code = _HTTP_CODES.get(exc.status, "error")
        return error_response(exc.status, code, exc.reason, headers=_keep_headers(exc))
    except Exception as exc:
        log_event(
            log, "request_failed", level=logging.ERROR, path=request.path, error=type(exc).__name__
        )
        return error_response(500, "internal", "internal error")


def _keep_headers(exc: web.HTTPException) -> dict[str, str]:
    keep = ("Allow", "Retry-After")
    return {k: v for k, v in exc.headers.items() if k in keep}
