"""The reconciler repairs what lost events and crashes leave behind."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest

from shared.bootstrap import Platform
from shared.domain.events import WORKSHOP_START_REQUESTED, Event
from shared.domain.model import HostStatus, WorkshopStatus, utcnow
from shared.ports.compute import Compute, HostSpec
from shared.services import reconcile as reconcile_module
from shared.services.provisioning import Outcome, handle
from shared.services.reconcile import STOP_GRACE_SECONDS, reconcile
from tests.provisioner.conftest import ComputeUnderTest, new_workshop
from tests.provisioner.test_provisioning import make_all_ready, stored
from tests.support.compute_doubles import InMemoryCompute

S = WorkshopStatus
MakePlatform = Callable[[Compute], Platform]


def start(platform: Platform, workshop_id: str) -> None:
    workshop = platform.store.get_workshop(workshop_id)
    assert workshop is not None
    event = Event(WORKSHOP_START_REQUESTED, workshop_id, {"attempt": workshop.attempt})
    assert handle(platform, event, uuid.uuid4().hex) is Outcome.HANDLED


def test_deletes_an_orphan_and_keeps_hosts_of_live_workshops(
    compute_under_test: ComputeUnderTest, make_platform: MakePlatform
) -> None:
    platform = make_platform(compute_under_test.compute)
    live = new_workshop(platform, seats=10, per_host=10)
    start(platform, live.id)
    orphan = HostSpec("gone0000ws", 0, "ct-gone0000ws-h0", 1, 10)  # its workshop never existed
    compute_under_test.compute.create_host(orphan)

    report = reconcile(platform)

    assert report.orphans_deleted == [orphan.name]
    assert compute_under_test.compute.get_host(orphan.name) is None
    assert [h.name for h in compute_under_test.compute.list_hosts({"workshop": live.id})] == [
        live.hosts[0].name
    ]


def test_fails_a_workshop_stuck_in_provisioning_and_deletes_its_hosts(
    compute_under_test: ComputeUnderTest, make_platform: MakePlatform
) -> None:
    platform = make_platform(compute_under_test.compute)
    workshop = new_workshop(platform, seats=20, per_host=10)
    start(platform, workshop.id)
    later = utcnow() + timedelta(seconds=platform.settings.provisioning_deadline_seconds + 5)

    report = reconcile(platform, now=later)

    assert report.failed_stuck == [workshop.id]
    current = stored(platform, workshop)
    assert current.status is S.FAILED
    assert current.error is not None and "did not become ready" in current.error
    assert "0 of 2 ready" in current.error
    assert compute_under_test.compute.list_hosts({"workshop": workshop.id}) == []


def test_leaves_a_workshop_that_is_still_within_its_deadline(make_platform: MakePlatform) -> None:
    platform = make_platform(InMemoryCompute())
    workshop = new_workshop(platform, seats=10, per_host=10)
    start(platform, workshop.id)

    report = reconcile(platform)

    assert report.failed_stuck == [] and report.orphans_deleted == []
    assert stored(platform, workshop).status is S.PROVISIONING


def test_marks_a_host_lost_when_its_vm_disappeared_while_running(
    compute_under_test: ComputeUnderTest, make_platform: MakePlatform
) -> None:
    platform = make_platform(compute_under_test.compute)
    workshop = new_workshop(platform, seats=20, per_host=10)
    start(platform, workshop.id)
    make_all_ready(platform, workshop)
    compute_under_test.compute.delete_host(workshop.hosts[1].name)

    report = reconcile(platform)

    assert report.hosts_lost == [f"{workshop.id}/1"]
    current = stored(platform, workshop)
    assert current.status is S.RUNNING
    assert [h.status for h in current.hosts] == [HostStatus.READY, HostStatus.LOST]


def test_finishes_an_interrupted_stop(
    compute_under_test: ComputeUnderTest, make_platform: MakePlatform
) -> None:
    platform = make_platform(compute_under_test.compute)
    workshop = new_workshop(platform, seats=10, per_host=10)
    start(platform, workshop.id)
    platform.store.transition(workshop.id, S.PROVISIONING, S.STOPPING)  # stop event never arrived

    report = reconcile(platform, now=utcnow() + timedelta(seconds=STOP_GRACE_SECONDS + 1))

    assert report.stops_finished == [workshop.id]
    assert stored(platform, workshop).status is S.STOPPED
    assert compute_under_test.compute.list_hosts({"workshop": workshop.id}) == []
    assert workshop.api_key_ref and platform.secrets.access(workshop.api_key_ref) is None


def test_recreates_a_host_lost_between_the_state_write_and_the_insert(
    make_platform: MakePlatform,
) -> None:
    compute = InMemoryCompute()
    platform = make_platform(compute)
    workshop = new_workshop(platform, seats=20, per_host=10)
    start(platform, workshop.id)
    compute.delete_host(workshop.hosts[0].name)  # as if the process died before inserting it

    report = reconcile(platform, now=utcnow() + timedelta(seconds=90))

    assert report.hosts_recreated == [workshop.hosts[0].name]
    assert compute.get_host(workshop.hosts[0].name) is not None
    assert compute.creations[workshop.hosts[1].name] == 1


def test_walks_every_page_of_workshops(
    make_platform: MakePlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reconcile_module, "PAGE_SIZE", 2)
    platform = make_platform(InMemoryCompute())
    ids = [new_workshop(platform, seats=10, per_host=10).id for _ in range(3)]
    for workshop_id in ids:
        start(platform, workshop_id)
    later = utcnow() + timedelta(seconds=platform.settings.provisioning_deadline_seconds + 5)

    assert sorted(reconcile(platform, now=later).failed_stuck) == sorted(ids)
