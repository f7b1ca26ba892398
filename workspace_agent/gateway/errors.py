"""Anthropic-shaped error responses, so Claude Code and the SDKs show them as API errors.

Shape: ``{"type": "error", "error": {"type": <kind>, "message": <text>}}``. The kinds are
Anthropic's own (``authentication_error``, ``permission_error``, ``rate_limit_error``, ...).

``x-should-retry: false`` tells the Anthropic SDKs (and so Claude Code) not to retry a refusal
that retrying cannot fix (budget reached, access paused), so the learner sees the message at
once instead of after a series of backoffs. Rate-window refusals carry ``retry-after`` instead
and are retried automatically.
"""

from __future__ import annotations

import json

from aiohttp import web

#: HTTP status for each error kind we emit.
STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 502,
    "timeout_error": 504,
    "overloaded_error": 503,
}


def error_body(kind: str, message: str) -> dict[str, object]:
    return {"type": "error", "error": {"type": kind, "message": message}}


def error_response(
    kind: str,
    message: str,
    *,
    status: int | None = None,
    retry: bool | None = None,
    retry_after: int | None = None,
) -> web.Response:
    """A JSON error response of ``kind`` (status from ``STATUS`` unless given)."""
    headers: dict[str, str] = {}
    if retry is not None:
        headers["x-should-retry"] = "true" if retry else "false"
    if retry_after is not None:
        headers["retry-after"] = str(max(1, retry_after))
    return web.Response(
        status=status or STATUS[kind],
        body=json.dumps(error_body(kind, message)).encode(),
        content_type="application/json",
        headers=headers,
    )


def sse_error_event(kind: str, message: str) -> bytes:
    """The SSE ``error`` event Anthropic sends when a stream fails after it started."""
    return f"event: error\ndata: {json.dumps(error_body(kind, message))}\n\n".encode()


def is_anthropic_error(body: bytes) -> bool:
    """True if ``body`` is a well-formed Anthropic error document (safe to pass through)."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return False
    return (
        isinstance(doc, dict)
        and doc.get("type") == "error"
        and isinstance(doc.get("error"), dict)
        and isinstance(doc["error"].get("type"), str)
    )
