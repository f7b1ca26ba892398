"""Start and stop a workshop (each publishes one event to the provisioner)."""

from __future__ import annotations

from functions.handlers.call import Call
from functions.handlers.workshop_view import with_cost
from functions.wire import ApiResponse, json_response
from shared.services import workshops as workshop_service


def start(call: Call) -> ApiResponse:
    workshop = workshop_service.start_workshop(call.platform, call.caller, call.workshop_id)
    return json_response(202, {"workshop": with_cost(call, workshop)})


def stop(call: Call) -> ApiResponse:
    workshop = workshop_service.stop_workshop(call.platform, call.caller, call.workshop_id)
    return json_response(202, {"workshop": with_cost(call, workshop)})
