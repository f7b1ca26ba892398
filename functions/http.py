"""The API router: ``handle(platform, request) -> response``, shared by every HTTP entry point.

The functions-framework entry points (``functions/main.py``) and the local platform's aiohttp
server both convert their native request into an ``ApiRequest`` and call ``handle``. Each
handler (``functions.handlers``) only parses, calls one service function and serialises
(docs/protocol.md §1).

Order of checks for every request: CORS preflight; body size (413); route and method
(404/405); instructor authentication (401) before anything is read or written; body parsing
(400); the service. Every exception becomes a JSON error in ``functions.errors``.

Cold starts: ``ROUTES`` names each handler by its module (``functions.handlers.*``), imported
on the route's first request, so a split function loads only its own handlers and the
services behind them (``functions.entrypoints`` says which function serves which route).
"""

from __future__ import annotations

import importlib
import logging
import re
import time
from collections.abc import Collection
from dataclasses import dataclass
from functools import cache
from typing import Any

from functions.cors import cors_headers, preflight_headers
from functions.errors import ApiError, error_response
from functions.handlers.call import Call, Handler, decode_json
from functions.wire import MAX_BODY_BYTES, MAX_CONTENT_BYTES, ApiRequest, ApiResponse
from shared.auth.instructor import IdTokenVerifier, authenticate
from shared.bootstrap import Platform

__all__ = [
    "ROUTES", "Call", "Handler", "Route", "body_limit", "decode_json", "handle", "load_handlers",
]  # fmt: skip

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    name: str
    #: The route's area (documentation only: ``functions.entrypoints`` assigns routes to
    #: entry points by ``name``).
    group: str
    instructor: bool
    #: ``"module:function"`` under ``functions.handlers``, imported on first use.
    target: str
    #: Largest request body this route takes (larger: 413 before anything is parsed).
    max_body: int = MAX_BODY_BYTES

    @property
    def pattern(self) -> re.Pattern[str]:
        return _compile(self.template)

    @property
    def handler(self) -> Handler:
        return _resolve(self.target)


@cache
def _compile(template: str) -> re.Pattern[str]:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[A-Za-z0-9_-]{1,64})", template)
    return re.compile(f"^{regex}$")


@cache
def _resolve(target: str) -> Handler:
    module, _, function = target.partition(":")
    handler: Handler = getattr(importlib.import_module(f"functions.handlers.{module}"), function)
    return handler


def load_handlers(operations: Collection[str]) -> None:
    """Import the handlers of ``operations`` now (a split function's first request), so the
    function's whole import cost is paid once, whichever of its routes is called first."""
    for route in ROUTES:
        if route.name in operations:
            _resolve(route.target)


W = "/api/workshops/{workshop_id}"
ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/health", "health", "health", False, "public:health"),
    Route("GET", "/api/jwks.json", "jwks", "jwks", False, "jwks:jwks"),
    Route("GET", "/api/openapi.json", "openapi", "workshops", False, "public:openapi"),
    Route("POST", "/api/join", "join", "join", False, "join:join"),
    # Public like join (their own check is a Google-signed instance identity token).
    Route("POST", "/api/hosts/credentials", "host_credentials", "hosts", False,
          "hosts:host_credentials"),
    Route("POST", "/api/hosts/events", "host_events", "hosts", False, "hosts:host_events"),
    # shared.services.content.HOST_CONTENT_PATH (tests/api checks they agree).
    Route("GET", "/api/hosts/content", "host_content", "hosts", False, "hosts:host_content"),
    Route("POST", "/api/workshops", "create_workshop", "workshops", True, "create:create"),
    Route("GET", "/api/workshops", "list_workshops", "workshops", True, "reads:list_workshops"),
    Route("GET", W, "get_workshop", "workshops", True, "reads:get_workshop"),
    Route("POST", W + "/start", "start_workshop", "workshops", True, "lifecycle:start"),
    Route("POST", W + "/stop", "stop_workshop", "workshops", True, "lifecycle:stop"),
    Route("POST", W + "/schedule", "change_schedule", "workshops", True,
          "control:change_schedule"),
    Route("GET", W + "/seats", "list_seats", "workshops", True, "reads:seats"),
    Route("GET", W + "/usage", "get_usage", "workshops", True, "reads:usage"),
    Route("GET", W + "/progress", "get_progress", "workshops", True, "reads:progress"),
    Route("PUT", W + "/content", "put_content", "workshops", True, "content:put_content",
          MAX_CONTENT_BYTES),
    Route("POST", W + "/model-access", "set_model_access", "workshops", True,
          "control:model_access"),
    Route("POST", W + "/model-policy", "set_model_policy", "workshops", True,
          "control:change_model_policy"),
    Route("POST", W + "/shadow-token", "shadow_token", "workshops", True, "control:shadow_token"),
    Route("GET", W + "/room", "get_room", "workshops", True, "reads:room"),
    Route("POST", W + "/broadcast", "broadcast", "workshops", True, "control:broadcast"),
    Route("POST", W + "/release-seat", "release_seat", "workshops", True, "control:release_seat"),
    Route("POST", W + "/reset-seat", "reset_seat", "workshops", True, "control:reset_seat"),
    Route("DELETE", W, "delete_workshop", "workshops", True, "control:delete"),
)  # fmt: skip


# ------------------------------------------------------------------------------ dispatch


def handle(
    platform: Platform,
    request: ApiRequest,
    *,
    operations: Collection[str] | None = None,
    verify_id_token: IdTokenVerifier | None = None,
) -> ApiResponse:
    """Serve one API request. Never raises: every failure is a JSON error response.

    ``operations`` restricts the routes to those names (one split entry point's allowlist,
    ``functions.entrypoints``; ``None``: all); any other route answers 404.
    ``verify_id_token`` replaces google-auth's verifier (GCP mode tests).
    """
    origin = request.header("Origin")
    allowed = platform.settings.allowed_origins
    if request.method.upper() == "OPTIONS":
        return ApiResponse(204, b"", preflight_headers(origin, allowed))
    started = time.perf_counter()
    route: Route | None = None
    call = Call(platform, request, verify_id_token=verify_id_token)
    try:
        route, call.params = _match(request, operations)
        if route.instructor:
            call.instructor = authenticate(
                platform.settings, request.header("Authorization"), verify_id_token
            )
        response = route.handler(call)
    except Exception as exc:
        response = error_response(exc)
    response.headers.update(cors_headers(origin, allowed))
    _log_access(request, route, call, response, started)
    return response


def body_limit(method: str, path: str) -> int:
    """The body cap of the route ``method path`` would reach (entry points read at most this
    plus one byte); ``MAX_BODY_BYTES`` for anything else. Imports no handler."""
    route = _route_for(method, path.rstrip("/") or "/")
    return route.max_body if route is not None else MAX_BODY_BYTES


def _route_for(method: str, path: str) -> Route | None:
    return next((r for r in ROUTES if r.method == method.upper() and r.pattern.match(path)), None)


def _match(request: ApiRequest, operations: Collection[str] | None) -> tuple[Route, dict[str, str]]:
    limit = body_limit(request.method, request.path)
    if len(request.body) > limit:
        raise ApiError(413, "payload_too_large", f"request body exceeds {limit} bytes")
    path = request.path.rstrip("/") or "/"
    method = request.method.upper()
    allowed_methods = []
    for route in ROUTES:
        if operations is not None and route.name not in operations:
            continue
        found = route.pattern.match(path)
        if found is None:
            continue
        if route.method == method:
            return route, found.groupdict()
        allowed_methods.append(route.method)
    if allowed_methods:
        allow = ", ".join(sorted({*allowed_methods, "OPTIONS"}))
        raise ApiError(405, "method_not_allowed", f"use {allow}", {"Allow": allow})
    raise ApiError(404, "not_found", "no such endpoint")


def _log_access(
    request: ApiRequest, route: Route | None, call: Call, response: ApiResponse, started: float
) -> None:
    context: dict[str, Any] = {
        "route": route.name if route else None,
        "method": request.method,
        "http_status": response.status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
    }
    if "workshop_id" in call.params:
        context["workshop_id"] = call.params["workshop_id"]
    if call.instructor is not None:
        context["owner"] = call.instructor.owner
    log.info("api request", extra=context)
