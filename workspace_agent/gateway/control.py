"""Instructor control endpoints of the gateway (docs/protocol.md section 3).

``PUT /control/model-access`` ``{"paused": bool}`` -> 200 ``{"paused": bool}`` (kill switch;
resuming every seat also lifts single-seat pauses), or ``{"paused": bool, "seat": n}`` -> 200
``{"seat": n, "paused": bool}`` for one seat this host serves (404 ``unknown_seat`` otherwise);
``PUT /control/model-policy`` ``{"model_policy": ModelPolicy}`` -> 200 ``{"applied": true}``
(the instructor changed the policy: limits and prices apply to the next request);
``GET /control/usage`` -> 200 ``{"seats": {"<n>": totals}}``. Both need an instructor-role
learner-format JWT for this workshop. The check is injected (``InstructorCheck``): the agent
passes its ``Authenticator.instructor`` (which raises ``ApiError``, turned into JSON by the
agent's error middleware); ``instructor_check`` builds a self-contained one for other hosts
and tests. Errors use the platform shape ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError as PydanticValidationError

from shared.auth.tokens import InvalidToken, TokenClaims, verify_token
from shared.domain.model_policy import ModelPolicy
from shared.http_body import read_capped

if TYPE_CHECKING:
    from workspace_agent.gateway.service import GatewayHandle

#: Returns if the request carries a valid instructor token for this workshop; raises otherwise.
InstructorCheck = Callable[[web.Request], Awaitable[object]]
KeysProvider = Callable[[], Awaitable[Mapping[str, rsa.RSAPublicKey]]]

_MAX_CONTROL_BODY = 1024
#: A whole model policy (price table, 500 seat overrides, CLAUDE.md) fits in the API's 64 KiB.
_MAX_POLICY_BODY = 128 * 1024


def instructor_check(keys: KeysProvider, *, issuer: str, workshop_id: str) -> InstructorCheck:
    """An ``InstructorCheck`` verifying ``Authorization: Bearer`` with ``verify_token``;
    refuses with a JSON ``web.HTTPException`` (401 bad/missing token, 403 not an instructor)."""

    async def check(request: web.Request) -> TokenClaims:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _refusal(web.HTTPUnauthorized, "unauthorized", "A bearer token is required.")
        try:
            claims = verify_token(
                token.strip(), keys=await keys(), issuer=issuer, workshop_id=workshop_id
            )
        except InvalidToken:
            raise _refusal(
                web.HTTPUnauthorized, "invalid_token", "The token is not valid for this workshop."
            ) from None
        if not claims.is_instructor:
            raise _refusal(web.HTTPForbidden, "forbidden", "Instructor role required.")
        return claims

    return check


def _body(code: str, message: str) -> str:
    return json.dumps({"error": {"code": code, "message": message}})


def _refusal(kind: type[web.HTTPException], code: str, message: str) -> web.HTTPException:
    return kind(text=_body(code, message), content_type="application/json")


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def control_routes(handle: GatewayHandle, check: InstructorCheck) -> list[web.RouteDef]:
    async def put_model_access(request: web.Request) -> web.Response:
        await check(request)
        raw = await read_capped(request, _MAX_CONTROL_BODY)
        if len(raw) > _MAX_CONTROL_BODY:
            return _error(413, "payload_too_large", "Body too large.")
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return _error(400, "invalid_json", "Body must be JSON.")
        paused = body.get("paused") if isinstance(body, dict) else None
        if not isinstance(paused, bool):
            return _error(400, "invalid_request", "paused: must be true or false.")
        seat = body.get("seat")
        if seat is None:
            await handle.set_paused(paused)
            return web.json_response({"paused": handle.paused})
        if not isinstance(seat, int) or isinstance(seat, bool):
            return _error(400, "invalid_request", "seat: must be a seat number.")
        if not handle.config.serves(seat):
            return _error(404, "unknown_seat", f"Seat {seat} is not served by this host.")
        await handle.set_paused(paused, seat)
        return web.json_response({"seat": seat, "paused": seat in handle.paused_seats})

    async def put_model_policy(request: web.Request) -> web.Response:
        await check(request)
        raw = await read_capped(request, _MAX_POLICY_BODY)
        if len(raw) > _MAX_POLICY_BODY:
            return _error(413, "payload_too_large", "Body too large.")
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return _error(400, "invalid_json", "Body must be JSON.")
        raw_policy = body.get("model_policy") if isinstance(body, dict) else None
        try:
            policy = ModelPolicy.model_validate(raw_policy, strict=True)
        except PydanticValidationError as exc:
            where = ".".join(str(p) for p in exc.errors()[0]["loc"]) or "model_policy"
            return _error(400, "invalid_request", f"model_policy.{where}: is not valid.")
        await handle.set_policy(policy)
        return web.json_response({"applied": True})

    async def get_usage(request: web.Request) -> web.Response:
        await check(request)
        return web.json_response({"seats": handle.usage_snapshot()})

    return [
        web.put("/control/model-access", put_model_access),
        web.put("/control/model-policy", put_model_policy),
        web.get("/control/usage", get_usage),
    ]
