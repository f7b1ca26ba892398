"""The provisioner believes a host event only for the current start attempt and a sane date.

Even on the platform's own transport (where only ``POST /api/hosts/events`` publishes host
events, after proving the sender), a message can be redelivered or replayed long after it was
accepted: a ``host.ready`` or ``host.failed`` of an earlier attempt must not touch this
attempt's hosts, and an event dated in the future beyond the allowed skew is dropped like a
stale one (the clock is injected through ``handle(..., now=...)``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest

from shared.bootstrap import Platform
from shared.domain.events import HOST_FAILED, HOST_READY, Event
from shared.domain.model import HostStatus, Workshop, WorkshopStatus, utcnow
from shared.ports.compute import Compute
from shared.services.provisioning import Outcome, handle
from tests.provisioner.conftest import new_workshop
from tests.provisioner.test_provisioning import delivery, start_event, stored
from tests.support.compute_doubles import InMemoryCompute

S = WorkshopStatus
MakePlatform = Callable[[Compute], Platform]
EVIL = "http://127.0.0.1:1/attacker"


@pytest.fixture
def provisioning(make_platform: MakePlatform) -> tuple[Platform, Workshop]:
    """A workshop at start attempt 2 (a failed first attempt, then a restart)."""
    platform = make_platform(InMemoryCompute())
    workshop = new_workshop(platform, seats=10, per_host=10)
    workshop = platform.store.update_workshop(workshop.id, lambda w: replace(w, attempt=2))
    assert handle(platform, start_event(workshop), delivery()) is Outcome.HANDLED
    return platform, stored(platform, workshop)


def ready(workshop: Workshop, **data: object) -> Event:
    return Event(
        HOST_READY,
        workshop.id,
        {"host_index": 0, "attempt": workshop.attempt, "endpoint": EVIL, "timings": {}, **data},
    )


@pytest.mark.parametrize("attempt", [1, 3, None, "2", True])
def test_a_host_ready_of_another_attempt_changes_nothing(
    provisioning: tuple[Platform, Workshop], attempt: object
) -> None:
    platform, workshop = provisioning
    event = ready(workshop, attempt=attempt)
    if attempt is None:
        del event.data["attempt"]
    assert handle(platform, event, delivery()) is Outcome.OTHER_ATTEMPT
    current = stored(platform, workshop)
    assert current.status is S.PROVISIONING
    assert current.hosts[0].status is not HostStatus.READY and current.hosts[0].endpoint != EVIL


def test_a_host_ready_of_an_old_attempt_cannot_redirect_a_running_workshop(
    provisioning: tuple[Platform, Workshop],
) -> None:
    platform, workshop = provisioning
    honest = ready(workshop, endpoint="http://127.0.0.1:7000")
    assert handle(platform, honest, delivery()) is Outcome.HANDLED
    assert stored(platform, workshop).status is S.RUNNING

    assert handle(platform, ready(workshop, attempt=1), delivery()) is Outcome.OTHER_ATTEMPT
    assert stored(platform, workshop).hosts[0].endpoint == "http://127.0.0.1:7000"


def test_a_host_failed_of_an_earlier_attempt_does_not_fail_this_one(
    provisioning: tuple[Platform, Workshop],
) -> None:
    platform, workshop = provisioning
    data = {"host_index": 0, "attempt": 1, "reason": "from the first attempt"}
    failed = Event(HOST_FAILED, workshop.id, data)
    assert handle(platform, failed, delivery()) is Outcome.OTHER_ATTEMPT
    assert stored(platform, workshop).status is S.PROVISIONING
    current = Event(HOST_FAILED, workshop.id, {**data, "attempt": 2})
    assert handle(platform, current, delivery()) is Outcome.FAILED


@pytest.mark.parametrize(
    ("ahead", "outcome"),
    [
        (timedelta(seconds=30), Outcome.HANDLED),  # within the allowed skew
        (timedelta(seconds=61), Outcome.FUTURE),
        (timedelta(days=365), Outcome.FUTURE),
    ],
)
def test_a_host_ready_dated_in_the_future_beyond_the_skew_is_dropped(
    provisioning: tuple[Platform, Workshop], ahead: timedelta, outcome: Outcome
) -> None:
    platform, workshop = provisioning
    assert platform.settings.event_max_skew_seconds == 60
    now = utcnow()
    event = replace(ready(workshop), occurred_at=now + ahead)
    assert handle(platform, event, delivery(), now=now) is outcome
    expected = S.RUNNING if outcome is Outcome.HANDLED else S.PROVISIONING
    assert stored(platform, workshop).status is expected


def test_a_future_dated_event_is_not_recorded_so_it_cannot_block_a_genuine_one(
    provisioning: tuple[Platform, Workshop],
) -> None:
    platform, workshop = provisioning
    now = utcnow()
    event = replace(ready(workshop), occurred_at=now + timedelta(hours=1))
    delivery_id = delivery()
    assert handle(platform, event, delivery_id, now=now) is Outcome.FUTURE
    assert platform.store.record_event(delivery_id), "a dropped event leaves no record"


def test_the_skew_is_a_setting(provisioning: tuple[Platform, Workshop]) -> None:
    platform, workshop = provisioning
    platform.settings = replace(platform.settings, event_max_skew_seconds=5)
    now = utcnow()
    event = replace(ready(workshop), occurred_at=now + timedelta(seconds=10))
    assert handle(platform, event, delivery(), now=now) is Outcome.FUTURE
