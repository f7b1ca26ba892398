"""``GET /seats/{seat}/schedule`` (learner) and ``PUT /control/schedule`` (instructor).

The learner page polls the first for its countdown and warnings (the answer carries the
server's time, so a wrong client clock does not move the countdown); the platform calls the
second when the instructor extends or ends the workshop. Warnings are shown by the page
(header and terminal status line), never written into the learner's shell.
"""

from __future__ import annotations

import json

from aiohttp import web

from shared.http_body import read_capped
from workspace_agent.context import CONTEXT
from workspace_agent.errors import ApiError
from workspace_agent.schedule.state import SCHEDULE, parse_time

routes = web.RouteTableDef()
MAX_BODY = 1024


@routes.get("/seats/{seat}/schedule")
async def get_schedule(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    await ctx.auth.http_principal(request)
    return web.json_response(
        request.app[SCHEDULE].view(ctx.clock()), headers={"Cache-Control": "no-store"}
    )


@routes.put("/control/schedule")
async def put_schedule(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    await ctx.auth.instructor(request)
    raw = await read_capped(request, MAX_BODY)
    if len(raw) > MAX_BODY:
        raise ApiError(413, "payload_too_large", "body too large")
    try:
        body = json.loads(raw)
        if not isinstance(body, dict) or not isinstance(body.get("ends_at"), str):
            raise ValueError("ends_at")
        grace = body.get("grace_ends_at")
        if not isinstance(grace, str):
            raise ValueError("grace_ends_at")
        request.app[SCHEDULE].set(parse_time(body["ends_at"]), parse_time(grace))
    except (ValueError, UnicodeDecodeError, OverflowError):
        raise ApiError(
            400, "invalid_request", "ends_at and grace_ends_at: ISO 8601 times with an offset"
        ) from None
    return web.json_response(request.app[SCHEDULE].view(ctx.clock()))


def ensure_downloads_allowed(request: web.Request) -> None:
    """Refuse with 410 once the grace period is over (the host is being destroyed)."""
    ctx = request.app[CONTEXT]
    if not request.app[SCHEDULE].downloads_allowed(ctx.clock()):
        raise ApiError(410, "workshop_ended", "the workshop has ended and its grace period is over")
