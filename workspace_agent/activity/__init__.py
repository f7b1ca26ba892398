"""Truthful per-seat terminal activity for the instructor cockpit (docs/cockpit.md).

``SeatActivity`` records, per seat, when the learner last typed (input frames from a
writable viewer: shadows never count) and when the seat's terminal last produced output.
``GET /control/activity`` (instructor-role token only) reports it with the number of open
learner sockets and shadow sockets, and the seat's foreground process when it is not the
shell itself (e.g. ``claude``), read from the PTY's foreground process group, and the seat's
raised hand (``workspace_agent.activity.room``), and its model state from the gateway:
``{"paused": bool, "errors": {counter: n}}`` (the live view of what ``host.usage`` reports).

Ages are computed by the agent (``now - last``) so the page never compares its own clock
with the host's.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

#: Foreground commands that are just the seat's shell (reported as ``None``).
SHELLS = frozenset({"bash", "sh", "dash", "zsh", "fish", "ksh", "login", "bwrap", "setsid"})
COMM_MAX = 32


@dataclass
class SeatActivity:
    """Last input/output times per seat, in the agent clock's seconds since the epoch."""

    last_input: dict[int, float] = field(default_factory=dict)
    last_output: dict[int, float] = field(default_factory=dict)

    def input(self, seat: int, now: float) -> None:
        self.last_input[seat] = now

    def output(self, seat: int, now: float) -> None:
        self.last_output[seat] = now


def foreground_command(pty_fd: int, proc: str = "/proc") -> str | None:
    """The name of the PTY's foreground process group leader, ``None`` for a shell or when
    it cannot be read (PTY closed, process gone)."""
    if pty_fd < 0:
        return None
    try:
        pgid = os.tcgetpgrp(pty_fd)
        with open(f"{proc}/{pgid}/comm", encoding="utf-8", errors="replace") as handle:
            name = handle.read(COMM_MAX).strip()
    except OSError:
        return None
    return None if not name or name in SHELLS else name


def _age(last: float | None, now: float) -> float | None:
    return None if last is None else round(max(0.0, now - last), 1)


def snapshot(
    activity: SeatActivity,
    seats: Iterable[int],
    sockets: Callable[[int], tuple[int, int]],
    foreground: Callable[[int], str | None],
    now: float,
    hand: Callable[[int], object] = lambda seat: None,
    model: Callable[[int], object] = lambda seat: None,
) -> dict[str, dict[str, object]]:
    """``{"<seat>": {sockets, shadows, input_age, output_age, foreground, hand, model}}``."""
    report: dict[str, dict[str, object]] = {}
    for seat in seats:
        learners, shadows = sockets(seat)
        report[str(seat)] = {
            "sockets": learners,
            "shadows": shadows,
            "input_age": _age(activity.last_input.get(seat), now),
            "output_age": _age(activity.last_output.get(seat), now),
            "foreground": foreground(seat),
            "hand": hand(seat),
            "model": model(seat),
        }
    return report


routes = web.RouteTableDef()


@routes.get("/control/activity")
async def get_activity(request: web.Request) -> web.Response:
    from workspace_agent.context import CONTEXT

    ctx = request.app[CONTEXT]
    await ctx.auth.instructor(request)
    settings = ctx.settings

    def sockets(seat: int) -> tuple[int, int]:
        viewers = [v for v in ctx.registry.viewers() if v.seat == seat]
        shadows = sum(1 for v in viewers if v.readonly)
        return len(viewers) - shadows, shadows

    def foreground(seat: int) -> str | None:
        shell = ctx.shells.get(seat) if ctx.shells is not None else None
        if shell is None:
            return None
        with contextlib.suppress(AttributeError):
            return foreground_command(shell.pty_fd)
        return None

    now = ctx.clock()
    gateway = _gateway(request.app)
    report = snapshot(
        ctx.activity,
        settings.seats,
        sockets,
        foreground,
        now,
        hand=lambda seat: ctx.notices.hand_view(seat, now),
        model=(lambda seat: None) if gateway is None else gateway.model_view,
    )
    body = {"seats": report}
    return web.json_response(body, headers={"Cache-Control": "no-store"})


def _gateway(app: web.Application) -> Any:
    """The agent's model gateway handle, or ``None`` (gateway not installed or disabled)."""
    from workspace_agent.app import GATEWAY

    return app.get(GATEWAY)
