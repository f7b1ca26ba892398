"""The room's notices on one host: the instructor's broadcast and the learners' raised hands.

* ``PUT /control/broadcast`` ``{"message", "sent_at"}`` (instructor token; fanned out by the
  API, which stores it as the source of truth) replaces the current broadcast.
* ``GET /seats/{seat}/notices`` (the seat's learner, or an instructor) → ``{"broadcast":
  {message, sent_at} | null, "hand": {text, waited} | null}``; the learner page polls it, so
  a broadcast reaches every page within one poll and later joiners see it too.
* ``PUT /seats/{seat}/hand`` ``{"text"?}`` raises the seat's hand (learner only: a shadow
  never acts for the learner); ``DELETE /seats/{seat}/hand`` lowers it;
  ``DELETE /control/hands/{seat}`` is the instructor's "done".
* ``PUT /control/seats/{seat}/release`` ``{"issued_before": epoch s}`` (fanned out by the API
  after it freed the seat): learner tokens of that seat issued until then are refused (401
  ``seat_released``) and its learner terminals are closed.
* ``PUT /control/seats/{seat}/reset``: the seat's shell is hung up (pages reconnect to a
  fresh one) and its workspace emptied (buffered backend; 501 with ``tmux``); with a content
  pack the starter files are copied afresh and the guide starts over.

Messages are plain text (``shared.domain.cockpit``); pages render them with ``textContent``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from shared.domain.cockpit import broadcast_message, hand_text
from shared.domain.errors import ValidationError
from workspace_agent.activity import notices_store
from workspace_agent.errors import ApiError

MAX_BODY = 4096


@dataclass
class RoomNotices:
    broadcast: dict[str, str] | None = None
    #: seat -> (text, raised at, agent clock seconds since the epoch)
    hands: dict[int, tuple[str, float]] = field(default_factory=dict)
    #: Where they are kept across agent restarts (``notices_store``); ``None``: memory only.
    path: Path | None = None

    @classmethod
    def stored_in(cls, path: Path) -> RoomNotices:
        broadcast, hands = notices_store.load(path)
        return cls(broadcast=broadcast, hands=hands, path=path)

    def save(self) -> None:
        """Persist after every change (a handful of small writes per workshop)."""
        if self.path is not None:
            notices_store.save(self.path, self.broadcast, self.hands)

    def set_broadcast(self, broadcast: dict[str, str]) -> None:
        self.broadcast = broadcast
        self.save()

    def raise_hand(self, seat: int, text: str, now: float) -> None:
        previous = self.hands.get(seat)
        at = previous[1] if previous else now  # editing the text keeps the place in line
        self.hands[seat] = (text, at)
        self.save()

    def lower_hand(self, seat: int) -> None:
        if self.hands.pop(seat, None) is not None:
            self.save()

    def hand_view(self, seat: int, now: float) -> dict[str, Any] | None:
        raised = self.hands.get(seat)
        if raised is None:
            return None
        text, at = raised
        return {"text": text, "waited": round(max(0.0, now - at), 1)}


routes = web.RouteTableDef()


async def _json(request: web.Request) -> dict[str, Any]:
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise ApiError(413, "payload_too_large", "body too large")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", "body must be JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "body must be a JSON object")
    return body


def _checked(parse: Any, value: object) -> str:
    try:
        return str(parse(value))
    except ValidationError as exc:
        raise ApiError(400, "invalid_request", str(exc)) from None


#: How long a reset waits for the old shell to end before it empties the workspace anyway.
RESET_WAIT_SECONDS = 2.0


@routes.put("/control/broadcast")
async def put_broadcast(request: web.Request) -> web.Response:
    from workspace_agent.context import CONTEXT

    ctx = request.app[CONTEXT]
    await ctx.auth.instructor(request)
    body = await _json(request)
    message = _checked(broadcast_message, body.get("message"))
    sent_at = body.get("sent_at")
    if not isinstance(sent_at, str) or len(sent_at) > 64:
        raise ApiError(400, "invalid_request", "sent_at: must be an ISO time")
    ctx.notices.set_broadcast({"message": message, "sent_at": sent_at})
    return web.json_response({"broadcast": ctx.notices.broadcast})


@routes.get("/seats/{seat}/notices")
async def get_notices(request: web.Request) -> web.Response:
    from workspace_agent.context import CONTEXT

    ctx = request.app[CONTEXT]
    principal = await ctx.auth.http_principal(request)
    body = {
        "broadcast": ctx.notices.broadcast,
        "hand": ctx.notices.hand_view(principal.seat, ctx.clock()),
    }
    return web.json_response(body, headers={"Cache-Control": "no-store"})


@routes.put("/seats/{seat}/hand")
async def raise_hand(request: web.Request) -> web.Response:
    from workspace_agent.context import CONTEXT

    ctx = request.app[CONTEXT]
    principal = await ctx.auth.http_principal(request)
    if principal.readonly:
        raise ApiError(403, "read_only", "only the learner raises their hand")
    text = _checked(hand_text, (await _json(request)).get("text"))
    ctx.notices.raise_hand(principal.seat, text, ctx.clock())
    return web.json_response({"hand": ctx.notices.hand_view(principal.seat, ctx.clock())})


@routes.delete("/seats/{seat}/hand")
async def lower_hand(request: web.Request) -> web.Response:
    from workspace_agent.context import CONTEXT

    ctx = request.app[CONTEXT]
    principal = await ctx.auth.http_principal(request)
    if principal.readonly:
        raise ApiError(403, "read_only", "only the learner lowers their hand here")
    ctx.notices.lower_hand(principal.seat)
    return web.Response(status=204)


@routes.put("/control/seats/{seat}/release")
async def release_seat(request: web.Request) -> web.Response:
    """The seat was released by the instructor: refuse learner tokens issued until now and
    close the seat's learner terminals (4403). The shell and files stay."""
    from workspace_agent.context import CONTEXT
    from workspace_agent.terminal.registry import CLOSE_FORBIDDEN

    ctx = request.app[CONTEXT]
    await ctx.auth.instructor(request)
    seat = ctx.auth.seat_from_path(request)
    body = await _json(request)
    issued_before = body.get("issued_before")
    if not isinstance(issued_before, int) or isinstance(issued_before, bool) or issued_before < 0:
        raise ApiError(400, "invalid_request", "issued_before: must be a time in epoch seconds")
    ctx.auth.released_at[seat] = max(ctx.auth.released_at.get(seat, -1), issued_before)
    ctx.notices.lower_hand(seat)
    ctx.activity.last_input.pop(seat, None)
    learners = [v for v in ctx.registry.viewers() if v.seat == seat and not v.readonly]
    for viewer in learners:
        await viewer.close_socket(CLOSE_FORBIDDEN, "seat_released")
    return web.json_response({"seat": seat, "closed": len(learners)})


def empty_directory(path: Path) -> int:
    """Remove everything inside ``path`` (never following links); the number removed."""
    removed = 0
    with os.scandir(path) as entries:
        for entry in list(entries):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed += 1
    return removed


@routes.put("/control/seats/{seat}/reset")
async def reset_seat(request: web.Request) -> web.Response:
    """A fresh start for the seat: hang up its shell (the learner's page reconnects to a new
    one) and empty its workspace. Buffered terminal backend only."""
    from workspace_agent.content.service import content_of
    from workspace_agent.context import CONTEXT

    ctx = request.app[CONTEXT]
    await ctx.auth.instructor(request)
    seat = ctx.auth.seat_from_path(request)
    if ctx.shells is None:
        raise ApiError(501, "not_supported", "reset needs the buffered terminal backend")
    shell = ctx.shells.get(seat)
    if shell is not None:
        # Its viewers close with 1000 session_ended and reconnect to a new shell. Bounded, so
        # the platform's call (HOST_TIMEOUT_SECONDS) gets its answer even if the exit report
        # is slow; the workspace is emptied either way.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(shell.hangup(grace=1.0), timeout=RESET_WAIT_SECONDS)
    removed = await asyncio.to_thread(empty_directory, ctx.settings.workspace(seat))
    content = content_of(request.app)
    if content is not None:  # a fresh copy of the starter files, back to the guide's start
        await content.reset_seat(seat)
    ctx.activity.last_input.pop(seat, None)
    ctx.notices.lower_hand(seat)
    return web.json_response({"seat": seat, "removed": removed})


@routes.delete("/control/hands/{seat}")
async def hand_done(request: web.Request) -> web.Response:
    from workspace_agent.context import CONTEXT

    ctx = request.app[CONTEXT]
    await ctx.auth.instructor(request)
    seat = ctx.auth.seat_from_path(request)
    ctx.notices.lower_hand(seat)
    return web.Response(status=204)
