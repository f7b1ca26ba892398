"""A workshop's schedule: when hosts warm up, when doors open, when it ends, grace, retention.

Pure rules with the clock passed in (``now``), so every rule is tested without waiting.

Timeline of a scheduled workshop::

    warm-up at            starts_at           ends_at              grace_ends_at
    (starts_at - warmup)  (doors open)        (learners warned at  (hosts destroyed;
    the reconciler starts                     15 and 5 min before; no VM outlives this by
    the workshop                              then download only)  more than one sweep)

Policy, on purpose: there is no idle culling inside the window. A disconnected seat keeps its
shell and files until the workshop ends; freeing a seat is the instructor's decision
(release), never a timer's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from shared.domain.errors import DoorsNotOpen, ValidationError, WorkshopEnded

DEFAULT_DURATION = timedelta(hours=3)
MAX_DURATION = timedelta(hours=24)
WARMUP_DEFAULT, WARMUP_MAX = 15, 240
GRACE_DEFAULT, GRACE_MAX = 10, 120
RETENTION_DEFAULT_DAYS = 30
#: Minutes before ``ends_at`` at which learners are warned.
WARNING_MINUTES = (15, 5)
EXTEND_MAX_MINUTES = 24 * 60
#: How far ahead a workshop may be scheduled.
MAX_AHEAD = timedelta(days=366)
#: Accepted years: keeps every +/- 24 h computation far from datetime's limits.
YEAR_MIN, YEAR_MAX = 2000, 2999


class Phase(StrEnum):
    """Where ``now`` falls in a workshop's window (what learners are shown)."""

    BEFORE = "before"  # before starts_at (or before join_opens_at)
    OPEN = "open"  # doors open, more than the first warning away from the end
    ENDING = "ending"  # inside the last WARNING_MINUTES[0] minutes
    GRACE = "grace"  # ended; learners may only download their work
    OVER = "over"  # grace over; hosts are (being) destroyed


@dataclass(frozen=True)
class Schedule:
    """The validated schedule fields a workshop stores (all datetimes aware UTC)."""

    ends_at: datetime
    starts_at: datetime | None = None
    warmup_minutes: int = WARMUP_DEFAULT
    join_opens_at: datetime | None = None
    end_grace_minutes: int = GRACE_DEFAULT

    @property
    def grace_ends_at(self) -> datetime:
        return self.ends_at + timedelta(minutes=self.end_grace_minutes)

    @property
    def warmup_at(self) -> datetime | None:
        """When the reconciler starts the workshop, or ``None`` (started by hand)."""
        if self.starts_at is None:
            return None
        return self.starts_at - timedelta(minutes=self.warmup_minutes)


def _aware(field: str, value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise ValidationError(field, "must be a date-time")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(field, "must include a time zone offset (e.g. Z)")
    if not YEAR_MIN <= value.year <= YEAR_MAX:
        raise ValidationError(field, f"must be between the years {YEAR_MIN} and {YEAR_MAX}")
    return value


def check_time(field: str, value: datetime) -> datetime:
    """An aware date-time in the supported range (so arithmetic on it cannot overflow)."""
    checked = _aware(field, value)
    assert checked is not None
    return checked


def _minutes(field: str, value: object, default: int, maximum: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise ValidationError(field, f"must be an integer between 0 and {maximum}")
    return value


def plan_schedule(
    now: datetime,
    *,
    starts_at: object = None,
    ends_at: object = None,
    warmup_minutes: object = None,
    join_opens_at: object = None,
    end_grace_minutes: object = None,
) -> Schedule:
    """Validate a schedule given at create time; ``ends_at`` defaults to start + 3 h.

    The start is ``starts_at`` or, without one, ``now`` (a workshop started by hand).
    Refused (``ValidationError`` naming the field): ``ends_at`` not after the start or in the
    past, more than 24 h after the start, ``join_opens_at`` after ``ends_at``.
    """
    start = _aware("schedule.starts_at", starts_at)
    end = _aware("schedule.ends_at", ends_at)
    opens = _aware("schedule.join_opens_at", join_opens_at)
    if start is not None and start - now > MAX_AHEAD:
        raise ValidationError("schedule.starts_at", "must be at most a year ahead")
    begin = start or now
    end = end or begin + DEFAULT_DURATION
    _check_window(begin, end, now)
    if opens is not None and opens >= end:
        raise ValidationError("schedule.join_opens_at", "must be before ends_at")
    return Schedule(
        ends_at=end,
        starts_at=start,
        warmup_minutes=_minutes(
            "schedule.warmup_minutes", warmup_minutes, WARMUP_DEFAULT, WARMUP_MAX
        ),
        join_opens_at=opens,
        end_grace_minutes=_minutes(
            "schedule.end_grace_minutes", end_grace_minutes, GRACE_DEFAULT, GRACE_MAX
        ),
    )


def _check_window(begin: datetime, end: datetime, now: datetime) -> None:
    if end <= begin:
        raise ValidationError("schedule.ends_at", "must be after the start")
    if end <= now:
        raise ValidationError("schedule.ends_at", "must be in the future")
    if end - begin > MAX_DURATION:
        raise ValidationError("schedule.ends_at", "must be at most 24 hours after the start")


def extended(schedule: Schedule, new_end: datetime, now: datetime, began: datetime) -> Schedule:
    """The schedule with ``ends_at`` moved to ``new_end`` (extend, or shorten but not past).

    ``began`` is when the workshop started (``starts_at``, else its first start): the end stays
    at most 24 h after it.
    """
    if new_end <= now:
        raise ValidationError("ends_at", "must be in the future (use end_now to end it now)")
    if new_end - (schedule.starts_at or began) > MAX_DURATION:
        raise ValidationError("ends_at", "must be at most 24 hours after the start")
    return _with_end(schedule, new_end)


def ended_now(schedule: Schedule, now: datetime) -> Schedule:
    """End early: ``ends_at`` becomes ``now`` (unless already past), then grace applies."""
    return schedule if schedule.ends_at <= now else _with_end(schedule, now)


def _with_end(schedule: Schedule, end: datetime) -> Schedule:
    """``schedule`` ending at ``end``; a start or door opening not before it is dropped."""

    def before_end(moment: datetime | None) -> datetime | None:
        return moment if moment is None or moment < end else None

    return replace(
        schedule,
        ends_at=end,
        starts_at=before_end(schedule.starts_at),
        join_opens_at=before_end(schedule.join_opens_at),
    )


def phase(schedule: Schedule, now: datetime) -> Phase:
    if now >= schedule.grace_ends_at:
        return Phase.OVER
    if now >= schedule.ends_at:
        return Phase.GRACE
    if schedule.ends_at - now <= timedelta(minutes=WARNING_MINUTES[0]):
        return Phase.ENDING
    if not doors_open(schedule, now):
        return Phase.BEFORE
    return Phase.OPEN


def doors_open(schedule: Schedule, now: datetime) -> bool:
    """Whether a *new* learner may join: before ``ends_at``, and after ``join_opens_at`` if
    set. Without ``join_opens_at`` joining is allowed as soon as the workshop runs, even
    before ``starts_at`` (warm-up makes it run early on purpose)."""
    if now >= schedule.ends_at:
        return False
    return schedule.join_opens_at is None or now >= schedule.join_opens_at


def check_join(schedule: Schedule | None, now: datetime, *, reconnecting: bool) -> None:
    """Refuse a join the schedule does not allow. A returning learner (reconnect code) may
    rejoin until the grace period is over, to download their work; a new one only while
    ``doors_open``."""
    if schedule is None:
        return
    if reconnecting:
        if now >= schedule.grace_ends_at:
            raise WorkshopEnded("this workshop has ended")
        return
    if now >= schedule.ends_at:
        raise WorkshopEnded("this workshop has ended")
    if not doors_open(schedule, now):
        assert schedule.join_opens_at is not None
        raise DoorsNotOpen(
            f"joining opens at {schedule.join_opens_at.isoformat()}",
            opens_at=schedule.join_opens_at.isoformat(),
        )


def due_for_warmup(schedule: Schedule, now: datetime) -> bool:
    """Whether a not-yet-started workshop should be started now (inside its warm-up window
    and not already over). The caller only acts on workshops still ``created``: one that was
    started, stopped or deleted by hand is never started by this rule."""
    at = schedule.warmup_at
    return at is not None and at <= now < schedule.ends_at


def due_for_teardown(schedule: Schedule, now: datetime) -> bool:
    """Whether the grace period is over and the hosts must be destroyed."""
    return now >= schedule.grace_ends_at


def retention_over(stopped_at: datetime, now: datetime, retention_days: int) -> bool:
    """Whether a stopped workshop has been kept for its retention period."""
    return now >= stopped_at + timedelta(days=retention_days)
