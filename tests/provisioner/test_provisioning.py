"""The provisioner's rules (issue 4, "Done when"), on both compute adapters where they apply."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest

from shared.bootstrap import Platform
from shared.domain.errors import TransientError
from shared.domain.events import (
    HOST_FAILED,
    HOST_READY,
    HOST_USAGE,
    WORKSHOP_START_REQUESTED,
    WORKSHOP_STOP_REQUESTED,
    Event,
)
from shared.domain.model import HostStatus, Workshop, WorkshopStatus, utcnow
from shared.ports.compute import Compute
from shared.services.provisioning import Outcome, handle
from tests.provisioner.conftest import ComputeUnderTest, new_workshop
from tests.support.compute_doubles import CrashAfterInsertCompute, FailingCompute, InMemoryCompute

S = WorkshopStatus
MakePlatform = Callable[[Compute], Platform]


def delivery() -> str:
    return uuid.uuid4().hex


def start_event(workshop: Workshop, attempt: int | None = None) -> Event:
    return Event(
        WORKSHOP_START_REQUESTED,
        workshop.id,
        {"attempt": workshop.attempt if attempt is None else attempt},
    )


def ready_event(workshop: Workshop, index: int) -> Event:
    return Event(
        HOST_READY,
        workshop.id,
        {
            "host_index": index,
            "attempt": workshop.attempt,
            "endpoint": f"http://127.0.0.1:{7000 + index}",
            "timings": {},
        },
    )


def stored(platform: Platform, workshop: Workshop) -> Workshop:
    current = platform.store.get_workshop(workshop.id)
    assert current is not None
    return current


def make_all_ready(platform: Platform, workshop: Workshop) -> None:
    for index in range(workshop.host_count):
        assert handle(platform, ready_event(workshop, index), delivery()) is Outcome.HANDLED


# ------------------------------------------------------------------- start
def test_start_creates_one_host_per_seats_per_host_with_timings(
    compute_under_test: ComputeUnderTest, make_platform: MakePlatform
) -> None:
    platform = make_platform(compute_under_test.compute)
    workshop = new_workshop(platform, seats=45, per_host=10)

    assert handle(platform, start_event(workshop), delivery()) is Outcome.HANDLED

    current = stored(platform, workshop)
    assert current.status is S.PROVISIONING
    assert [h.index for h in current.hosts] == [0, 1, 2, 3, 4]
    assert [(h.seat_first, h.seat_last) for h in current.hosts][-1] == (41, 45)
    for host in current.hosts:
        assert host.status is HostStatus.CREATING
        assert {"requested", "instance_running"} <= set(host.timings)
        assert compute_under_test.created(host.name) == 1
    assert len(compute_under_test.compute.list_hosts({"workshop": workshop.id})) == 5


def test_same_event_delivered_twice_creates_one_host_per_index_and_one_transition(
    compute_under_test: ComputeUnderTest, make_platform: MakePlatform
) -> None:
    platform = make_platform(compute_under_test.compute)
    workshop = new_workshop(platform, seats=20, per_host=10)
    event, delivery_id = start_event(workshop), delivery()

    assert handle(platform, event, delivery_id) is Outcome.HANDLED
    assert handle(platform, event, delivery_id) is Outcome.DUPLICATE

    hosts = stored(platform, workshop).hosts
    assert all(compute_under_test.created(h.name) == 1 for h in hosts)
    ready, ready_id = ready_event(workshop, 0), delivery()
    handle(platform, ready_event(workshop, 1), delivery())
    assert handle(platform, ready, ready_id) is Outcome.HANDLED
    running_since = stored(platform, workshop).updated_at
    assert handle(platform, ready, ready_id) is Outcome.DUPLICATE
    # The same ready event redelivered under a new id (publisher retry) changes nothing either.
    assert handle(platform, ready, delivery()) is Outcome.IGNORED
    after = stored(platform, workshop)
    assert after.status is S.RUNNING and after.updated_at == running_since


def test_two_start_events_create_one_set_of_hosts(
    compute_under_test: ComputeUnderTest, make_platform: MakePlatform
) -> None:
    platform = make_platform(compute_under_test.compute)
    workshop = new_workshop(platform, seats=30, per_host=10)

    assert handle(platform, start_event(workshop), delivery()) is Outcome.HANDLED
    assert handle(platform, start_event(workshop), delivery()) is Outcome.HANDLED

    names = [h.name for h in stored(platform, workshop).hosts]
    assert [compute_under_test.created(n) for n in names] == [1, 1, 1]
    assert len(compute_under_test.compute.list_hosts({"workshop": workshop.id})) == 3


def test_crash_after_insert_before_state_write_converges_on_redelivery(
    compute_under_test: ComputeUnderTest, make_platform: MakePlatform
) -> None:
    crashing = CrashAfterInsertCompute(compute_under_test.compute, crashes=2)
    platform = make_platform(crashing)
    workshop = new_workshop(platform, seats=30, per_host=10)
    event, delivery_id = start_event(workshop), delivery()

    with pytest.raises(TransientError):
        handle(platform, event, delivery_id)
    # The processed-event record was undone, so the redelivery is handled, not skipped.
    assert handle(platform, event, delivery_id) is Outcome.HANDLED

    current = stored(platform, workshop)
    assert all(h.status is HostStatus.CREATING for h in current.hosts)
    assert [compute_under_test.created(h.name) for h in current.hosts] == [1, 1, 1]


def test_stale_start_after_stop_creates_nothing(
    compute_under_test: ComputeUnderTest, make_platform: MakePlatform
) -> None:
    platform = make_platform(compute_under_test.compute)
    workshop = new_workshop(platform, seats=20, per_host=10)
    late_start = start_event(workshop)
    platform.store.transition(workshop.id, S.PROVISIONING, S.STOPPING)
    assert (
        handle(platform, Event(WORKSHOP_STOP_REQUESTED, workshop.id), delivery()) is Outcome.HANDLED
    )

    assert handle(platform, late_start, delivery()) is Outcome.IGNORED

    assert stored(platform, workshop).status is S.STOPPED
    assert compute_under_test.compute.list_hosts({"workshop": workshop.id}) == []
    assert all(compute_under_test.created(h.name) == 0 for h in workshop.hosts)


def test_start_for_an_earlier_attempt_creates_nothing(
    compute_under_test: ComputeUnderTest, make_platform: MakePlatform
) -> None:
    platform = make_platform(compute_under_test.compute)
    workshop = new_workshop(platform, seats=10, per_host=10)

    assert handle(platform, start_event(workshop, attempt=0), delivery()) is Outcome.IGNORED
    assert compute_under_test.compute.list_hosts({"workshop": workshop.id}) == []


def test_events_older_than_the_maximum_age_are_dropped(
    compute_under_test: ComputeUnderTest, make_platform: MakePlatform
) -> None:
    platform = make_platform(compute_under_test.compute)
    workshop = new_workshop(platform, seats=10, per_host=10)
    old = replace(
        start_event(workshop),
        occurred_at=utcnow() - timedelta(seconds=platform.settings.event_max_age_seconds + 1),
    )

    assert handle(platform, old, delivery()) is Outcome.STALE
    assert compute_under_test.compute.list_hosts({"workshop": workshop.id}) == []


def test_stop_during_provisioning_deletes_hosts_and_secret(
    compute_under_test: ComputeUnderTest, make_platform: MakePlatform
) -> None:
    platform = make_platform(compute_under_test.compute)
    workshop = new_workshop(platform, seats=30, per_host=10)
    handle(platform, start_event(workshop), delivery())
    handle(platform, ready_event(workshop, 0), delivery())  # one host up, two still booting
    assert workshop.api_key_ref and platform.secrets.access(workshop.api_key_ref)

    platform.store.transition(workshop.id, S.PROVISIONING, S.STOPPING)
    stop = Event(WORKSHOP_STOP_REQUESTED, workshop.id)
    assert handle(platform, stop, delivery()) is Outcome.HANDLED

    current = stored(platform, workshop)
    assert current.status is S.STOPPED
    assert all(h.status is HostStatus.DELETED for h in current.hosts)
    assert compute_under_test.compute.list_hosts({"workshop": workshop.id}) == []
    assert platform.secrets.access(workshop.api_key_ref) is None
    # A straggling host.ready after the stop changes nothing.
    assert handle(platform, ready_event(workshop, 1), delivery()) is Outcome.IGNORED
    assert stored(platform, workshop).status is S.STOPPED


def test_all_hosts_ready_moves_the_workshop_to_running_with_endpoints(
    compute_under_test: ComputeUnderTest, make_platform: MakePlatform
) -> None:
    platform = make_platform(compute_under_test.compute)
    workshop = new_workshop(platform, seats=20, per_host=10)
    handle(platform, start_event(workshop), delivery())

    handle(platform, ready_event(workshop, 1), delivery())
    assert stored(platform, workshop).status is S.PROVISIONING
    handle(platform, ready_event(workshop, 0), delivery())

    current = stored(platform, workshop)
    assert current.status is S.RUNNING
    assert [h.endpoint for h in current.hosts] == ["http://127.0.0.1:7000", "http://127.0.0.1:7001"]
    assert all({"requested", "instance_running", "ready"} <= set(h.timings) for h in current.hosts)


# -------------------------------------------------------------- failures
@pytest.mark.parametrize("mode", ["quota", "stockout", "bad_image"])
def test_permanent_compute_error_fails_the_workshop_with_a_readable_reason(
    mode: str, make_platform: MakePlatform
) -> None:
    inner = InMemoryCompute()
    platform = make_platform(FailingCompute(mode, inner, indexes={2}))
    workshop = new_workshop(platform, seats=30, per_host=10)

    assert handle(platform, start_event(workshop), delivery()) is Outcome.FAILED

    current = stored(platform, workshop)
    assert current.status is S.FAILED
    assert current.error and "creating host 2" in current.error
    assert inner.hosts == {}  # the hosts that did start were deleted again


def test_gce_quota_error_fails_the_workshop_with_the_quota_reason(
    make_platform: MakePlatform, tmp_path: object
) -> None:
    from google.auth.credentials import AnonymousCredentials

    from shared.adapters.gce_compute import GceCompute, GceHostConfig
    from tests.provisioner.conftest import fake_startup_script
    from tests.support.fake_gce import running_fake_gce

    with running_fake_gce() as fake:
        config = GceHostConfig(
            project="proj",
            zone="us-central1-a",
            machine_type="e2-standard-4",
            image="projects/proj/global/images/family/clarateach-host",
        )
        platform = make_platform(
            GceCompute.for_endpoint(
                config, fake.url, AnonymousCredentials(), startup_script=fake_startup_script
            )
        )
        workshop = new_workshop(platform, seats=10, per_host=10)
        fake.fail_operation(
            "QUOTA_EXCEEDED", "Quota 'CPUS' exceeded.  Limit: 24.0 in region us-central1."
        )

        assert handle(platform, start_event(workshop), delivery()) is Outcome.FAILED

        current = stored(platform, workshop)
        assert current.status is S.FAILED
        assert current.error is not None
        assert "out of quota" in current.error and "Limit: 24.0" in current.error
        assert fake.instances == {}


def test_transient_compute_error_is_raised_for_redelivery(make_platform: MakePlatform) -> None:
    platform = make_platform(FailingCompute("unavailable"))
    workshop = new_workshop(platform, seats=10, per_host=10)
    event, delivery_id = start_event(workshop), delivery()

    with pytest.raises(TransientError):
        handle(platform, event, delivery_id)
    assert stored(platform, workshop).status is S.PROVISIONING
    assert platform.store.record_event(delivery_id), "the failed delivery must be retryable"


def test_host_failed_while_provisioning_fails_the_workshop(make_platform: MakePlatform) -> None:
    compute = InMemoryCompute()
    platform = make_platform(compute)
    workshop = new_workshop(platform, seats=20, per_host=10)
    handle(platform, start_event(workshop), delivery())

    data = {"host_index": 1, "attempt": workshop.attempt, "reason": "docker did not start"}
    failed = Event(HOST_FAILED, workshop.id, data)
    assert handle(platform, failed, delivery()) is Outcome.FAILED

    current = stored(platform, workshop)
    assert current.status is S.FAILED
    assert current.error == "host 1 failed to start: docker did not start"
    assert compute.hosts == {}


# ------------------------------------------------------------------ poison
def test_event_for_unknown_workshop_is_acknowledged(make_platform: MakePlatform) -> None:
    platform = make_platform(InMemoryCompute())
    ghost = Event(WORKSHOP_START_REQUESTED, "nosuchworkshop", {"attempt": 1})
    assert handle(platform, ghost, delivery()) is Outcome.UNKNOWN_WORKSHOP


@pytest.mark.parametrize("data", [{}, {"attempt": "1"}, {"attempt": -1}, {"attempt": True}])
def test_start_with_a_bad_payload_is_acknowledged(data: dict, make_platform: MakePlatform) -> None:
    compute = InMemoryCompute()
    platform = make_platform(compute)
    workshop = new_workshop(platform, seats=10, per_host=10)
    assert (
        handle(platform, Event(WORKSHOP_START_REQUESTED, workshop.id, data), delivery())
        is Outcome.MALFORMED
    )
    assert compute.hosts == {}


@pytest.mark.parametrize(
    "data",
    [
        {"host_index": 0},
        {"host_index": 0, "endpoint": "javascript:alert(1)"},
        {"endpoint": "http://x"},
    ],
)
def test_host_ready_with_a_bad_payload_is_acknowledged(
    data: dict, make_platform: MakePlatform
) -> None:
    platform = make_platform(InMemoryCompute())
    workshop = new_workshop(platform, seats=10, per_host=10)
    data = {**data, "attempt": workshop.attempt}
    assert handle(platform, Event(HOST_READY, workshop.id, data), delivery()) is Outcome.MALFORMED


# ------------------------------------------------------------------- usage
def test_host_usage_is_stored_per_seat(make_platform: MakePlatform) -> None:
    platform = make_platform(InMemoryCompute())
    workshop = new_workshop(platform, seats=10, per_host=10)
    usage = Event(
        HOST_USAGE,
        workshop.id,
        {
            "host_index": 0,
            "attempt": workshop.attempt,
            "seats": {
                "3": {"requests": 2, "input_tokens": 100, "output_tokens": 40, "cost_usd": 0.01}
            },
        },
    )

    assert handle(platform, usage, delivery()) is Outcome.HANDLED
    assert platform.store.get_seat_usage(workshop.id)[3]["input_tokens"] == 100


# ----------------------------------------------------------------- secrets
def test_agent_configuration_carries_references_never_the_api_key(
    compute_under_test: ComputeUnderTest, make_platform: MakePlatform
) -> None:
    platform = make_platform(compute_under_test.compute)
    workshop = new_workshop(platform, seats=10, per_host=10, api_key="sk-ant-api03-SECRETVALUE")
    handle(platform, start_event(workshop), delivery())

    if compute_under_test.fake_gce is not None:
        body = compute_under_test.fake_gce.inserts()[0].body
        metadata = {i["key"]: i["value"] for i in body["metadata"]["items"]}
        assert "SECRETVALUE" not in str(body)
    else:
        import psutil

        from tests.provisioner.conftest import STANDIN_MODULE

        def command_line(process: psutil.Process) -> str:
            try:
                return " ".join(process.cmdline())
            except psutil.NoSuchProcess:  # another test's exited child (a zombie, or reaped)
                return ""

        agents = [p for p in psutil.Process().children() if STANDIN_MODULE in command_line(p)]
        assert len(agents) == 1
        metadata = agents[0].environ()
        assert "SECRETVALUE" not in str(metadata)
        assert "SECRETVALUE" not in " ".join(agents[0].cmdline())
    assert metadata["CLARATEACH_AGENT_API_KEY_REF"] == workshop.api_key_ref
    assert metadata["CLARATEACH_AGENT_SEATS"] == "1-10"
    assert metadata["CLARATEACH_AGENT_JWKS_URL"] == "http://127.0.0.1:8/api/jwks.json"
    assert metadata["CLARATEACH_AGENT_EVENTS"] == "hostapi:http://127.0.0.1:8"
    assert metadata["CLARATEACH_AGENT_ATTEMPT"] == str(workshop.attempt)
    # No secret in the configuration: a GCE host proves itself with its identity token.
    assert "CLARATEACH_AGENT_EVENTS_TOKEN" not in metadata


def test_start_never_touches_the_secrets_port(make_platform: MakePlatform) -> None:
    """Hosts fetch their key with their VM identity (POST /api/hosts/credentials): the
    provisioner neither reads a key nor changes who may read one."""
    from shared.adapters.local_secrets import LocalSecrets

    calls: list[str] = []

    class RecordingSecrets(LocalSecrets):
        def __getattribute__(self, name: str) -> object:
            if not name.startswith("_") and name not in ("directory", "ref_for"):
                calls.append(name)
            return super().__getattribute__(name)

    platform = make_platform(InMemoryCompute())
    platform.settings = replace(platform.settings, host_service_account="host@proj.iam")
    workshop = new_workshop(platform, seats=10, per_host=10)
    platform.secrets = RecordingSecrets(platform.settings.state_dir / "secrets")

    assert handle(platform, start_event(workshop), delivery()) is Outcome.HANDLED

    assert calls == []
