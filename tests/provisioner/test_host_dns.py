"""Host DNS records through the provisioner and reconciler: GceCompute on the Compute fake and
CloudDnsRecords on the Cloud DNS fake, both through their real HTTP clients.

With a domain and a DNS zone, every host gets ``<host name>.<domain>`` -> its external IP as
soon as its instance exists, its agent is told to announce ``https://<host name>.<domain>``,
and the record goes whenever the host goes (stop, failure, orphan sweep). Trial mode (no zone)
touches no DNS at all.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote

import pytest
from google.auth.credentials import AnonymousCredentials

from shared.adapters.cloud_dns import CloudDnsRecords
from shared.adapters.gce_compute import GceCompute, GceHostConfig
from shared.adapters.local_content import LocalContent
from shared.adapters.local_secrets import LocalSecrets
from shared.adapters.sqlite_store import SqliteStore
from shared.bootstrap import Platform, bootstrap
from shared.domain.errors import TransientError
from shared.domain.events import WORKSHOP_START_REQUESTED, WORKSHOP_STOP_REQUESTED, Event
from shared.domain.model import Workshop, WorkshopStatus, utcnow
from shared.ports.compute import Compute, HostInfo, HostSpec
from shared.ports.store import SlotHolder
from shared.services.host_dns import RECORD_TTL_SECONDS
from shared.services.provisioning import Outcome, handle
from shared.services.reconcile import REDRIVE_AFTER_SECONDS, reconcile
from shared.settings import Settings
from tests.provisioner.conftest import RecordingBus, fake_startup_script, new_workshop
from tests.support.fake_cloud_dns import FakeCloudDns, running_fake_cloud_dns
from tests.support.fake_gce import FakeGce, running_fake_gce

S = WorkshopStatus
ZONE = "clarateach-hosts"
DOMAIN = "ws.example.com"
RRSETS = f"/dns/v1/projects/proj/managedZones/{ZONE}/rrsets"


@dataclass
class Cloud:
    gce: FakeGce
    dns: FakeCloudDns
    make: Callable[..., Platform]


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[Cloud]:
    store = SqliteStore(tmp_path / "state.db")
    with running_fake_gce() as gce, running_fake_cloud_dns({ZONE: f"{DOMAIN}."}) as dns:

        def make(
            dns_zone: str = ZONE,
            wrap: Callable[[Compute], Compute] | None = None,
            certificate_slots: int = 0,
        ) -> Platform:
            settings = Settings(
                mode="gcp",
                gcp_project="proj",
                state_dir=tmp_path / "state",
                public_api_url="https://api.example.com",
                workshop_domain=DOMAIN,
                dns_zone=dns_zone,
                certificate_slots=certificate_slots,
            )
            compute: Compute = GceCompute.for_endpoint(
                GceHostConfig("proj", "us-central1-a", "e2-standard-4", "images/family/host"),
                gce.url,
                AnonymousCredentials(),
                startup_script=fake_startup_script,
            )
            return bootstrap(
                settings,
                store=store,
                bus=RecordingBus(),
                compute=wrap(compute) if wrap else compute,
                secrets=LocalSecrets(tmp_path / "secrets"),
                dns=CloudDnsRecords.for_endpoint("proj", ZONE, dns.url, AnonymousCredentials()),
                content=LocalContent(tmp_path / "content"),
            )

        yield Cloud(gce, dns, make)
    store.close()


def start(platform: Platform, workshop: Workshop) -> Outcome:
    event = Event(WORKSHOP_START_REQUESTED, workshop.id, {"attempt": workshop.attempt})
    return handle(platform, event, uuid.uuid4().hex)


def stop(platform: Platform, workshop: Workshop) -> Outcome:
    platform.store.transition(workshop.id, S.PROVISIONING, S.STOPPING)
    return handle(platform, Event(WORKSHOP_STOP_REQUESTED, workshop.id), uuid.uuid4().hex)


def fqdn(host_name: str) -> str:
    return f"{host_name}.{DOMAIN}."


def expected_records(cloud: Cloud, workshop: Workshop) -> dict[str, list[str]]:
    """Every planned host's name -> the external IP its VM really got."""
    names = [f"ct-{workshop.id}-h{i}" for i in range(workshop.host_count)]
    return {fqdn(n): [ip] for n in names if (ip := cloud.gce.external_ip(n))}


def metadata(cloud: Cloud, host_name: str) -> dict[str, str]:
    [insert] = [r for r in cloud.gce.inserts() if r.body["name"] == host_name]
    return {item["key"]: item["value"] for item in insert.body["metadata"]["items"]}


# ------------------------------------------------------------------- start
def test_start_publishes_one_a_record_per_host_and_the_agent_announces_it(cloud: Cloud) -> None:
    platform = cloud.make()
    workshop = new_workshop(platform, seats=30, per_host=10)

    assert start(platform, workshop) is Outcome.HANDLED

    records = expected_records(cloud, workshop)
    assert len(records) == 3 and len({ip for [ip] in records.values()}) == 3
    assert cloud.dns.a_records() == records
    creates = sorted(cloud.dns.calls("POST"), key=lambda r: r.body["name"])
    assert [(c.path, c.body) for c in creates] == [
        (RRSETS, {"name": name, "type": "A", "ttl": RECORD_TTL_SECONDS, "rrdatas": ips})
        for name, ips in sorted(records.items())
    ]
    for index in range(3):
        name = f"ct-{workshop.id}-h{index}"
        assert metadata(cloud, name)["CLARATEACH_AGENT_PUBLIC_URL"] == f"https://{name}.{DOMAIN}"


def test_duplicate_and_repeated_start_events_leave_one_record_per_host(cloud: Cloud) -> None:
    platform = cloud.make()
    workshop = new_workshop(platform, seats=20, per_host=10)
    event = Event(WORKSHOP_START_REQUESTED, workshop.id, {"attempt": workshop.attempt})

    assert handle(platform, event, "delivery-1") is Outcome.HANDLED
    assert handle(platform, event, "delivery-1") is Outcome.DUPLICATE
    assert handle(platform, event, "delivery-2") is Outcome.HANDLED  # republished start

    assert cloud.dns.a_records() == expected_records(cloud, workshop)
    assert len(cloud.dns.records) == 2
    assert all(cloud.gce.created_count(f"ct-{workshop.id}-h{i}") == 1 for i in range(2))


def test_a_host_without_an_external_ip_yet_is_retried_not_published(cloud: Cloud) -> None:
    cloud.gce.external_ips = False
    platform = cloud.make()
    workshop = new_workshop(platform, seats=10, per_host=10)

    with pytest.raises(TransientError):
        start(platform, workshop)  # the transport redelivers
    assert cloud.dns.requests == []


def test_a_dns_outage_at_start_is_retried_and_converges(cloud: Cloud) -> None:
    platform = cloud.make()
    workshop = new_workshop(platform, seats=10, per_host=10)
    cloud.dns.fail_next(503)

    with pytest.raises(TransientError):
        start(platform, workshop)
    assert start(platform, workshop) is Outcome.HANDLED  # the redelivery

    assert cloud.dns.a_records() == expected_records(cloud, workshop) != {}
    assert cloud.gce.created_count(f"ct-{workshop.id}-h0") == 1


# -------------------------------------------------------------------- stop
def test_stop_deletes_every_record_with_its_host(cloud: Cloud) -> None:
    platform = cloud.make()
    workshop = new_workshop(platform, seats=30, per_host=10)
    start(platform, workshop)
    assert len(cloud.dns.a_records()) == 3

    assert stop(platform, workshop) is Outcome.HANDLED

    assert cloud.dns.a_records() == {}
    assert cloud.gce.instances == {}
    deleted = sorted(r.path for r in cloud.dns.calls("DELETE"))
    assert deleted == [f"{RRSETS}/{fqdn(f'ct-{workshop.id}-h{i}')}/A" for i in range(3)]


def test_a_dns_outage_at_stop_keeps_the_host_until_its_record_is_gone(cloud: Cloud) -> None:
    platform = cloud.make()
    workshop = new_workshop(platform, seats=10, per_host=10)
    start(platform, workshop)
    host = f"ct-{workshop.id}-h0"
    cloud.dns.fail_next(503)

    with pytest.raises(TransientError):
        stop(platform, workshop)
    assert host in cloud.gce.instances, "a host must not be deleted before its record"

    redelivered = Event(WORKSHOP_STOP_REQUESTED, workshop.id)
    assert handle(platform, redelivered, uuid.uuid4().hex) is Outcome.HANDLED
    assert cloud.dns.a_records() == {} and cloud.gce.instances == {}


def test_stop_landing_while_hosts_are_being_created_leaves_no_record(cloud: Cloud) -> None:
    """The stop runs (in another delivery) after the first instance exists, before the rest."""
    stop_once = threading.Lock()
    holder: dict[str, Platform] = {}

    class StopMidway(Compute):
        def __init__(self, inner: Compute) -> None:
            self.inner = inner

        def create_host(self, spec: HostSpec) -> HostInfo:
            info = self.inner.create_host(spec)
            if stop_once.acquire(blocking=False):
                workshop = holder["platform"].store.get_workshop(spec.workshop_id)
                assert workshop is not None
                stop(holder["platform"], workshop)
            return info

        def delete_host(self, name: str) -> None:
            self.inner.delete_host(name)

        def get_host(self, name: str) -> HostInfo | None:
            return self.inner.get_host(name)

        def list_hosts(self, labels: dict[str, str] | None = None) -> list[HostInfo]:
            return self.inner.list_hosts(labels)

    platform = holder["platform"] = cloud.make(wrap=StopMidway)
    workshop = new_workshop(platform, seats=30, per_host=10)

    start(platform, workshop)

    current = platform.store.get_workshop(workshop.id)
    assert current is not None and current.status is S.STOPPED
    assert cloud.gce.instances == {}
    assert cloud.dns.a_records() == {}
    assert cloud.dns.calls("POST"), "records were published during the start"


# -------------------------------------------------------------- reconciler
def test_the_reconciler_removes_an_orphans_record_with_it(cloud: Cloud) -> None:
    platform = cloud.make()
    live = new_workshop(platform, seats=10, per_host=10)
    start(platform, live)
    orphan = HostSpec("gone0000ws", 0, "ct-gone0000ws-h0", 1, 10)  # its workshop never existed
    info = platform.compute.create_host(orphan)
    platform.dns.upsert_a_record(fqdn(orphan.name), info.address or "", 60)

    report = reconcile(platform)

    assert report.orphans_deleted == [orphan.name]
    assert cloud.dns.a_records() == expected_records(cloud, live)
    assert fqdn(orphan.name) not in cloud.dns.a_records()
    assert orphan.name not in cloud.gce.instances


def test_the_reconciler_retries_an_orphan_whose_record_could_not_be_deleted(cloud: Cloud) -> None:
    platform = cloud.make()
    orphan = HostSpec("gone0000ws", 0, "ct-gone0000ws-h0", 1, 10)
    info = platform.compute.create_host(orphan)
    platform.dns.upsert_a_record(fqdn(orphan.name), info.address or "", 60)
    cloud.dns.fail_next(503)

    first = reconcile(platform)
    assert first.orphans_deleted == [] and len(first.errors) == 1
    assert orphan.name in cloud.gce.instances  # kept, so the next pass finds it again

    second = reconcile(platform)
    assert second.orphans_deleted == [orphan.name]
    assert cloud.dns.a_records() == {} and cloud.gce.instances == {}


# -------------------------------------------------------------- trial mode
def test_trial_mode_makes_no_dns_calls_and_lets_the_host_pick_its_url(cloud: Cloud) -> None:
    platform = cloud.make(dns_zone="")
    workshop = new_workshop(platform, seats=20, per_host=10)

    start(platform, workshop)
    reconcile(platform)
    stop(platform, workshop)

    assert cloud.dns.requests == []
    for index in range(2):
        assert "CLARATEACH_AGENT_PUBLIC_URL" not in metadata(cloud, f"ct-{workshop.id}-h{index}")
    assert cloud.gce.inserts() and cloud.gce.instances == {}


def test_local_settings_never_name_hosts_under_a_domain(tmp_path: Path) -> None:
    local = Settings(state_dir=tmp_path, workshop_domain=DOMAIN, dns_zone=ZONE)
    assert local.host_domain == ""
    assert replace(local, mode="gcp").host_domain == DOMAIN


def test_the_reconciler_rewrites_a_record_a_start_never_wrote(cloud: Cloud) -> None:
    """E.g. the start event was dead-lettered after DNS kept failing: the hosts exist, unnamed."""
    platform = cloud.make()
    workshop = new_workshop(platform, seats=20, per_host=10)
    start(platform, workshop)
    lost = fqdn(f"ct-{workshop.id}-h1")
    platform.dns.delete_record(lost)
    later = utcnow() + timedelta(seconds=REDRIVE_AFTER_SECONDS + 1)

    report = reconcile(platform, now=later)

    assert report.errors == [] and report.hosts_recreated == []
    assert cloud.dns.a_records() == expected_records(cloud, workshop)
    assert lost in cloud.dns.a_records()


# ------------------------------------------------------------- slot labels
# With certificate_slots > 0 every host holds a slot label and is reached at <slot>.<domain>,
# its previews at p<P>-s<S>.<slot>.<domain>: one A record for the name and one wildcard A
# record (Cloud DNS supports wildcard rrsets whose leftmost label is '*',
# https://cloud.google.com/dns/docs/records-overview#wildcard_records), both covered by the
# deployment certificate's *.<domain> and *.<slot>.<domain> names.
def slotted_records(cloud: Cloud, slots: dict[str, SlotHolder]) -> dict[str, list[str]]:
    out = {}
    for label, holder in slots.items():
        ip = cloud.gce.external_ip(holder.host_name)
        assert ip, holder
        out[f"{label}.{DOMAIN}."] = [ip]
        out[f"*.{label}.{DOMAIN}."] = [ip]
    return out


def test_slotted_hosts_get_a_slot_name_and_its_wildcard_and_announce_the_slot(
    cloud: Cloud,
) -> None:
    platform = cloud.make(certificate_slots=5)
    workshop = new_workshop(platform, seats=30, per_host=10)

    assert start(platform, workshop) is Outcome.HANDLED

    slots = platform.store.list_slots()
    assert sorted(h.host_index for h in slots.values()) == [0, 1, 2]
    assert all(h.workshop_id == workshop.id and h.attempt == 1 for h in slots.values())
    records = slotted_records(cloud, slots)
    assert cloud.dns.a_records() == records  # and no <host name>.<domain> record
    for label, holder in slots.items():
        url = metadata(cloud, holder.host_name)["CLARATEACH_AGENT_PUBLIC_URL"]
        assert url == f"https://{label}.{DOMAIN}"

    # A redelivered start keeps every host on its slot: no new label, same records.
    event = Event(WORKSHOP_START_REQUESTED, workshop.id, {"attempt": workshop.attempt})
    assert handle(platform, event, "redelivered") is Outcome.HANDLED
    assert platform.store.list_slots() == slots
    assert cloud.dns.a_records() == records

    assert stop(platform, workshop) is Outcome.HANDLED
    assert cloud.dns.a_records() == {}
    assert platform.store.list_slots() == {}
    deleted = {unquote(c.path) for c in cloud.dns.calls("DELETE")}
    assert {f"{RRSETS}/{name}/A" for name in records} <= deleted


def test_slots_freed_by_one_workshop_serve_the_next(cloud: Cloud) -> None:
    platform = cloud.make(certificate_slots=2)
    first = new_workshop(platform, seats=20, per_host=10)
    assert start(platform, first) is Outcome.HANDLED
    held = set(platform.store.list_slots())
    assert held == {"s00", "s01"}
    assert stop(platform, first) is Outcome.HANDLED

    second = new_workshop(platform, seats=20, per_host=10)
    assert start(platform, second) is Outcome.HANDLED
    slots = platform.store.list_slots()
    assert set(slots) == held and {h.workshop_id for h in slots.values()} == {second.id}
    assert cloud.dns.a_records() == slotted_records(cloud, slots)


def test_an_exhausted_slot_pool_fails_the_workshop_naming_certificate_slots(cloud: Cloud) -> None:
    platform = cloud.make(certificate_slots=2)
    workshop = new_workshop(platform, seats=30, per_host=10)

    assert start(platform, workshop) is Outcome.FAILED

    failed = platform.store.get_workshop(workshop.id)
    assert failed is not None and failed.status is S.FAILED
    assert "certificate_slots" in (failed.error or "")
    [refused] = [h for h in failed.hosts if h.error and "certificate_slots" in h.error]
    assert refused.status.value == "failed"
    assert refused.name not in cloud.gce.instances  # never created without a slot
    # Everything the attempt took is given back: hosts, records, slots.
    assert cloud.dns.a_records() == {}
    assert platform.store.list_slots() == {}
    assert not cloud.gce.instances


def test_the_reconciler_frees_an_orphans_slot_and_records(cloud: Cloud) -> None:
    platform = cloud.make(certificate_slots=3)
    orphan = HostSpec("gone0000ws", 0, "ct-gone0000ws-h0", 1, 10)  # its workshop never existed
    info = platform.compute.create_host(orphan)
    assert platform.store.claim_slot(["s00"], SlotHolder(orphan.name, "gone0000ws", 0, 1))
    for name in ("s00", "*.s00"):
        platform.dns.upsert_a_record(f"{name}.{DOMAIN}", info.address or "", 60)

    report = reconcile(platform)

    assert report.orphans_deleted == [orphan.name]
    assert cloud.dns.a_records() == {}
    assert platform.store.list_slots() == {}


def test_the_reconciler_frees_a_slot_whose_host_was_never_created(cloud: Cloud) -> None:
    """A provisioner that died between claiming a label and creating the host, and a
    workshop that is no longer live: the label must not stay taken forever."""
    platform = cloud.make(certificate_slots=2)
    live = new_workshop(platform, seats=10, per_host=10)
    assert start(platform, live) is Outcome.HANDLED
    dead = new_workshop(platform, seats=10, per_host=10)
    platform.store.transition(dead.id, S.PROVISIONING, S.FAILED, error="test")
    stale = SlotHolder(f"ct-{dead.id}-h0", dead.id, 0, 1)
    label = platform.store.claim_slot(["s00", "s01"], stale)
    assert label is not None

    report = reconcile(platform)

    assert report.slots_released == [label]
    assert [h.workshop_id for h in platform.store.list_slots().values()] == [live.id]


def test_without_certificate_slots_hosts_keep_their_own_names_and_hold_no_slot(
    cloud: Cloud,
) -> None:
    platform = cloud.make(certificate_slots=0)
    workshop = new_workshop(platform, seats=10, per_host=10)
    assert start(platform, workshop) is Outcome.HANDLED
    assert platform.store.list_slots() == {}
    assert cloud.dns.a_records() == expected_records(cloud, workshop)
