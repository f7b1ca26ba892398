"""The read-only routes: list and get workshops, their seats, usage, content progress and the
cockpit's room.

Nothing here writes state (the ``workshops`` function's account is ``roles/datastore.viewer``).
"""

from __future__ import annotations

from functions import views
from functions.cockpit_views import room_view
from functions.handlers.call import Call
from functions.handlers.workshop_view import with_cost
from functions.wire import ApiResponse, json_response
from shared.domain.errors import ValidationError
from shared.domain.model import WorkshopStatus
from shared.services import cockpit
from shared.services import content as content_service
from shared.services import usage as usage_service
from shared.services import workshops as workshop_service

LIST_LIMIT_MAX = 200
CURSOR_MAX = 1024


def list_workshops(call: Call) -> ApiResponse:
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
            "workshops": [with_cost(call, w) for w in page.workshops],
            "next_cursor": page.next_cursor,
        },
    )


def _query_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return 50
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= LIST_LIMIT_MAX:
        raise ValidationError("limit", f"must be an integer between 1 and {LIST_LIMIT_MAX}")
    return int(raw)


def get_workshop(call: Call) -> ApiResponse:
    workshop = workshop_service.get_workshop(call.platform, call.caller, call.workshop_id)
    stopped = workshop.status is WorkshopStatus.STOPPED
    billed = workshop.billing_started_at is not None and not stopped
    return json_response(200, {"workshop": with_cost(call, workshop, so_far=billed)})


def seats(call: Call) -> ApiResponse:
    found = workshop_service.list_seats(call.platform, call.caller, call.workshop_id)
    return json_response(200, {"seats": [views.seat_view(s) for s in found]})


def usage(call: Call) -> ApiResponse:
    workshop = workshop_service.get_workshop(call.platform, call.caller, call.workshop_id)
    return json_response(200, views.usage_view(usage_service.get_usage(call.platform, workshop)))


def progress(call: Call) -> ApiResponse:
    """Each seat's place in the workshop's content pack, and how many seats are at each step."""
    found = content_service.progress(call.platform, call.caller, call.workshop_id)
    return json_response(200, views.progress_view(found), {"Cache-Control": "no-store"})


def room(call: Call) -> ApiResponse:
    """The cockpit's one poll: workshop, hosts, cost so far, every seat with its usage."""
    found = cockpit.room(call.platform, call.caller, call.workshop_id)
    workshop = with_cost(call, found.workshop, so_far=cockpit.billed(found.workshop))
    return json_response(200, room_view(found, workshop), {"Cache-Control": "no-store"})
