"""``POST /api/workshops``: create a workshop (and its API key secret)."""

from __future__ import annotations

from functions.handlers.call import Call
from functions.handlers.workshop_view import with_cost
from functions.schemas import CreateWorkshop, parse_body, schedule_fields
from functions.wire import ApiResponse, json_response
from shared.services import workshops as workshop_service


def create(call: Call) -> ApiResponse:
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
    return json_response(201, {"workshop": with_cost(call, workshop)})
