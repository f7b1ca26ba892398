"""``GET /healthz`` (the process answers) and ``GET /readyz`` (every seat is ready)."""

from __future__ import annotations

from aiohttp import web

from workspace_agent.context import CONTEXT

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    body = ctx.readiness.report()
    body["keys"] = ctx.keys.loaded
    ready = body["ready"] and ctx.keys.loaded
    body["ready"] = ready
    return web.json_response(body, status=200 if ready else 503)
