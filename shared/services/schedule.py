"""Instructor use case: change a workshop's schedule while it exists (extend, or end early).

* ``ends_at``: move the end (later to extend, earlier to shorten), at most 24 h after start;
* ``extend_minutes``: push the current end back by that many minutes;
* ``end_now``: the end becomes now; the reconciler then gives learners the grace period to
  download their work and destroys the hosts after it.

A stopping or stopped workshop's schedule cannot change (``invalid_state``). Running hosts
learn the new end through ``shared.services.schedule_fanout`` (best effort).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.auth.instructor import Instructor
from shared.bootstrap import Platform
from shared.domain import schedule as rules
from shared.domain.errors import StaleState, ValidationError
from shared.domain.model import Workshop, WorkshopStatus, utcnow
from shared.services import schedule_fanout
from shared.services.workshops import get_workshop

log = logging.getLogger(__name__)

S = WorkshopStatus
CHANGEABLE = frozenset({S.CREATED, S.PROVISIONING, S.RUNNING, S.FAILED})


@dataclass(frozen=True)
class ScheduleChange:
    ends_at: datetime | None = None
    extend_minutes: int | None = None
    end_now: bool = False


def change_schedule(
    platform: Platform,
    instructor: Instructor,
    workshop_id: str,
    change: ScheduleChange,
    *,
    now: datetime | None = None,
) -> Workshop:
    get_workshop(platform, instructor, workshop_id)
    now = now or utcnow()
    _check_one_change(change)

    def apply(current: Workshop) -> Workshop:
        if current.status not in CHANGEABLE:
            raise StaleState(current.status.value, tuple(sorted(s.value for s in CHANGEABLE)))
        schedule = current.schedule or rules.plan_schedule(now)
        if change.end_now:
            return current.with_schedule(rules.ended_now(schedule, now))
        if change.extend_minutes is not None:
            target = max(schedule.ends_at, now) + timedelta(minutes=change.extend_minutes)
        else:
            assert change.ends_at is not None
            target = change.ends_at
        began = current.billing_started_at or now
        return current.with_schedule(rules.extended(schedule, target, now, began))

    updated = platform.store.update_workshop(workshop_id, apply)
    log.info(
        "schedule changed",
        extra={
            "workshop_id": workshop_id,
            "ends_at": updated.ends_at and updated.ends_at.isoformat(),
        },
    )
    schedule_fanout.tell_hosts(platform, updated)
    return updated


def _check_one_change(change: ScheduleChange) -> None:
    given = sum(
        (change.ends_at is not None, change.extend_minutes is not None, bool(change.end_now))
    )
    if given != 1:
        raise ValidationError("body", "give exactly one of ends_at, extend_minutes, end_now")
    minutes = change.extend_minutes
    if minutes is not None and (
        isinstance(minutes, bool) or not 1 <= minutes <= rules.EXTEND_MAX_MINUTES
    ):
        raise ValidationError(
            "extend_minutes", f"must be an integer between 1 and {rules.EXTEND_MAX_MINUTES}"
        )
    if change.ends_at is not None:
        rules.check_time("ends_at", change.ends_at)
