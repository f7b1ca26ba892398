"""Instructor control actions on a workshop: schedule, model access (every seat or one) and
model policy, shadow tokens, the cockpit's broadcast and seat actions, and delete (the
``control`` function's routes)."""

from __future__ import annotations

import logging

from functions import views
from functions.cockpit_schemas import Broadcast, ChangeModelPolicy, ReleaseSeat, ResetSeat
from functions.handlers.call import Call
from functions.handlers.workshop_view import with_cost
from functions.schemas import ChangeSchedule, ModelAccess, parse_body, parse_time
from functions.wire import ApiResponse, json_response
from shared.domain.model import Workshop, utcnow
from shared.services import broadcast as broadcast_service
from shared.services import model_policy_change, seat_actions, workshop_delete
from shared.services import schedule as schedule_service
from shared.services import workshops as workshop_service
from shared.services.errors import NotImplementedYet

log = logging.getLogger(__name__)


def change_schedule(call: Call) -> ApiResponse:
    body = parse_body(ChangeSchedule, call.json())
    change = schedule_service.ScheduleChange(
        ends_at=parse_time("ends_at", body.ends_at),
        extend_minutes=body.extend_minutes,
        end_now=bool(body.end_now),
    )
    workshop = schedule_service.change_schedule(
        call.platform, call.caller, call.workshop_id, change
    )
    return json_response(200, {"workshop": with_cost(call, workshop)})


def broadcast(call: Call) -> ApiResponse:
    body = parse_body(Broadcast, call.json())
    result = broadcast_service.broadcast(
        call.platform, call.caller, call.workshop_id, body.message, utcnow()
    )
    hosts = {str(index): ok for index, ok in result.hosts.items()}
    return json_response(200, {"broadcast": result.broadcast, "hosts": hosts})


def release_seat(call: Call) -> ApiResponse:
    body = parse_body(ReleaseSeat, call.json())
    released = seat_actions.release_seat(
        call.platform, call.caller, call.workshop_id, body.seat, utcnow()
    )
    view = {"seat": released.seat, "host": released.host, "host_told": released.host_told}
    return json_response(200, view)


def reset_seat(call: Call) -> ApiResponse:
    body = parse_body(ResetSeat, call.json())
    reset = seat_actions.reset_seat(call.platform, call.caller, call.workshop_id, body.seat)
    return json_response(200, {"seat": reset.seat, "host": reset.host})


def change_model_policy(call: Call) -> ApiResponse:
    body = parse_body(ChangeModelPolicy, call.json())
    changed = model_policy_change.change_model_policy(
        call.platform, call.caller, call.workshop_id, body.model_policy.model_dump(mode="json")
    )
    hosts = {str(index): ok for index, ok in changed.hosts.items()}
    return json_response(200, {"workshop": with_cost(call, changed.workshop), "hosts": hosts})


def delete(call: Call) -> ApiResponse:
    workshop_delete.delete_workshop(call.platform, call.caller, call.workshop_id)
    return json_response(200, {"deleted": call.workshop_id})


def shadow_token(call: Call) -> ApiResponse:
    grant = workshop_service.shadow_token(call.platform, call.caller, call.workshop_id)
    return json_response(200, views.shadow_view(grant))


def model_access(call: Call) -> ApiResponse:
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
        return json_response(200, {"workshop": with_cost(call, one.workshop), **view})
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
    return json_response(200, {"workshop": with_cost(call, updated or workshop)})
