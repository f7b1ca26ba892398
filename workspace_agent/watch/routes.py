"""``WS /seats/{seat}/watch``: the seat's file changes, pushed to one page (docs/protocol.md §3).

Refusals happen before the upgrade, with a JSON HTTP error: Origin (403), token and seat
(401/403/404; the token is the ``bearer.<JWT>`` subprotocol next to ``clarateach.watch.v1``,
never the URL), seat readiness (503), sockets per seat (429). Then the server sends
``{"type": "hello", "excluded": [...]}`` and, per batch, ``{"type": "changes", "paths": [...]}``
or ``{"type": "resync"}`` (list again whatever is shown), plus ``{"type": "limited"}`` once
when the workspace has more directories than the agent watches. The socket closes with 4401
when the token expires (the page reconnects with a fresh one). Client messages are ignored.

The "Changes" view (``review.py``), with the files API's auth (Authorization header):
``GET /seats/{seat}/changes`` → ``{"since", "files": [{"path", "status"}]}``;
``GET /seats/{seat}/changes/original?path=P`` → the reviewed version's bytes (404 if none);
``POST /seats/{seat}/changes/reviewed`` → a new review base (learners only; 200 ``{"since"}``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator

from aiohttp import WSMsgType, web

from workspace_agent.auth import bearer_from_subprotocols, origin_allowed
from workspace_agent.context import CONTEXT
from workspace_agent.errors import ApiError
from workspace_agent.files.safe_fs import FsError
from workspace_agent.logs import log_event
from workspace_agent.terminal.registry import CLOSE_GOING_AWAY, CLOSE_TOKEN_EXPIRED
from workspace_agent.watch.hub import EXCLUDED, Batch, Subscription, WatchHub
from workspace_agent.watch.review import ReviewBase

log = logging.getLogger("workspace_agent.watch")
routes = web.RouteTableDef()

WATCH_SUBPROTOCOL = "clarateach.watch.v1"
HUB = web.AppKey("watch_hub", WatchHub)
SOCKETS = web.AppKey("watch_sockets", dict)
MAX_SOCKETS_PER_SEAT = 8  # one per open page; a learner with many tabs still fits
HEARTBEAT_SECONDS = 30.0


def setup_watch(app: web.Application) -> None:
    """Mount the route and own the hub (stopped, with its inotify fds, at cleanup)."""
    settings = app[CONTEXT].settings
    app[HUB] = WatchHub(settings.workspace)
    app[SOCKETS] = {}
    app.add_routes(routes)
    app.on_shutdown.append(_close_sockets)
    app.on_cleanup.append(_close_hub)
    app.cleanup_ctx.append(_first_review_bases)


def review_base(app: web.Application, seat: int) -> ReviewBase:
    settings = app[CONTEXT].settings
    return ReviewBase(settings.workspace(seat), settings.seats_dir / str(seat) / "review-base")


async def _first_review_bases(app: web.Application) -> AsyncIterator[None]:
    """Snapshot each seat once it is up (whatever the workshop put there), unless one exists."""
    task = asyncio.create_task(_snapshot_when_ready(app), name="review-bases")
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def _snapshot_when_ready(app: web.Application) -> None:
    ctx = app[CONTEXT]
    loop = asyncio.get_running_loop()
    pending = set(ctx.settings.seats)
    while pending:
        for seat in sorted(pending):
            if ctx.readiness.seat_ready(seat):
                pending.discard(seat)
                base = review_base(app, seat)
                if not base.exists():
                    try:
                        await loop.run_in_executor(None, base.take)
                    except OSError as exc:
                        log_event(
                            log,
                            "review_base_failed",
                            level=logging.WARNING,
                            seat=seat,
                            error=type(exc).__name__,
                        )
        await asyncio.sleep(0.5)


async def _close_sockets(app: web.Application) -> None:
    sockets: dict[web.WebSocketResponse, int] = app[SOCKETS]
    for ws in list(sockets):
        await ws.close(code=CLOSE_GOING_AWAY, message=b"agent_shutdown")


async def _close_hub(app: web.Application) -> None:
    await app[HUB].close()


@routes.get("/seats/{seat}/watch")
async def watch(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    if not origin_allowed(request, ctx.settings.allowed_origins):
        raise ApiError(403, "origin_not_allowed", "this origin may not watch files")
    principal = await ctx.auth.principal(
        request, bearer_from_subprotocols(request, WATCH_SUBPROTOCOL)
    )
    seat = principal.seat
    if not ctx.readiness.seat_ready(seat):
        raise ApiError(503, "seat_not_ready", "the seat is starting; retry shortly")
    ws = web.WebSocketResponse(
        protocols=(WATCH_SUBPROTOCOL,), heartbeat=HEARTBEAT_SECONDS, max_msg_size=4096
    )
    if not ws.can_prepare(request).ok:
        raise ApiError(400, "websocket_required", "this endpoint speaks WebSocket only")
    sockets: dict[web.WebSocketResponse, int] = request.app[SOCKETS]
    if sum(1 for s in sockets.values() if s == seat) >= MAX_SOCKETS_PER_SEAT:
        raise ApiError(429, "too_many_watchers", "too many pages are watching this seat")
    sockets[ws] = seat
    subscription: Subscription | None = None
    try:
        subscription = await request.app[HUB].subscribe(seat)
        await ws.prepare(request)
        await ws.send_str(json.dumps({"type": "hello", "excluded": sorted(EXCLUDED)}))
        expires_in = max(0.0, principal.claims.expires_at - ctx.clock())
        log_event(log, "watch_open", seat=seat, role=principal.claims.role)
        await _serve(ws, subscription, expires_in)
    finally:
        sockets.pop(ws, None)
        if subscription is not None:
            await subscription.close()
        log_event(log, "watch_closed", seat=seat, code=ws.close_code)
    return ws


async def _serve(ws: web.WebSocketResponse, subscription: Subscription, expires_in: float) -> None:
    sender = asyncio.create_task(_send(ws, subscription))
    expiry = asyncio.get_running_loop().call_later(
        expires_in,
        lambda: asyncio.ensure_future(ws.close(code=CLOSE_TOKEN_EXPIRED, message=b"token_expired")),
    )
    try:
        async for message in ws:  # nothing to read; this notices the close
            if message.type is WSMsgType.ERROR:
                break
    finally:
        expiry.cancel()
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionResetError):
            await sender


async def _send(ws: web.WebSocketResponse, subscription: Subscription) -> None:
    while not ws.closed:
        batch: Batch = await subscription.next()
        if batch.limited:
            await ws.send_str(json.dumps({"type": "limited"}))
        if batch.resync:
            await ws.send_str(json.dumps({"type": "resync"}))
        elif batch.paths:
            await ws.send_str(json.dumps({"type": "changes", "paths": sorted(batch.paths)}))


@routes.get("/seats/{seat}/changes")
async def changes(request: web.Request) -> web.Response:
    principal = await request.app[CONTEXT].auth.http_principal(request)
    base = review_base(request.app, principal.seat)
    loop = asyncio.get_running_loop()
    if not base.exists():
        await loop.run_in_executor(None, base.take)
    return web.json_response(await loop.run_in_executor(None, base.changes))


@routes.get("/seats/{seat}/changes/original")
async def original(request: web.Request) -> web.Response:
    principal = await request.app[CONTEXT].auth.http_principal(request)
    base = review_base(request.app, principal.seat)
    try:
        data = await asyncio.get_running_loop().run_in_executor(
            None, base.original, request.query.get("path", "")
        )
    except FsError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    return web.Response(
        body=data,
        content_type="application/octet-stream",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"},
    )


@routes.post("/seats/{seat}/changes/reviewed")
async def reviewed(request: web.Request) -> web.Response:
    principal = await request.app[CONTEXT].auth.http_principal(request)
    if principal.readonly:
        raise ApiError(403, "read_only", "only the learner marks their changes as reviewed")
    base = review_base(request.app, principal.seat)
    since = await asyncio.get_running_loop().run_in_executor(None, base.take)
    return web.json_response({"since": since})
