"""``GET /healthz`` (the process answers, and how loaded the host is) and ``GET /readyz``
(every seat is ready)."""

from __future__ import annotations

from aiohttp import web

from workspace_agent.context import CONTEXT
from workspace_agent.load import LoadSampler

routes = web.RouteTableDef()
_sampler: list[LoadSampler] = []  # one per process (one agent per process), made on first use


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    if not _sampler:
        _sampler.append(LoadSampler())
    return web.json_response({"status": "ok", "load": _sampler[0].sample()})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    body = ctx.readiness.report()
    body["keys"] = ctx.keys.loaded
    ready = body["ready"] and ctx.keys.loaded
    body["ready"] = ready
    return web.json_response(body, status=200 if ready else 503)
