"""Host VM routes: a host's workshop API key (or the deployment TLS certificate), its
workshop's content pack, and the events it reports about itself."""

from __future__ import annotations

from typing import Any

from functions.body import parse_body
from functions.handlers.call import Call
from functions.host_schema import HostCredentialsRequest
from functions.wire import ApiResponse, json_response
from shared.services import content as content_service
from shared.services import host_credentials as credentials_service
from shared.services import host_events as events_service


def host_credentials(call: Call) -> ApiResponse:
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
        bundle = credentials_service.issue_certificate(*args)
        payload: dict[str, Any] = {
            "certificate_pem": bundle.fullchain_pem,
            "private_key_pem": bundle.private_key_pem,
            "names": list(bundle.names),
            "not_after": bundle.not_after.isoformat(),
        }
    else:
        payload = {"api_key": credentials_service.issue_api_key(*args)}
    return json_response(200, payload, {"Cache-Control": "no-store"})


def host_content(call: Call) -> ApiResponse:
    """The calling host's workshop content pack (the zip), 204 if the workshop has none."""
    data = content_service.host_content(
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


def host_events(call: Call) -> ApiResponse:
    """An event a host reports about itself, accepted once it proved which host it is
    (``shared.services.host_events``) and published to the provisioner."""
    message_id = events_service.accept_host_event(
        call.platform,
        call.request.header("Authorization"),
        call.request.body,
        call.request.client_ip or "unknown",
        call.verify_id_token,
    )
    return json_response(202, {"message_id": message_id})
