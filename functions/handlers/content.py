"""``PUT /api/workshops/{id}/content``: upload a workshop's content pack (a zip, up to
``functions.wire.MAX_CONTENT_BYTES``; the route's ``max_body``)."""

from __future__ import annotations

from functions import views
from functions.handlers.call import Call
from functions.wire import ApiResponse, json_response
from shared.services import content as content_service


def put_content(call: Call) -> ApiResponse:
    pack = content_service.upload_content(
        call.platform, call.caller, call.workshop_id, call.request.body
    )
    return json_response(200, {"content": views.content_view(pack)})
