"""Host VM routes: a host's workshop API key and the events it reports about itself."""

from __future__ import annotations

from functions.handlers.call import Call
from functions.wire import ApiResponse, json_response
from shared.services import host_credentials as credentials_service
from shared.services import host_events as events_service


def host_credentials(call: Call) -> ApiResponse:
    """The calling host VM's workshop API key: the one response that carries a key, to a VM
    that proved which instance it is (``shared.services.host_credentials``). Never cached."""
    key = credentials_service.issue_api_key(
        call.platform,
        call.request.header("Authorization"),
        call.request.client_ip or "unknown",
        call.verify_id_token,
    )
    return json_response(200, {"api_key": key}, {"Cache-Control": "no-store"})


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
