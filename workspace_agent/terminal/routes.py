"""``WS /seats/{seat}/terminal`` (docs/protocol.md §3).

Everything that can refuse happens before the upgrade, with a JSON HTTP error and nothing
spawned: Origin (403), token and seat (401/403/404), seat readiness (503), socket caps (429).
After the upgrade: hello, then by backend (``CLARATEACH_AGENT_TERMINAL_BACKEND``):
``tmux`` — recent scrollback, then live output from a fresh ``tmux attach``; ``buffered`` —
the seat shell's ring replayed, then live output (``terminal.shell``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import subprocess

from aiohttp import WSMsgType, web

from workspace_agent.auth import TERMINAL_SUBPROTOCOL, bearer_from_subprotocols, origin_allowed
from workspace_agent.context import CONTEXT, AgentContext
from workspace_agent.errors import ApiError
from workspace_agent.logs import log_event
from workspace_agent.terminal.fanout import FanoutViewer
from workspace_agent.terminal.flow import ViewerSocket
from workspace_agent.terminal.pty import PtyProcess, clamp_size
from workspace_agent.terminal.registry import CLOSE_NORMAL
from workspace_agent.terminal.viewer import Viewer

log = logging.getLogger("workspace_agent.terminal")
routes = web.RouteTableDef()

MAX_MESSAGE = 64 * 1024
HEARTBEAT_SECONDS = 30.0
SCROLLBACK_MAX_BYTES = 256 * 1024


@routes.get("/seats/{seat}/terminal")
async def terminal(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    if not origin_allowed(request, ctx.settings.allowed_origins):
        raise ApiError(403, "origin_not_allowed", "this origin may not open terminals")
    principal = await ctx.auth.principal(request, bearer_from_subprotocols(request))
    seat = principal.seat
    if not ctx.readiness.seat_ready(seat):
        raise ApiError(503, "seat_not_ready", "the seat is starting; retry shortly")
    ws = web.WebSocketResponse(
        protocols=(TERMINAL_SUBPROTOCOL,),
        heartbeat=HEARTBEAT_SECONDS,
        max_msg_size=MAX_MESSAGE,
        compress=False,  # output frames are written raw by Viewer; they must stay uncompressed
    )
    if not ws.can_prepare(request).ok:
        raise ApiError(400, "websocket_required", "this endpoint speaks WebSocket only")
    if not ctx.registry.try_reserve(seat):
        raise ApiError(429, "too_many_terminals", "too many open terminals")
    try:
        await ws.prepare(request)
        kind = Viewer if ctx.shells is None else FanoutViewer
        viewer: ViewerSocket = kind(
            request, ws, seat=seat, readonly=principal.readonly, window=ctx.settings.flow_window
        )
    except BaseException:
        ctx.registry.release_reservation(seat)
        raise
    ctx.registry.add(viewer, expires_in=principal.claims.expires_at - ctx.clock())
    viewer.on_output = lambda: ctx.activity.output(seat, ctx.clock())
    log_event(log, "terminal_open", seat=seat, readonly=viewer.readonly, role=principal.claims.role)
    try:
        with contextlib.suppress(ConnectionResetError):  # the client left mid-setup
            await _serve(request, ctx, ws, viewer)
    finally:
        viewer.close()
        ctx.registry.remove(viewer)
        log_event(
            log,
            "terminal_closed",
            seat=seat,
            sent=viewer.sent,
            code=ws.close_code,
            error=repr(ws.exception()) if ws.exception() else None,
        )
    return ws


async def _serve(
    request: web.Request, ctx: AgentContext, ws: web.WebSocketResponse, viewer: ViewerSocket
) -> None:
    hello = {
        "type": "hello",
        "seat": viewer.seat,
        "readonly": viewer.readonly,
        "window": viewer.window,
    }
    await ws.send_str(json.dumps(hello))
    try:
        if isinstance(viewer, Viewer):
            await _attach_tmux(request, ctx, viewer)
        else:
            assert ctx.shells is not None and isinstance(viewer, FanoutViewer)
            ctx.shells.attach(viewer.seat, viewer, *_initial_size(request))
    except OSError as exc:
        log_event(log, "attach_failed", level=logging.ERROR, seat=viewer.seat, error=repr(exc))
        await viewer.close_socket(1011, "attach_failed")
        return
    watcher = asyncio.create_task(_close_when_exited(ws, viewer))
    try:
        async for message in ws:
            if message.type is WSMsgType.BINARY:
                if not viewer.readonly:  # cockpit activity: shadows never count as input
                    ctx.activity.input(viewer.seat, ctx.clock())
                await viewer.on_binary(message.data)
            elif message.type is WSMsgType.TEXT:
                viewer.on_text(message.data)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


async def _attach_tmux(request: web.Request, ctx: AgentContext, viewer: Viewer) -> None:
    """Scrollback, then a ``tmux attach`` client on its own PTY. Raises ``OSError``."""
    viewer.send_output(await _scrollback(ctx, viewer.seat))
    cols, rows = _initial_size(request)
    command = ctx.runtime.attach_command(viewer.seat, readonly=viewer.readonly)
    viewer.attach(PtyProcess(command, cols, rows, on_exit=viewer.exited.set))


async def _close_when_exited(ws: web.WebSocketResponse, viewer: ViewerSocket) -> None:
    """The shell (or its attach process) ended: close; a reconnect starts a fresh one."""
    await viewer.exited.wait()
    if not ws.closed:
        await ws.close(code=CLOSE_NORMAL, message=b"session_ended")


def _initial_size(request: web.Request) -> tuple[int, int]:
    """Optional ``cols``/``rows`` query parameters (not secrets) avoid a first redraw."""
    try:
        size = clamp_size(
            int(request.query.get("cols", "80")), int(request.query.get("rows", "24"))
        )
    except ValueError:
        size = None
    return size or (80, 24)


async def _scrollback(ctx: AgentContext, seat: int) -> bytes:
    """Recent history as CRLF lines, bounded; empty if the capture fails."""
    command = ctx.runtime.capture_command(seat, ctx.settings.scrollback_lines)
    try:
        proc = await asyncio.create_subprocess_exec(
            *command.argv,
            env=command.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=5)
    except (TimeoutError, OSError):
        return b""
    if proc.returncode != 0:
        return b""
    text = out.rstrip(b"\n")
    if not text.strip():
        return b""
    text = text[-SCROLLBACK_MAX_BYTES:]
    return text.replace(b"\n", b"\r\n") + b"\r\n"
