"""The reconciler's schedule pass: warm-up, automatic end, retention. Run with every sweep.

* **Warm-up**: a ``created`` workshop with ``starts_at`` is started ``warmup_minutes`` before
  it. Only ``created`` qualifies, through the same compare-and-set as a manual start, so
  duplicate, concurrent or out-of-order sweeps start it exactly once, and a workshop stopped
  or deleted by hand is never started.
* **Automatic end**: at ``ends_at`` nothing is destroyed: learners get ``end_grace_minutes``
  to download their work (the agent shows "Workshop ended — download your work"). At
  ``ends_at + grace`` the sweep itself stops the workshop (hosts and key deleted before it
  returns), so no VM outlives ``ends_at + grace`` by more than one sweep.
* **Retention**: a workshop stopped ``settings.retention_days`` ago is deleted with its seats
  and usage. Firestore's TTL policies cannot do this (they never delete subcollections), so
  both backends are purged here.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field, replace
from datetime import datetime

from shared.bootstrap import Platform
from shared.domain import schedule as rules
from shared.domain.errors import CostCeilingExceeded, StaleState
from shared.domain.model import Workshop, WorkshopStatus
from shared.services import provisioning, workshops
from shared.services.host_image import HostImageNotBaked

log = logging.getLogger(__name__)

S = WorkshopStatus
#: Statuses in which hosts may exist and must be torn down when the grace period is over.
ENDABLE = frozenset({S.PROVISIONING, S.RUNNING, S.FAILED})


@dataclass
class ScheduleReport:
    warmed_up: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)
    purged: list[str] = field(default_factory=list)


def sweep_workshop(
    platform: Platform, workshop: Workshop, now: datetime, report: ScheduleReport
) -> None:
    """Apply the schedule rules to one workshop (as read at the start of the sweep)."""
    schedule = workshop.schedule
    if workshop.status is S.STOPPED:
        _purge_if_expired(platform, workshop, now, report)
    elif schedule is None:
        return
    elif workshop.status is S.CREATED and rules.due_for_warmup(schedule, now):
        _warm_up(platform, workshop, now, report)
    elif workshop.status in ENDABLE and rules.due_for_teardown(schedule, now):
        _end(platform, workshop, now, report)


def _warm_up(platform: Platform, workshop: Workshop, now: datetime, report: ScheduleReport) -> None:
    ctx = {"workshop_id": workshop.id}
    try:
        workshops.begin_start(platform, workshop.id, frozenset({S.CREATED}), now)
    except StaleState:
        return  # started (or stopped) by someone else since we read it
    except (CostCeilingExceeded, HostImageNotBaked) as exc:
        # Stays ``created``; the reason is shown to the instructor on the workshop.
        _note_error(platform, workshop.id, f"warm-up refused: {exc.message}")
        raise
    report.warmed_up.append(workshop.id)
    log.info("warm-up: workshop started before its start time", extra=ctx)


def _note_error(platform: Platform, workshop_id: str, message: str) -> None:
    def note(current: Workshop) -> Workshop:
        if current.status is not S.CREATED or current.error == message:
            raise StaleState(current.status.value, (S.CREATED.value,))
        return replace(current, error=message)

    with contextlib.suppress(StaleState):
        platform.store.update_workshop(workshop_id, note)


def _end(platform: Platform, workshop: Workshop, now: datetime, report: ScheduleReport) -> None:
    """Stop it here, synchronously (not through an event), so the hosts are gone when this
    sweep returns; a stop event delivered concurrently deletes the same names (idempotent)."""
    try:
        stopping = platform.store.transition(workshop.id, ENDABLE, S.STOPPING)
    except StaleState:
        return
    # A failure here leaves it ``stopping``; the interrupted-stop rule re-runs it next sweep.
    provisioning.stop_workshop(platform, stopping, now)
    report.ended.append(workshop.id)
    log.info("schedule: grace over, workshop stopped", extra={"workshop_id": workshop.id})


def _purge_if_expired(
    platform: Platform, workshop: Workshop, now: datetime, report: ScheduleReport
) -> None:
    stopped = workshop.stopped_at or workshop.updated_at
    if not rules.retention_over(stopped, now, platform.settings.retention_days):
        return
    if platform.store.delete_workshop(workshop.id):
        report.purged.append(workshop.id)
        log.info("retention over: workshop deleted", extra={"workshop_id": workshop.id})
