"""The instructor cockpit's room snapshot: one read that serves one poll of the seat grid.

The cockpit page polls ``GET /api/workshops/{id}/room`` (every 2 s while open): the workshop
(status, hosts with their state and failure reason, cost so far), every claimed seat and the
stored per-seat model usage. One request per poll, whatever the number of seats, so an open
cockpit costs the API at most one request per poll interval (docs/cockpit.md).

Live terminal activity (sockets open, last input/output, foreground process) is not stored:
the page reads it from each host's ``GET /control/activity`` with the shadow token it already
holds for shadowing, so it is as fresh as the agent's own clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.auth.instructor import Instructor
from shared.bootstrap import Platform
from shared.domain.cockpit import effective_policy, seat_budget
from shared.domain.model import Seat, Workshop, WorkshopStatus
from shared.services import workshops as workshop_service
from shared.services.usage import Usage, get_usage


@dataclass(frozen=True)
class Room:
    workshop: Workshop
    seats: list[Seat]
    usage: Usage
    #: Seat number -> USD budget from the model policy (``None``: no budget for that seat).
    budgets: dict[int, float | None]
    #: The model policy in force (the platform's default when none was set), as JSON.
    policy: dict[str, Any]


def room(platform: Platform, instructor: Instructor, workshop_id: str) -> Room:
    """The snapshot; another instructor's workshop is ``NotFound`` like a missing one."""
    workshop = workshop_service.get_workshop(platform, instructor, workshop_id)
    seats = platform.store.list_seats(workshop.id)
    usage = get_usage(platform, workshop)
    budgets = {n: seat_budget(workshop.model_policy, n) for n in range(1, workshop.seats + 1)}
    return Room(workshop, seats, usage, budgets, effective_policy(workshop.model_policy))


def billed(workshop: Workshop) -> bool:
    """Whether a running cost tally is worth a usage read (the workshop has been billed)."""
    return workshop.billing_started_at is not None and workshop.status is not WorkshopStatus.STOPPED
