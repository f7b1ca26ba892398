"""The preview's API on the agent's own origin (bearer tokens, like every agent route).

* ``GET /seats/{seat}/preview/ports``: the seat's listening ports (1024-65535, the agent's
  own forwarded port excluded), each with its preview origin and whether it is shared.
  The learner of the seat, or an instructor.
* ``POST /seats/{seat}/preview/ports/{port}/open``: a one-time URL on the preview origin
  (``CODE_TTL`` seconds, single use). The seat's learner; an instructor only for a port the
  learner shares (403 ``not_shared``).
* ``PUT /seats/{seat}/preview/ports/{port}/shared`` ``{"shared": bool}``: the seat's learner
  shares the port with the instructor, or stops (ending the instructor's preview sessions).
"""

from __future__ import annotations

import re
from urllib.parse import quote

from aiohttp import web

from workspace_agent.context import CONTEXT
from workspace_agent.errors import ApiError
from workspace_agent.logs import log_event
from workspace_agent.preview.grants import Viewer
from workspace_agent.preview.proxy import AUTH_PATH
from workspace_agent.preview.reach import Unreachable
from workspace_agent.preview.state import PREVIEW

routes = web.RouteTableDef()
_PORT = re.compile(r"[1-9][0-9]{3,4}", re.ASCII)
NO_STORE = {"Cache-Control": "no-store"}


def _port(request: web.Request) -> int:
    raw = request.match_info.get("port", "")
    port = int(raw) if _PORT.fullmatch(raw) else 0
    if not 1024 <= port <= 65535 or port == request.app[CONTEXT].settings.port:
        raise ApiError(404, "unknown_port", "previews are for ports 1024-65535 of the seat")
    return port


@routes.get("/seats/{seat}/preview/ports")
async def list_ports(request: web.Request) -> web.Response:
    ctx, preview = request.app[CONTEXT], request.app[PREVIEW]
    principal = await ctx.auth.http_principal(request)
    seat = principal.seat
    try:
        listening = await preview.reach.listening(seat)
    except Unreachable:
        listening = []
    shared = preview.grants.shared_ports(seat)
    ports = [
        {"port": p, "origin": preview.origins.origin(seat, p), "shared": p in shared}
        for p in sorted(set(listening) | shared)
        if p in listening or p in shared
    ]
    body = {"ports": [{**p, "listening": p["port"] in listening} for p in ports]}
    return web.json_response(body, headers=NO_STORE)


@routes.post("/seats/{seat}/preview/ports/{port}/open")
async def open_port(request: web.Request) -> web.Response:
    ctx, preview = request.app[CONTEXT], request.app[PREVIEW]
    principal = await ctx.auth.http_principal(request)
    port = _port(request)
    instructor = principal.claims.is_instructor
    if instructor and not preview.grants.is_shared(principal.seat, port):
        raise ApiError(403, "not_shared", "the learner has not shared this port")
    viewer = Viewer(principal.seat, port, instructor, principal.claims.issued_at)
    code = preview.grants.issue_code(viewer)
    origin = preview.origins.origin(principal.seat, port)
    log_event(preview.log, "preview_code_issued", seat=principal.seat, port=port)
    return web.json_response(
        {"url": f"{origin}{AUTH_PATH}?code={quote(code)}", "origin": origin}, headers=NO_STORE
    )


@routes.put("/seats/{seat}/preview/ports/{port}/shared")
async def share_port(request: web.Request) -> web.Response:
    ctx, preview = request.app[CONTEXT], request.app[PREVIEW]
    principal = await ctx.auth.http_principal(request)
    if principal.readonly:
        raise ApiError(403, "read_only", "only the seat's learner shares its ports")
    port = _port(request)
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(400, "invalid_json", "the body must be JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("shared"), bool):
        raise ApiError(400, "invalid_body", 'the body must be {"shared": true|false}')
    preview.grants.share(principal.seat, port, body["shared"])
    log_event(preview.log, "preview_shared", seat=principal.seat, port=port, shared=body["shared"])
    return web.json_response({"port": port, "shared": body["shared"]}, headers=NO_STORE)
