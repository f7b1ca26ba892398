"""Instructor actions on one seat: release (free it for someone else), reset (a fresh
shell and an empty workspace, the seat stays claimed), and pause or resume its model access.

Release frees the seat in the store (its reconnect code stops working: the old learner can
no longer rejoin it or refresh a token) and tells the seat's host, which refuses learner
tokens of that seat issued until now and closes its learner terminals. The shell and the
workspace stay as they are (no reset yet). A seat's model pause is stored on the workshop
(``Workshop.paused_seats``: the source of truth, handed to hosts started later) and then told
to the seat's host, whose gateway refuses that seat's model requests (429, no retry) and
remembers it across restarts. Every action is logged with the instructor.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

import httpx

from shared.auth.instructor import Instructor
from shared.bootstrap import Platform
from shared.domain.cockpit import SeatNotClaimed, seat_number
from shared.domain.model import Workshop
from shared.services import workshops as workshop_service
from shared.services.errors import Unavailable
from shared.services.host_control import put_to_seat_host
from shared.services.model_access import CONTROL_PATH as MODEL_ACCESS_PATH

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Released:
    seat: int
    host: int
    #: Whether the seat's host took the release now (tokens stop working on it at once).
    host_told: bool


def release_seat(
    platform: Platform,
    instructor: Instructor,
    workshop_id: str,
    raw_seat: object,
    now: datetime,
    *,
    client: httpx.Client | None = None,
) -> Released:
    workshop = workshop_service.get_workshop(platform, instructor, workshop_id)
    seat = seat_number(raw_seat, workshop.seats)
    if not platform.store.release_seat(workshop.id, seat):
        raise SeatNotClaimed(f"seat {seat} is free: there is nobody to release")
    host, told = put_to_seat_host(
        platform, workshop, seat, f"/control/seats/{seat}/release",
        {"issued_before": int(now.timestamp())}, client=client,
    )  # fmt: skip
    log.info(
        "seat released",
        extra={"workshop_id": workshop.id, "owner": instructor.owner, "seat": seat},
    )
    return Released(seat=seat, host=host, host_told=told)


@dataclass(frozen=True)
class Reset:
    seat: int
    host: int
    host_told: bool


def reset_seat(
    platform: Platform,
    instructor: Instructor,
    workshop_id: str,
    raw_seat: object,
    *,
    client: httpx.Client | None = None,
) -> Reset:
    """Reset happens on the host only; an unreachable host means nothing was reset."""
    workshop = workshop_service.get_workshop(platform, instructor, workshop_id)
    seat = seat_number(raw_seat, workshop.seats)
    host, told = put_to_seat_host(
        platform, workshop, seat, f"/control/seats/{seat}/reset", {}, client=client
    )
    log.info(
        "seat reset" if told else "seat reset failed: host not reached",
        extra={"workshop_id": workshop.id, "owner": instructor.owner, "seat": seat},
    )
    if not told:
        raise Unavailable(f"seat {seat}'s host could not be reached; nothing was reset")
    return Reset(seat=seat, host=host, host_told=True)


@dataclass(frozen=True)
class SeatModelAccess:
    workshop: Workshop
    seat: int
    paused: bool
    host: int
    #: Whether the seat's host took it now (else it applies when the host is told or restarts).
    host_told: bool


def set_seat_model_access(
    platform: Platform,
    instructor: Instructor,
    workshop_id: str,
    raw_seat: object,
    paused: bool,
    *,
    client: httpx.Client | None = None,
) -> SeatModelAccess:
    """Pause (``True``) or resume one seat's model access, free or claimed."""
    workshop = workshop_service.get_workshop(platform, instructor, workshop_id)
    seat = seat_number(raw_seat, workshop.seats)

    def mutate(current: Workshop) -> Workshop:
        seats = set(current.paused_seats) | {seat} if paused else set(current.paused_seats) - {seat}
        return replace(current, paused_seats=tuple(sorted(seats)))

    updated = platform.store.update_workshop(workshop.id, mutate)
    host, told = put_to_seat_host(
        platform, updated, seat, MODEL_ACCESS_PATH, {"paused": paused, "seat": seat}, client=client
    )
    log.info(
        "seat model access paused" if paused else "seat model access resumed",
        extra={
            "workshop_id": workshop.id, "owner": instructor.owner, "seat": seat,
            "host_told": told,
        },
    )  # fmt: skip
    return SeatModelAccess(updated, seat, paused, host, told)
