"""CORS for the web client (its origin differs from the agent's): exact-match allowlist.

A foreign origin gets no ``Access-Control-Allow-Origin`` (and preflights are refused with
403). Credentials are never allowed: the token travels in ``Authorization``, not cookies.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from workspace_agent.errors import error_response

ALLOW_METHODS = "GET, PUT, POST, DELETE, OPTIONS"
ALLOW_HEADERS = "Authorization, Content-Type, If-Match, If-None-Match"
EXPOSE_HEADERS = "Content-Disposition, Content-Length, ETag"


def cors_middleware(allowed: tuple[str, ...]) -> Middleware:
    allowed_set = frozenset(allowed)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        is_preflight = (
            request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers
        )
        if is_preflight:
            if origin not in allowed_set:
                return error_response(403, "origin_not_allowed", "origin not allowed")
            return web.Response(
                status=204,
                headers={
                    "Access-Control-Allow-Origin": origin,
                    "Access-Control-Allow-Methods": ALLOW_METHODS,
                    "Access-Control-Allow-Headers": ALLOW_HEADERS,
                    "Access-Control-Max-Age": "600",
                    "Vary": "Origin",
                },
            )
        return await handler(request)

    return middleware


def cors_on_prepare(  # type: ignore[no-untyped-def]
    allowed: tuple[str, ...], exempt: Callable[[web.Request], bool] | None = None
):
    """``on_response_prepare`` hook: also covers streamed responses prepared by handlers.
    ``exempt`` requests (the app preview's origins) get no CORS headers from the agent."""
    allowed_set = frozenset(allowed)

    async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
        if exempt is not None and exempt(request):
            return
        origin = request.headers.get("Origin")
        if origin in allowed_set and "Access-Control-Allow-Origin" not in response.headers:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
            response.headers.add("Vary", "Origin")

    return add_headers
