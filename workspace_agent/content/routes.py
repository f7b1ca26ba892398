"""The learner's guide API (same authentication as the files API: the seat's learner token,
or an instructor's, which may read but never act for the learner).

* ``GET /seats/{seat}/guide`` → ``{"title", "description", "steps": [{"index", "id",
  "title", "has_check"}], "progress": {"step", "checks_passed"}}``; 404 ``no_content`` when
  the workshop has no content pack.
* ``GET /seats/{seat}/guide/steps/{index}`` → ``{"index", "id", "title", "has_check",
  "markdown"}`` (the page's Markdown as the pack has it: the browser renders and sanitises).
* ``PUT /seats/{seat}/guide/position`` ``{"step": index}`` → the progress (learner only).
* ``POST /seats/{seat}/guide/steps/{index}/check`` → ``{"passed", "message", "exit_code",
  "timed_out", "truncated", "progress"}`` (learner only; 409 ``check_running`` while the
  seat's previous check still runs).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from workspace_agent.auth import Principal
from workspace_agent.content.service import SeatContent, content_of
from workspace_agent.context import CONTEXT
from workspace_agent.errors import ApiError

MAX_BODY = 1024
NO_STORE = {"Cache-Control": "no-store"}

routes = web.RouteTableDef()


async def _guide(request: web.Request) -> tuple[Principal, SeatContent]:
    principal = await request.app[CONTEXT].auth.http_principal(request)
    content = content_of(request.app)
    if content is None:
        raise ApiError(404, "no_content", "this workshop has no guide")
    return principal, content


async def _learner(request: web.Request) -> tuple[Principal, SeatContent]:
    principal, content = await _guide(request)
    if principal.readonly:
        raise ApiError(403, "read_only", "only the seat's learner does this")
    return principal, content


def _index(request: web.Request) -> int:
    raw = request.match_info.get("index", "")
    if not raw.isdigit() or len(raw) > 3:
        raise ApiError(404, "unknown_step", "the guide has no such step")
    return int(raw)


@routes.get("/seats/{seat}/guide")
async def get_guide(request: web.Request) -> web.Response:
    principal, content = await _guide(request)
    manifest = content.pack.manifest
    body = {
        "title": manifest.title,
        "description": manifest.description or "",
        "steps": [
            {"index": i, "id": s.id, "title": s.title, "has_check": s.check is not None}
            for i, s in enumerate(manifest.steps)
        ],
        "progress": content.progress.get(principal.seat).to_json(),
    }
    return web.json_response(body, headers=NO_STORE)


@routes.get("/seats/{seat}/guide/steps/{index}")
async def get_step(request: web.Request) -> web.Response:
    _, content = await _guide(request)
    index = _index(request)
    step = content.step(index)
    body = {
        "index": index,
        "id": step.id,
        "title": step.title,
        "has_check": step.check is not None,
        "markdown": content.pack.guide(index),
    }
    return web.json_response(body, headers=NO_STORE)


@routes.put("/seats/{seat}/guide/position")
async def put_position(request: web.Request) -> web.Response:
    principal, content = await _learner(request)
    body = await _json(request)
    step = body.get("step")
    if not isinstance(step, int) or isinstance(step, bool):
        raise ApiError(400, "invalid_request", "step: must be a step index")
    content.step(step)  # 404 for an index the guide does not have
    progress = await content.progress.set_step(principal.seat, step)
    return web.json_response({"progress": progress.to_json()}, headers=NO_STORE)


@routes.post("/seats/{seat}/guide/steps/{index}/check")
async def post_check(request: web.Request) -> web.Response:
    principal, content = await _learner(request)
    result = await content.check(principal.seat, _index(request))
    body = {**result.to_json(), "progress": content.progress.get(principal.seat).to_json()}
    return web.json_response(body, headers=NO_STORE)


async def _json(request: web.Request) -> dict[str, Any]:
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise ApiError(413, "payload_too_large", "body too large")
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", "body must be JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "body must be a JSON object")
    return body
