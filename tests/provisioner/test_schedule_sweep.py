"""The reconciler's schedule rules, driven by a fake clock (``reconcile(now=...)``).

Warm-up starts exactly once; the end leaves a grace period, then destroys every host within
the sweep; ending early and extending move that; stopped workshops are kept for the
retention period with their final cost, then deleted with their seats.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shared.auth.instructor import Instructor
from shared.bootstrap import Platform
from shared.domain.errors import CostCeilingExceeded, StaleState, WorkshopEnded
from shared.domain.events import WORKSHOP_START_REQUESTED
from shared.domain.model import HostStatus, Workshop, WorkshopStatus
from shared.ports.compute import Compute
from shared.ports.store import SeatRequest
from shared.services import workshops
from shared.services.provisioning import handle
from shared.services.reconcile import reconcile
from shared.services.schedule import ScheduleChange, change_schedule
from shared.settings import Settings
from tests.provisioner.conftest import ComputeUnderTest
from tests.provisioner.test_provisioning import make_all_ready, stored
from tests.support.compute_doubles import InMemoryCompute

S = WorkshopStatus
MIN = timedelta(minutes=1)
T0 = datetime.now(UTC).replace(microsecond=0)  # the fake clock's origin
TEACHER = Instructor("teacher@example.com")
KEY = "sk-ant-api03-" + "k" * 30
BAKED_IMAGE = "projects/proj/global/images/family/clarateach-host"
MakePlatform = Callable[[Compute], Platform]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The fake clock runs hours ahead of the real timestamps the provisioner records, so
    the stuck-provisioning deadline (a separate rule, tested in test_reconcile) is lifted."""
    return replace(settings, provisioning_deadline_seconds=10**8)


def create(platform: Platform, now: datetime = T0, **schedule: object) -> Workshop:
    return workshops.create_workshop(
        platform, TEACHER, name="Scheduled", seats=20, api_key=KEY, schedule=schedule, now=now
    )


def start_events(platform: Platform, workshop_id: str) -> list[int]:
    return [
        e.data["attempt"]
        for e in platform.bus.published  # type: ignore[attr-defined]
        if e.type == WORKSHOP_START_REQUESTED and e.workshop_id == workshop_id
    ]


def run_provisioner(platform: Platform, workshop: Workshop) -> None:
    """Deliver the start the sweep published, then every host's ready event."""
    for event in list(platform.bus.published):  # type: ignore[attr-defined]
        if event.workshop_id == workshop.id and event.type == WORKSHOP_START_REQUESTED:
            handle(platform, event, uuid.uuid4().hex)
    make_all_ready(platform, stored(platform, workshop))


def running(platform: Platform, **schedule: object) -> Workshop:
    workshop = create(platform, **schedule)
    workshops.start_workshop(platform, TEACHER, workshop.id, now=T0)
    run_provisioner(platform, workshop)
    current = stored(platform, workshop)
    assert current.status is S.RUNNING
    return current


# ----------------------------------------------------------------------------- warm-up
def test_warmup_starts_the_workshop_its_minutes_before_starts_at(make_platform: MakePlatform):
    platform = make_platform(InMemoryCompute())
    workshop = create(platform, starts_at=T0 + 60 * MIN, warmup_minutes=20)

    assert reconcile(platform, now=T0 + 39 * MIN).warmed_up == []
    assert stored(platform, workshop).status is S.CREATED

    report = reconcile(platform, now=T0 + 40 * MIN)

    assert report.warmed_up == [workshop.id]
    current = stored(platform, workshop)
    assert current.status is S.PROVISIONING and current.attempt == 1
    assert current.billing_started_at == T0 + 40 * MIN
    assert start_events(platform, workshop.id) == [1]


def test_warmup_starts_exactly_once_under_duplicate_and_out_of_order_sweeps(
    make_platform: MakePlatform,
):
    platform = make_platform(InMemoryCompute())
    workshop = create(platform, starts_at=T0 + 60 * MIN)
    at = T0 + 50 * MIN

    reconcile(platform, now=at)
    reconcile(platform, now=at)  # redelivered / duplicate sweep
    reconcile(platform, now=at - 10 * MIN)  # an older sweep finishing late
    reconcile(platform, now=at + 5 * MIN)
    run_provisioner(platform, workshop)
    reconcile(platform, now=at + 6 * MIN)

    assert start_events(platform, workshop.id) == [1]
    assert stored(platform, workshop).status is S.RUNNING
    assert platform.compute.creations == {h.name: 1 for h in stored(platform, workshop).hosts}  # type: ignore[attr-defined]


def test_concurrent_sweeps_start_it_once(make_platform: MakePlatform):
    platform = make_platform(InMemoryCompute())
    workshop = create(platform, starts_at=T0 + 15 * MIN)
    barrier = threading.Barrier(6)

    def sweep() -> None:
        barrier.wait(timeout=30)
        reconcile(platform, now=T0 + 1 * MIN)

    threads = [threading.Thread(target=sweep) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert start_events(platform, workshop.id) == [1]


def test_a_workshop_stopped_or_deleted_by_hand_is_never_started(make_platform: MakePlatform):
    platform = make_platform(InMemoryCompute())
    stopped = create(platform, starts_at=T0 + 120 * MIN)
    workshops.start_workshop(platform, TEACHER, stopped.id, now=T0)
    workshops.stop_workshop(platform, TEACHER, stopped.id)
    gone = create(platform, starts_at=T0 + 30 * MIN)
    platform.store.delete_workshop(gone.id)
    published = len(platform.bus.published)  # type: ignore[attr-defined]

    report = reconcile(platform, now=T0 + 110 * MIN)

    assert report.warmed_up == []
    assert stored(platform, stopped).status in (S.STOPPING, S.STOPPED)
    assert platform.store.get_workshop(gone.id) is None
    new = platform.bus.published[published:]  # type: ignore[attr-defined]
    assert [e for e in new if e.type == WORKSHOP_START_REQUESTED] == []


def test_a_workshop_whose_end_passed_before_warmup_is_not_started(make_platform: MakePlatform):
    platform = make_platform(InMemoryCompute())
    workshop = create(platform, starts_at=T0 + 10 * MIN, ends_at=T0 + 40 * MIN)

    assert reconcile(platform, now=T0 + 41 * MIN).warmed_up == []
    assert stored(platform, workshop).status is S.CREATED
    with pytest.raises(WorkshopEnded):
        workshops.start_workshop(platform, TEACHER, workshop.id, now=T0 + 41 * MIN)


# ------------------------------------------------------------------------ automatic end
def test_at_ends_at_hosts_stay_for_the_grace_then_all_go_within_one_sweep(
    make_platform: MakePlatform,
):
    compute = InMemoryCompute()
    platform = make_platform(compute)
    workshop = running(platform, ends_at=T0 + 60 * MIN, end_grace_minutes=10)
    names = {h.name for h in workshop.hosts}
    assert set(compute.hosts) == names

    for minute in (60, 65, 69):  # ends_at passed: grace, downloads still possible
        report = reconcile(platform, now=T0 + minute * MIN)
        assert report.ended == []
        assert set(compute.hosts) == names
        assert stored(platform, workshop).status is S.RUNNING

    report = reconcile(platform, now=T0 + 70 * MIN)  # the first sweep after the grace

    assert report.ended == [workshop.id]
    assert compute.hosts == {}
    current = stored(platform, workshop)
    assert current.status is S.STOPPED
    assert all(h.status is HostStatus.DELETED for h in current.hosts)
    assert current.stopped_at == T0 + 70 * MIN


def test_no_vm_outlives_the_grace_by_more_than_one_sweep_at_any_sweep_phase(
    make_platform: MakePlatform,
):
    """Sweeps every minute at an arbitrary offset: the hosts are gone by the first sweep at
    or after ends_at + grace, so they outlive it by less than one sweep interval."""
    compute = InMemoryCompute()
    platform = make_platform(compute)
    workshop = running(platform, ends_at=T0 + 30 * MIN, end_grace_minutes=5)
    deadline = T0 + 35 * MIN
    sweep = T0 + timedelta(seconds=17)
    while compute.hosts:
        reconcile(platform, now=sweep)
        last = sweep
        sweep += MIN
    assert deadline <= last < deadline + MIN
    assert stored(platform, workshop).status is S.STOPPED


def test_ending_early_stops_after_the_grace(make_platform: MakePlatform):
    compute = InMemoryCompute()
    platform = make_platform(compute)
    workshop = running(platform, ends_at=T0 + 180 * MIN, end_grace_minutes=10)

    ended = change_schedule(
        platform, TEACHER, workshop.id, ScheduleChange(end_now=True), now=T0 + 20 * MIN
    )

    assert ended.ends_at == T0 + 20 * MIN
    assert reconcile(platform, now=T0 + 29 * MIN).ended == []
    assert compute.hosts  # learners can still download their work
    assert reconcile(platform, now=T0 + 30 * MIN).ended == [workshop.id]
    assert compute.hosts == {}


def test_extending_pushes_the_end_back(make_platform: MakePlatform):
    compute = InMemoryCompute()
    platform = make_platform(compute)
    workshop = running(platform, ends_at=T0 + 60 * MIN, end_grace_minutes=10)

    extended = change_schedule(
        platform, TEACHER, workshop.id, ScheduleChange(extend_minutes=30), now=T0 + 50 * MIN
    )
    assert extended.ends_at == T0 + 90 * MIN

    assert reconcile(platform, now=T0 + 75 * MIN).ended == []
    assert stored(platform, workshop).status is S.RUNNING
    moved = change_schedule(
        platform, TEACHER, workshop.id, ScheduleChange(ends_at=T0 + 120 * MIN), now=T0 + 80 * MIN
    )
    assert moved.ends_at == T0 + 120 * MIN
    assert reconcile(platform, now=T0 + 129 * MIN).ended == []
    assert reconcile(platform, now=T0 + 130 * MIN).ended == [workshop.id]


def test_the_schedule_of_a_stopped_workshop_cannot_change(make_platform: MakePlatform):
    platform = make_platform(InMemoryCompute())
    workshop = running(platform, ends_at=T0 + 30 * MIN, end_grace_minutes=0)
    reconcile(platform, now=T0 + 30 * MIN)

    with pytest.raises(StaleState):
        change_schedule(
            platform, TEACHER, workshop.id, ScheduleChange(extend_minutes=10), now=T0 + 31 * MIN
        )


# ------------------------------------------------------------------------- cost, retention
def test_stop_records_the_final_cost_and_it_stays_on_the_record(make_platform: MakePlatform):
    platform = make_platform(InMemoryCompute())
    workshop = running(platform, ends_at=T0 + 60 * MIN, end_grace_minutes=0)
    platform.store.put_seat_usage(workshop.id, {1: {"requests": 4, "cost_usd": 0.75}})

    reconcile(platform, now=T0 + 60 * MIN)

    final = stored(platform, workshop).final_cost
    assert final is not None
    assert final["kind"] == "final"
    assert final["hosts"] == 2 and final["vm_hours"] == pytest.approx(2.0)
    assert final["model_usd"] == pytest.approx(0.75)
    assert final["vm_usd"] == 0.0  # embedded mode: local processes cost nothing
    assert final["total_usd"] == pytest.approx(0.75)


def test_retention_keeps_a_stopped_workshop_then_deletes_it_with_its_seats(
    make_platform: MakePlatform,
):
    platform = make_platform(InMemoryCompute())
    workshop = running(platform, ends_at=T0 + 60 * MIN, end_grace_minutes=0)
    platform.store.assign_seat(workshop, SeatRequest(reconnect_hash="r1"))
    reconcile(platform, now=T0 + 60 * MIN)
    kept_until = T0 + 60 * MIN + timedelta(days=platform.settings.retention_days)

    assert reconcile(platform, now=kept_until - MIN).purged == []
    assert stored(platform, workshop).final_cost is not None

    assert reconcile(platform, now=kept_until).purged == [workshop.id]
    assert platform.store.get_workshop(workshop.id) is None
    assert platform.store.list_seats(workshop.id) == []


def test_start_is_refused_when_the_estimate_exceeds_the_deployment_ceiling(
    make_platform: MakePlatform,
):
    platform = make_platform(InMemoryCompute())
    platform = replace(
        platform,
        settings=replace(
            platform.settings,
            mode="gcp",
            gce_image=BAKED_IMAGE,
            gce_zone="us-central1-a",
            gce_machine_type="e2-standard-4",
            max_workshop_usd=1.0,
        ),
    )
    workshop = create(platform, ends_at=T0 + 180 * MIN)

    with pytest.raises(CostCeilingExceeded, match=r"ceiling of 1\.00 USD"):
        workshops.start_workshop(platform, TEACHER, workshop.id, now=T0)
    assert stored(platform, workshop).status is S.CREATED
    assert start_events(platform, workshop.id) == []


def test_a_warmup_over_the_ceiling_stays_created_and_says_why(make_platform: MakePlatform):
    platform = make_platform(InMemoryCompute())
    platform = replace(
        platform,
        settings=replace(
            platform.settings,
            mode="gcp",
            gce_image=BAKED_IMAGE,
            gce_zone="us-central1-a",
            max_workshop_usd=1.0,
        ),
    )
    workshop = create(platform, starts_at=T0 + 10 * MIN)

    report = reconcile(platform, now=T0)

    assert report.warmed_up == [] and report.errors
    current = stored(platform, workshop)
    assert current.status is S.CREATED
    assert current.error is not None and "ceiling" in current.error


def test_teardown_after_the_grace_deletes_real_hosts_on_every_compute_adapter(
    compute_under_test: ComputeUnderTest, make_platform: MakePlatform
):
    """GCE through its client library against the REST fake, and local agent processes."""
    compute = compute_under_test.compute
    platform = make_platform(compute)
    workshop = running(platform, ends_at=T0 + 30 * MIN, end_grace_minutes=5)
    assert len(compute.list_hosts({"workshop": workshop.id})) == 2

    reconcile(platform, now=T0 + 34 * MIN)
    assert len(compute.list_hosts({"workshop": workshop.id})) == 2  # grace: still there

    report = reconcile(platform, now=T0 + 35 * MIN)

    assert report.ended == [workshop.id]
    assert compute.list_hosts({"workshop": workshop.id}) == []
    assert stored(platform, workshop).status is S.STOPPED
