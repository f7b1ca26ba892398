"""The API router: ``handle(platform, request) -> response``, shared by every HTTP entry point.

The functions-framework entry points (``functions/main.py``) and the local platform's aiohttp
server both convert their native request into an ``ApiRequest`` and call ``handle``. Each
handler here only parses, calls one service function and serialises (docs/protocol.md §1).

Order of checks for every request: CORS preflight; body size (413); route and method
(404/405); instructor authentication (401) before anything is read or written; body parsing
(400); the service. Every exception becomes a JSON error in ``functions.errors``.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from functions import views
from functions.cockpit_schemas import Broadcast, ChangeModelPolicy, ReleaseSeat, ResetSeat
from functions.cockpit_views import room_view
from functions.cors import cors_headers, preflight_headers
from functions.errors import ApiError, error_response
from functions.schemas import (
    ChangeSchedule,
    CreateWorkshop,
    HostCredentialsRequest,
    Join,
    ModelAccess,
    parse_body,
    parse_time,
    schedule_fields,
)
from functions.wire import (
    MAX_BODY_BYTES,
    MAX_CONTENT_BYTES,
    ApiRequest,
    ApiResponse,
    json_response,
)
from shared.auth.instructor import IdTokenVerifier, Instructor, authenticate
from shared.auth.signing import public_jwks
from shared.bootstrap import Platform
from shared.domain.errors import ValidationError
from shared.domain.model import Workshop, WorkshopStatus, utcnow
from shared.services import broadcast as broadcast_service
from shared.services import (
    cockpit,
    content,
    costs,
    host_credentials,
    host_events,
    model_policy_change,
    seat_actions,
    workshop_delete,
)
from shared.services import join as join_service
from shared.services import schedule as schedule_service
from shared.services import usage as usage_service
from shared.services import workshops as workshop_service
from shared.services.errors import NotImplementedYet

log = logging.getLogger(__name__)

S = WorkshopStatus
LIST_LIMIT_MAX = 200
CURSOR_MAX = 1024


@dataclass
class Call:
    """One request on its way through a handler."""

    platform: Platform
    request: ApiRequest
    params: dict[str, str] = field(default_factory=dict)
    instructor: Instructor | None = None
    #: Replaces google-auth's ID-token verifier (tests); ``None``: the real one.
    verify_id_token: IdTokenVerifier | None = None

    @property
    def caller(self) -> Instructor:
        if self.instructor is None:  # a route table bug, not a client error
            raise RuntimeError("instructor route called without authentication")
        return self.instructor

    @property
    def workshop_id(self) -> str:
        return self.params["workshop_id"]

    def json(self) -> Any:
        return decode_json(self.request.body)


Handler = Callable[[Call], ApiResponse]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    name: str
    #: The route's area (documentation only: ``functions.entrypoints`` assigns routes to
    #: entry points by ``name``).
    group: str
    instructor: bool
    handler: Handler
    #: Largest request body this route takes (larger: 413 before anything is parsed).
    max_body: int = MAX_BODY_BYTES

    @property
    def pattern(self) -> re.Pattern[str]:
        return _compile(self.template)


@cache
def _compile(template: str) -> re.Pattern[str]:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[A-Za-z0-9_-]{1,64})", template)
    return re.compile(f"^{regex}$")


def decode_json(body: bytes) -> Any:
    """Strict JSON: UTF-8, no NaN/Infinity, bounded nesting; ``ValidationError`` otherwise."""
    if not body.strip():
        raise ValidationError("body", "a JSON object is required")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationError("body", "must be UTF-8 encoded JSON") from None
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise ValidationError("body", "must be valid JSON") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# ---------------------------------------------------------------------------- handlers


def _health(call: Call) -> ApiResponse:
    return json_response(200, {"status": "ok"})


def _jwks(call: Call) -> ApiResponse:
    settings = call.platform.settings
    document = public_jwks(call.platform.secrets, settings.jwt_key_secret)
    return json_response(200, document, {"Cache-Control": "public, max-age=300"})


def _openapi(call: Call) -> ApiResponse:
    from functions.openapi import openapi_document

    return json_response(200, openapi_document())


def _join(call: Call) -> ApiResponse:
    body = parse_body(Join, call.json())
    request = join_service.JoinRequest(
        body.code, body.reconnect_code, body.client_nonce, body.display_name
    )
    grant = join_service.join(call.platform, request, call.request.client_ip or "unknown")
    return json_response(200, views.join_view(grant))


def _host_credentials(call: Call) -> ApiResponse:
    """The calling host VM's workshop API key, or the deployment TLS certificate (body
    ``{"credential": "tls_certificate"}``): the responses that carry a key, to a VM that
    proved which instance it is (``shared.services.host_credentials``). Never cached."""
    wanted = "api_key"
    if call.request.body.strip():
        wanted = parse_body(HostCredentialsRequest, call.json()).credential
    args = (
        call.platform,
        call.request.header("Authorization"),
        call.request.client_ip or "unknown",
        call.verify_id_token,
    )
    if wanted == "tls_certificate":
        bundle = host_credentials.issue_certificate(*args)
        payload: dict[str, Any] = {
            "certificate_pem": bundle.fullchain_pem,
            "private_key_pem": bundle.private_key_pem,
            "names": list(bundle.names),
            "not_after": bundle.not_after.isoformat(),
        }
    else:
        payload = {"api_key": host_credentials.issue_api_key(*args)}
    return json_response(200, payload, {"Cache-Control": "no-store"})


def _host_events(call: Call) -> ApiResponse:
    """An event a host reports about itself, accepted once it proved which host it is
    (``shared.services.host_events``) and published to the provisioner."""
    message_id = host_events.accept_host_event(
        call.platform,
        call.request.header("Authorization"),
        call.request.body,
        call.request.client_ip or "unknown",
        call.verify_id_token,
    )
    return json_response(202, {"message_id": message_id})


def _host_content(call: Call) -> ApiResponse:
    """The calling host's workshop content pack (the zip), 204 if the workshop has none."""
    data = content.host_content(
        call.platform,
        call.request.header("Authorization"),
        dict(call.request.query),
        call.request.client_ip or "unknown",
        call.verify_id_token,
    )
    if data is None:
        return ApiResponse(204, b"", {"Cache-Control": "no-store"})
    headers = {
        "Content-Type": "application/zip",
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }
    return ApiResponse(200, data, headers)


def _put_content(call: Call) -> ApiResponse:
    pack = content.upload_content(call.platform, call.caller, call.workshop_id, call.request.body)
    return json_response(200, {"content": views.content_view(pack)})


def _progress(call: Call) -> ApiResponse:
    found = content.progress(call.platform, call.caller, call.workshop_id)
    return json_response(200, views.progress_view(found), {"Cache-Control": "no-store"})


def _create(call: Call) -> ApiResponse:
    body = parse_body(CreateWorkshop, call.json())
    workshop = workshop_service.create_workshop(
        call.platform,
        call.caller,
        name=body.name,
        seats=body.seats,
        api_key=body.api_key,
        seats_per_host=body.seats_per_host,
        model_policy=body.model_policy.model_dump(mode="json") if body.model_policy else None,
        schedule=schedule_fields(body.schedule),
    )
    return json_response(201, {"workshop": _with_cost(call, workshop)})


def _with_cost(call: Call, workshop: Workshop, *, so_far: bool = False) -> dict[str, Any]:
    """The workshop view with its cost: estimate (until stopped), final (once stopped), and
    with ``so_far`` the running tally (one usage read)."""
    now = utcnow()
    tally = costs.spent_so_far(call.platform, workshop, now) if so_far else None
    return views.workshop_view(
        workshop, costs.cost_view(call.platform.settings, workshop, now, tally)
    )


def _list(call: Call) -> ApiResponse:
    limit = _query_limit(call.request.query.get("limit"))
    cursor = call.request.query.get("cursor") or None
    if cursor is not None and len(cursor) > CURSOR_MAX:
        raise ValidationError("cursor", "is not a cursor this API issued")
    try:
        page = workshop_service.list_workshops(
            call.platform, call.caller, limit=limit, cursor=cursor
        )
    except ValueError:  # the store could not decode the opaque cursor
        raise ValidationError("cursor", "is not a cursor this API issued") from None
    return json_response(
        200,
        {
            "workshops": [_with_cost(call, w) for w in page.workshops],
            "next_cursor": page.next_cursor,
        },
    )


def _query_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return 50
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= LIST_LIMIT_MAX:
        raise ValidationError("limit", f"must be an integer between 1 and {LIST_LIMIT_MAX}")
    return int(raw)


def _get(call: Call) -> ApiResponse:
    workshop = workshop_service.get_workshop(call.platform, call.caller, call.workshop_id)
    billed = workshop.billing_started_at is not None and workshop.status is not S.STOPPED
    return json_response(200, {"workshop": _with_cost(call, workshop, so_far=billed)})


def _start(call: Call) -> ApiResponse:
    workshop = workshop_service.start_workshop(call.platform, call.caller, call.workshop_id)
    return json_response(202, {"workshop": _with_cost(call, workshop)})


def _stop(call: Call) -> ApiResponse:
    workshop = workshop_service.stop_workshop(call.platform, call.caller, call.workshop_id)
    return json_response(202, {"workshop": _with_cost(call, workshop)})


def _change_schedule(call: Call) -> ApiResponse:
    body = parse_body(ChangeSchedule, call.json())
    change = schedule_service.ScheduleChange(
        ends_at=parse_time("ends_at", body.ends_at),
        extend_minutes=body.extend_minutes,
        end_now=bool(body.end_now),
    )
    workshop = schedule_service.change_schedule(
        call.platform, call.caller, call.workshop_id, change
    )
    return json_response(200, {"workshop": _with_cost(call, workshop)})


def _seats(call: Call) -> ApiResponse:
    seats = workshop_service.list_seats(call.platform, call.caller, call.workshop_id)
    return json_response(200, {"seats": [views.seat_view(s) for s in seats]})


def _usage(call: Call) -> ApiResponse:
    workshop = workshop_service.get_workshop(call.platform, call.caller, call.workshop_id)
    return json_response(200, views.usage_view(usage_service.get_usage(call.platform, workshop)))


def _room(call: Call) -> ApiResponse:
    """The cockpit's one poll: workshop, hosts, cost so far, every seat with its usage."""
    room = cockpit.room(call.platform, call.caller, call.workshop_id)
    workshop = _with_cost(call, room.workshop, so_far=cockpit.billed(room.workshop))
    return json_response(200, room_view(room, workshop), {"Cache-Control": "no-store"})


def _broadcast(call: Call) -> ApiResponse:
    body = parse_body(Broadcast, call.json())
    result = broadcast_service.broadcast(
        call.platform, call.caller, call.workshop_id, body.message, utcnow()
    )
    hosts = {str(index): ok for index, ok in result.hosts.items()}
    return json_response(200, {"broadcast": result.broadcast, "hosts": hosts})


def _release_seat(call: Call) -> ApiResponse:
    body = parse_body(ReleaseSeat, call.json())
    released = seat_actions.release_seat(
        call.platform, call.caller, call.workshop_id, body.seat, utcnow()
    )
    view = {"seat": released.seat, "host": released.host, "host_told": released.host_told}
    return json_response(200, view)


def _reset_seat(call: Call) -> ApiResponse:
    body = parse_body(ResetSeat, call.json())
    reset = seat_actions.reset_seat(call.platform, call.caller, call.workshop_id, body.seat)
    return json_response(200, {"seat": reset.seat, "host": reset.host})


def _change_model_policy(call: Call) -> ApiResponse:
    body = parse_body(ChangeModelPolicy, call.json())
    changed = model_policy_change.change_model_policy(
        call.platform, call.caller, call.workshop_id, body.model_policy.model_dump(mode="json")
    )
    hosts = {str(index): ok for index, ok in changed.hosts.items()}
    return json_response(200, {"workshop": _with_cost(call, changed.workshop), "hosts": hosts})


def _delete(call: Call) -> ApiResponse:
    workshop_delete.delete_workshop(call.platform, call.caller, call.workshop_id)
    return json_response(200, {"deleted": call.workshop_id})


def _shadow_token(call: Call) -> ApiResponse:
    grant = workshop_service.shadow_token(call.platform, call.caller, call.workshop_id)
    return json_response(200, views.shadow_view(grant))


def _model_access(call: Call) -> ApiResponse:
    workshop = workshop_service.get_workshop(call.platform, call.caller, call.workshop_id)
    body = parse_body(ModelAccess, call.json())
    if body.seat is not None:
        one = seat_actions.set_seat_model_access(
            call.platform, call.caller, workshop.id, body.seat, body.paused
        )
        view = {
            "seat": one.seat,
            "paused": one.paused,
            "host": one.host,
            "host_told": one.host_told,
        }
        return json_response(200, {"workshop": _with_cost(call, one.workshop), **view})
    try:
        from shared.services.model_access import set_model_access
    except ModuleNotFoundError as exc:
        if exc.name != "shared.services.model_access":
            raise
        raise NotImplementedYet("model access control is not available in this build") from None
    result = set_model_access(call.platform, workshop, body.paused)
    log.info(
        "model access paused for every seat" if body.paused else "model access resumed",
        extra={"workshop_id": workshop.id, "owner": call.caller.owner},
    )
    updated = (
        result if isinstance(result, Workshop) else call.platform.store.get_workshop(workshop.id)
    )
    return json_response(200, {"workshop": _with_cost(call, updated or workshop)})


W = "/api/workshops/{workshop_id}"
ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/health", "health", "health", False, _health),
    Route("GET", "/api/jwks.json", "jwks", "jwks", False, _jwks),
    Route("GET", "/api/openapi.json", "openapi", "workshops", False, _openapi),
    Route("POST", "/api/join", "join", "join", False, _join),
    # Public like join (their own check is a Google-signed instance identity token).
    Route("POST", "/api/hosts/credentials", "host_credentials", "hosts", False, _host_credentials),
    Route("POST", host_events.EVENTS_PATH, "host_events", "hosts", False, _host_events),
    Route("GET", content.HOST_CONTENT_PATH, "host_content", "hosts", False, _host_content),
    Route("POST", "/api/workshops", "create_workshop", "workshops", True, _create),
    Route("GET", "/api/workshops", "list_workshops", "workshops", True, _list),
    Route("GET", W, "get_workshop", "workshops", True, _get),
    Route("POST", W + "/start", "start_workshop", "workshops", True, _start),
    Route("POST", W + "/stop", "stop_workshop", "workshops", True, _stop),
    Route("POST", W + "/schedule", "change_schedule", "workshops", True, _change_schedule),
    Route("GET", W + "/seats", "list_seats", "workshops", True, _seats),
    Route("GET", W + "/usage", "get_usage", "workshops", True, _usage),
    Route("GET", W + "/progress", "get_progress", "workshops", True, _progress),
    Route("PUT", W + "/content", "put_content", "workshops", True, _put_content, MAX_CONTENT_BYTES),
    Route("POST", W + "/model-access", "set_model_access", "workshops", True, _model_access),
    Route("POST", W + "/model-policy", "set_model_policy", "workshops", True, _change_model_policy),
    Route("POST", W + "/shadow-token", "shadow_token", "workshops", True, _shadow_token),
    Route("GET", W + "/room", "get_room", "workshops", True, _room),
    Route("POST", W + "/broadcast", "broadcast", "workshops", True, _broadcast),
    Route("POST", W + "/release-seat", "release_seat", "workshops", True, _release_seat),
    Route("POST", W + "/reset-seat", "reset_seat", "workshops", True, _reset_seat),
    Route("DELETE", W, "delete_workshop", "workshops", True, _delete),
)


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
    plus one byte); ``MAX_BODY_BYTES`` for anything else."""
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
