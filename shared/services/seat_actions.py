"""Instructor actions on one seat: release (free it for someone else) and reset (a fresh
shell and an empty workspace, the seat stays claimed).

Release frees the seat in the store (its reconnect code stops working: the old learner can
no longer rejoin it or refresh a token) and tells the seat's host, which refuses learner
tokens of that seat issued until now and closes its learner terminals. The shell and the
workspace stay as they are (no reset yet). Every action is logged with the instructor.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime

import httpx

from shared.auth.instructor import Instructor
from shared.bootstrap import Platform
from shared.domain.cockpit import SeatNotClaimed, seat_number
from shared.domain.model import host_index_for_seat
from shared.services import workshops as workshop_service
from shared.services.errors import Unavailable
from shared.services.host_control import put_to_hosts

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
    host = host_index_for_seat(seat, workshop.seats_per_host)
    serving = replace(workshop, hosts=tuple(h for h in workshop.hosts if h.index == host))
    told = put_to_hosts(
        platform, serving, f"/control/seats/{seat}/release",
        {"issued_before": int(now.timestamp())}, client=client,
    )  # fmt: skip
    log.info(
        "seat released",
        extra={"workshop_id": workshop.id, "owner": instructor.owner, "seat": seat},
    )
    return Released(seat=seat, host=host, host_told=told.get(host, False))


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
    host = host_index_for_seat(seat, workshop.seats_per_host)
    serving = replace(workshop, hosts=tuple(h for h in workshop.hosts if h.index == host))
    told = put_to_hosts(platform, serving, f"/control/seats/{seat}/reset", {}, client=client).get(
        host, False
    )
    log.info(
        "seat reset" if told else "seat reset failed: host not reached",
        extra={"workshop_id": workshop.id, "owner": instructor.owner, "seat": seat},
    )
    if not told:
        raise Unavailable(f"seat {seat}'s host could not be reached; nothing was reset")
    return Reset(seat=seat, host=host, host_told=True)
