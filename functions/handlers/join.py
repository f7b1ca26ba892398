"""``POST /api/join``: a learner claims (or reclaims) a seat and gets a signed token."""

from __future__ import annotations

from functions import views
from functions.body import parse_body
from functions.handlers.call import Call
from functions.join_schema import Join
from functions.wire import ApiResponse, json_response
from shared.services import join as join_service


def join(call: Call) -> ApiResponse:
    body = parse_body(Join, call.json())
    request = join_service.JoinRequest(
        body.code, body.reconnect_code, body.client_nonce, body.display_name
    )
    grant = join_service.join(call.platform, request, call.request.client_ip or "unknown")
    return json_response(200, views.join_view(grant))
