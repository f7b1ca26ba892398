"""Schedule rules (shared.domain.schedule), every one with the clock passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.errors import ValidationError
from shared.domain.schedule import (
    Phase,
    Schedule,
    doors_open,
    due_for_teardown,
    due_for_warmup,
    ended_now,
    extended,
    phase,
    plan_schedule,
    retention_over,
)

NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def test_without_times_the_workshop_ends_three_hours_from_now_with_default_warmup_and_grace():
    schedule = plan_schedule(NOW)

    assert schedule == Schedule(ends_at=NOW + timedelta(hours=3))
    assert schedule.warmup_minutes == 15 and schedule.end_grace_minutes == 10
    assert schedule.warmup_at is None
    assert schedule.grace_ends_at == NOW + timedelta(hours=3, minutes=10)


def test_with_a_start_the_default_end_is_three_hours_after_it_and_warmup_precedes_it():
    start = NOW + timedelta(days=1)

    schedule = plan_schedule(NOW, starts_at=start, warmup_minutes=30)

    assert schedule.ends_at == start + timedelta(hours=3)
    assert schedule.warmup_at == start - 30 * MIN


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"ends_at": NOW + timedelta(hours=24, seconds=1)}, "schedule.ends_at"),
        ({"starts_at": NOW + 60 * MIN, "ends_at": NOW + 30 * MIN}, "schedule.ends_at"),
        ({"ends_at": NOW - MIN, "starts_at": NOW - 60 * MIN}, "schedule.ends_at"),
        ({"ends_at": datetime(2026, 5, 4, 12, 0)}, "schedule.ends_at"),  # naive
        ({"starts_at": "2026-05-04T10:00:00Z"}, "schedule.starts_at"),
        ({"warmup_minutes": -1}, "schedule.warmup_minutes"),
        ({"warmup_minutes": True}, "schedule.warmup_minutes"),
        ({"end_grace_minutes": 121}, "schedule.end_grace_minutes"),
        ({"join_opens_at": NOW + timedelta(hours=4)}, "schedule.join_opens_at"),
    ],
)
def test_bad_schedules_are_refused_naming_the_field(fields, field):
    with pytest.raises(ValidationError) as caught:
        plan_schedule(NOW, **fields)
    assert caught.value.field == field


def test_exactly_24_hours_is_allowed():
    assert plan_schedule(NOW, ends_at=NOW + timedelta(hours=24)).ends_at == NOW + timedelta(
        hours=24
    )


def test_warmup_is_due_from_its_time_until_the_end_and_never_without_a_start():
    schedule = plan_schedule(NOW, starts_at=NOW + 60 * MIN)  # warm-up at NOW + 45 min

    assert not due_for_warmup(schedule, NOW + 44 * MIN)
    assert due_for_warmup(schedule, NOW + 45 * MIN)
    assert due_for_warmup(schedule, NOW + 200 * MIN)
    assert not due_for_warmup(schedule, schedule.ends_at)
    assert not due_for_warmup(plan_schedule(NOW), NOW + 5 * MIN)


def test_joining_is_open_while_running_unless_join_opens_at_is_later():
    start = NOW + 60 * MIN
    early = plan_schedule(NOW, starts_at=start)
    gated = plan_schedule(NOW, starts_at=start, join_opens_at=start - 5 * MIN)

    assert doors_open(early, start - 15 * MIN)  # warm-up: running early, doors open
    assert not doors_open(gated, start - 15 * MIN)
    assert doors_open(gated, start - 5 * MIN)
    assert not doors_open(early, early.ends_at)


def test_phases_warn_in_the_last_fifteen_minutes_then_grace_then_over():
    schedule = plan_schedule(NOW, ends_at=NOW + 60 * MIN, end_grace_minutes=10)

    assert phase(schedule, NOW) is Phase.OPEN
    assert phase(schedule, NOW + 44 * MIN) is Phase.OPEN
    assert phase(schedule, NOW + 45 * MIN) is Phase.ENDING
    assert phase(schedule, NOW + 60 * MIN) is Phase.GRACE
    assert phase(schedule, NOW + 69 * MIN) is Phase.GRACE
    assert phase(schedule, NOW + 70 * MIN) is Phase.OVER
    assert not due_for_teardown(schedule, NOW + 69 * MIN)
    assert due_for_teardown(schedule, NOW + 70 * MIN)


def test_before_join_opens_the_phase_is_before():
    schedule = plan_schedule(NOW, starts_at=NOW + 60 * MIN, join_opens_at=NOW + 55 * MIN)
    assert phase(schedule, NOW + 50 * MIN) is Phase.BEFORE
    assert phase(schedule, NOW + 55 * MIN) is Phase.OPEN


def test_extending_pushes_the_end_back_within_24_hours_of_the_start():
    schedule = plan_schedule(NOW)

    later = extended(schedule, NOW + timedelta(hours=5), NOW + MIN, began=NOW)

    assert later.ends_at == NOW + timedelta(hours=5)
    assert later.grace_ends_at == NOW + timedelta(hours=5, minutes=10)
    with pytest.raises(ValidationError):
        extended(schedule, NOW + timedelta(hours=25), NOW + MIN, began=NOW)
    with pytest.raises(ValidationError):
        extended(schedule, NOW, NOW + MIN, began=NOW)  # the past: end_now is for that


def test_ending_now_moves_the_end_to_now_and_keeps_the_grace():
    schedule = plan_schedule(NOW, starts_at=NOW + 30 * MIN)

    ended = ended_now(schedule, NOW + 10 * MIN)

    assert ended.ends_at == NOW + 10 * MIN
    assert ended.grace_ends_at == NOW + 20 * MIN
    assert ended.starts_at is None  # a start after the end no longer means anything
    assert ended_now(ended, NOW + 15 * MIN) == ended  # already over: unchanged


def test_retention_is_over_after_the_configured_days():
    assert not retention_over(NOW, NOW + timedelta(days=30) - MIN, 30)
    assert retention_over(NOW, NOW + timedelta(days=30), 30)


def test_new_learners_join_only_while_doors_are_open_and_returning_ones_until_grace_ends():
    from shared.domain.errors import DoorsNotOpen, WorkshopEnded
    from shared.domain.schedule import check_join

    schedule = plan_schedule(
        NOW, starts_at=NOW + 60 * MIN, join_opens_at=NOW + 55 * MIN, ends_at=NOW + 120 * MIN
    )

    with pytest.raises(DoorsNotOpen, match="joining opens at"):
        check_join(schedule, NOW + 50 * MIN, reconnecting=False)
    check_join(schedule, NOW + 55 * MIN, reconnecting=False)
    with pytest.raises(WorkshopEnded):
        check_join(schedule, NOW + 120 * MIN, reconnecting=False)
    check_join(schedule, NOW + 129 * MIN, reconnecting=True)  # in the grace: download
    with pytest.raises(WorkshopEnded):
        check_join(schedule, NOW + 130 * MIN, reconnecting=True)
    check_join(None, NOW, reconnecting=False)  # older records have no schedule
