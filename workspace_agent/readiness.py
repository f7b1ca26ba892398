"""Bring every seat up, then announce the host with ``host.ready`` until the bus accepts it.

``Readiness`` is the state ``/readyz`` reports: each seat moves pending → ready (or failed,
with the reason logged). When all seats are ready the publisher sends
``host.ready {host_index, attempt, endpoint, timings}``, retrying transport failures with bounded
exponential backoff (0.5 s doubling to 30 s) until one publish is acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from shared.domain.events import HOST_FAILED, HOST_READY, Event
from shared.ports.event_bus import EventBus
from workspace_agent.logs import log_event

log = logging.getLogger("workspace_agent.readiness")

SEAT_CONCURRENCY = 4
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 30.0

SeatEnv = Callable[[int], Mapping[str, str]]


class Readiness:
    def __init__(self, seats: tuple[int, ...]) -> None:
        self.seats: dict[int, str] = dict.fromkeys(seats, "pending")
        self.started = time.monotonic()
        self.timings: dict[str, float] = {}
        self.announced = asyncio.Event()

    def seat_ready(self, seat: int) -> bool:
        return self.seats.get(seat) == "ready"

    @property
    def ready(self) -> bool:
        return all(state == "ready" for state in self.seats.values())

    def report(self) -> dict[str, Any]:
        return {"ready": self.ready, "seats": {str(k): v for k, v in self.seats.items()}}


async def bring_up_seats(
    readiness: Readiness, ensure: Callable[[int, Mapping[str, str]], Any], seat_env: SeatEnv
) -> None:
    """Create every seat (a few at a time); a failing seat is marked and logged, not fatal."""
    limit = asyncio.Semaphore(SEAT_CONCURRENCY)

    async def one(seat: int) -> None:
        async with limit:
            try:
                await ensure(seat, dict(seat_env(seat)))
            except Exception as exc:
                readiness.seats[seat] = "failed"
                log_event(log, "seat_failed", level=logging.ERROR, seat=seat, error=str(exc))
                return
            readiness.seats[seat] = "ready"

    await asyncio.gather(*(one(seat) for seat in readiness.seats))
    readiness.timings["seats_ready_s"] = round(time.monotonic() - readiness.started, 3)


async def publish_until_acknowledged(
    bus: EventBus, event: Event, *, first_delay: float = BACKOFF_FIRST
) -> str:
    """Publish ``event``; on any failure wait (bounded exponential backoff) and try again."""
    loop = asyncio.get_running_loop()
    delay = first_delay
    attempt = 0
    while True:
        attempt += 1
        try:
            message_id = await loop.run_in_executor(None, bus.publish, event)
        except Exception as exc:
            log_event(
                log,
                "host_ready_publish_failed",
                level=logging.WARNING,
                attempt=attempt,
                error=type(exc).__name__,
                retry_in=delay,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX)
            continue
        log_event(log, "host_ready_published", attempt=attempt, message_id=message_id)
        return str(message_id)


def host_failed_event(
    workshop_id: str, host_index: int, seats: Mapping[int, str], attempt: int = 0
) -> Event:
    failed = sorted(seat for seat, state in seats.items() if state != "ready")
    reason = f"seats failed to start: {', '.join(map(str, failed))}"
    data = {"host_index": host_index, "attempt": attempt, "reason": reason}
    return Event(HOST_FAILED, workshop_id, data)


def host_ready_event(
    workshop_id: str,
    host_index: int,
    endpoint: str,
    timings: Mapping[str, float],
    attempt: int = 0,
) -> Event:
    data = {"host_index": host_index, "attempt": attempt, "endpoint": endpoint}
    return Event(HOST_READY, workshop_id, {**data, "timings": dict(timings)})
