"""CloudDnsRecords against the local Cloud DNS fake: exact requests, idempotency, error mapping."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from google.auth.credentials import AnonymousCredentials

from shared.adapters.cloud_dns import CloudDnsRecords
from shared.adapters.no_dns import NoDns
from shared.bootstrap import build_dns
from shared.domain.errors import PermanentError, TransientError
from shared.settings import Settings
from tests.support.fake_cloud_dns import FakeCloudDns, running_fake_cloud_dns
from tests.support.net import free_port

ZONE = "clarateach-hosts"
RRSETS = f"/dns/v1/projects/proj/managedZones/{ZONE}/rrsets"


@pytest.fixture
def fake() -> Iterator[FakeCloudDns]:
    with running_fake_cloud_dns({ZONE: "ws.example.com."}) as server:
        yield server


def records(fake: FakeCloudDns, zone: str = ZONE) -> CloudDnsRecords:
    return CloudDnsRecords.for_endpoint("proj", zone, fake.url, AnonymousCredentials())


def test_upsert_of_a_new_name_creates_exactly_one_a_record(fake: FakeCloudDns) -> None:
    records(fake).upsert_a_record("ct-ws01-h0.ws.example.com", "203.0.113.7", 60)

    [create] = fake.requests
    assert (create.method, create.path) == ("POST", RRSETS)
    assert create.body == {
        "name": "ct-ws01-h0.ws.example.com.",
        "type": "A",
        "ttl": 60,
        "rrdatas": ["203.0.113.7"],
    }
    assert fake.a_records() == {"ct-ws01-h0.ws.example.com.": ["203.0.113.7"]}


def test_upsert_of_an_existing_name_patches_it_to_the_new_address(fake: FakeCloudDns) -> None:
    dns = records(fake)
    dns.upsert_a_record("ct-ws01-h0.ws.example.com.", "203.0.113.7", 60)
    dns.upsert_a_record("CT-ws01-h0.ws.example.com", "203.0.113.9", 60)

    create, conflict, patch = fake.requests
    assert conflict.method == "POST" and create.body == {
        **conflict.body,
        "rrdatas": ["203.0.113.7"],
    }
    assert (patch.method, patch.path) == ("PATCH", f"{RRSETS}/ct-ws01-h0.ws.example.com./A")
    assert patch.body == {
        "name": "ct-ws01-h0.ws.example.com.",
        "type": "A",
        "ttl": 60,
        "rrdatas": ["203.0.113.9"],
    }
    assert fake.a_records() == {"ct-ws01-h0.ws.example.com.": ["203.0.113.9"]}


def test_delete_removes_the_record_and_a_missing_record_is_success(fake: FakeCloudDns) -> None:
    dns = records(fake)
    dns.upsert_a_record("ct-ws01-h0.ws.example.com", "203.0.113.7", 60)

    dns.delete_record("ct-ws01-h0.ws.example.com")
    dns.delete_record("ct-ws01-h0.ws.example.com")

    deletes = fake.calls("DELETE")
    assert [d.path for d in deletes] == [f"{RRSETS}/ct-ws01-h0.ws.example.com./A"] * 2
    assert fake.a_records() == {}


@pytest.mark.parametrize("status", [429, 500, 503])
def test_overload_and_server_errors_are_transient(fake: FakeCloudDns, status: int) -> None:
    fake.fail_next(status)
    with pytest.raises(TransientError, match=str(status)):
        records(fake).upsert_a_record("ct-ws01-h0.ws.example.com", "203.0.113.7", 60)
    fake.fail_next(status)
    with pytest.raises(TransientError):
        records(fake).delete_record("ct-ws01-h0.ws.example.com")


def test_an_unreachable_api_is_transient() -> None:
    dns = CloudDnsRecords.for_endpoint(
        "proj", ZONE, f"http://127.0.0.1:{free_port()}", AnonymousCredentials(), timeout=5
    )
    with pytest.raises(TransientError, match="ConnectionError"):
        dns.delete_record("ct-ws01-h0.ws.example.com")


def test_permission_denied_is_permanent_and_names_the_zone(fake: FakeCloudDns) -> None:
    fake.fail_next(403)
    with pytest.raises(PermanentError, match=f"permission denied on Cloud DNS zone '{ZONE}'"):
        records(fake).upsert_a_record("ct-ws01-h0.ws.example.com", "203.0.113.7", 60)


def test_an_unknown_zone_is_permanent_and_points_at_the_setting(fake: FakeCloudDns) -> None:
    with pytest.raises(PermanentError, match=r"zone 'no-such-zone' not found.*dns_zone"):
        records(fake, "no-such-zone").upsert_a_record("h.ws.example.com", "203.0.113.7", 60)


def test_a_name_outside_the_zone_is_refused_permanently(fake: FakeCloudDns) -> None:
    with pytest.raises(PermanentError, match="refused the request \\(400\\)"):
        records(fake).upsert_a_record("ct-ws01-h0.other.example.org", "203.0.113.7", 60)


@pytest.mark.parametrize(
    ("name", "ip"),
    [
        ("ct-ws01-h0.ws.example.com", "10.0.0.300"),
        ("ct-ws01-h0.ws.example.com", "2001:db8::1"),
        ("bad name.ws.example.com", "203.0.113.7"),
        ("nodots", "203.0.113.7"),
        ("s00.*.ws.example.com", "203.0.113.7"),  # '*' only as the whole leftmost label
        ("*x.s00.ws.example.com", "203.0.113.7"),
        ("*.com", "203.0.113.7"),
    ],
)
def test_malformed_names_and_addresses_never_reach_the_api(
    fake: FakeCloudDns, name: str, ip: str
) -> None:
    with pytest.raises(PermanentError):
        records(fake).upsert_a_record(name, ip, 60)
    assert fake.requests == []


def test_a_wildcard_record_is_one_more_a_rrset_and_deletes_alone(fake: FakeCloudDns) -> None:
    """A slotted host's preview origins: ``*.<slot>.<domain>`` is an A rrset of its own (Cloud
    DNS supports wildcard record sets whose leftmost label is ``*``,
    https://cloud.google.com/dns/docs/records-overview#wildcard_records)."""
    dns = records(fake)
    dns.upsert_a_record("s03.ws.example.com", "203.0.113.7", 60)
    dns.upsert_a_record("*.s03.ws.example.com", "203.0.113.7", 60)
    assert fake.a_records() == {
        "s03.ws.example.com.": ["203.0.113.7"],
        "*.s03.ws.example.com.": ["203.0.113.7"],
    }

    dns.delete_record("*.s03.ws.example.com")

    assert fake.requests[-1].method == "DELETE"
    assert fake.requests[-1].path == f"{RRSETS}/%2A.s03.ws.example.com./A"
    assert fake.a_records() == {"s03.ws.example.com.": ["203.0.113.7"]}


def test_build_dns_uses_cloud_dns_only_for_gcp_with_a_domain_and_a_zone() -> None:
    gcp = Settings(mode="gcp", gcp_project="proj", workshop_domain="WS.example.com.")
    assert isinstance(build_dns(gcp), NoDns)  # trial mode: no zone
    assert isinstance(
        build_dns(Settings(mode="local", workshop_domain="x.org", dns_zone="z")), NoDns
    )
    managed = build_dns(replace(gcp, dns_zone=ZONE))
    assert isinstance(managed, CloudDnsRecords)
    assert (managed.project, managed.zone) == ("proj", ZONE)


def test_settings_read_the_zone_and_derive_the_host_domain() -> None:
    settings = Settings.from_env(
        {
            "CLARATEACH_MODE": "gcp",
            "CLARATEACH_WORKSHOP_DOMAIN": "WS.Example.com.",
            "CLARATEACH_DNS_ZONE": ZONE,
        }
    )
    assert settings.dns_zone == ZONE and settings.host_domain == "ws.example.com"
    assert Settings(mode="gcp", workshop_domain="ws.example.com").host_domain == ""
    assert "CLARATEACH_DNS_ZONE" in Settings.env_vars()


# ---------------------------------------------------------------- ACME DNS-01 TXT records
CHALLENGE = "_acme-challenge.ws.example.com"


def test_a_txt_record_is_created_with_quoted_values(fake: FakeCloudDns) -> None:
    """Cloud DNS TXT rrdatas are quoted character-strings
    (https://cloud.google.com/dns/docs/records-overview#txt-records)."""
    records(fake).set_txt_record(CHALLENGE, ["abc_DEF-123", "second-value"], 60)

    [create] = fake.requests
    assert (create.method, create.path) == ("POST", RRSETS)
    assert create.body == {
        "name": CHALLENGE + ".",
        "type": "TXT",
        "ttl": 60,
        "rrdatas": ['"abc_DEF-123"', '"second-value"'],
    }
    assert fake.txt_records() == {CHALLENGE + ".": ["abc_DEF-123", "second-value"]}


def test_an_existing_txt_record_is_replaced(fake: FakeCloudDns) -> None:
    dns = records(fake)
    dns.set_txt_record(CHALLENGE, ["old"], 60)
    dns.set_txt_record(CHALLENGE, ["new"], 60)
    patch = fake.calls("PATCH")[-1]
    assert patch.path == f"{RRSETS}/{CHALLENGE}./TXT"
    assert fake.txt_records() == {CHALLENGE + ".": ["new"]}
    assert fake.a_records() == {}


def test_txt_delete_is_idempotent_and_leaves_a_records(fake: FakeCloudDns) -> None:
    dns = records(fake)
    dns.upsert_a_record("ws.example.com", "203.0.113.7", 60)
    dns.set_txt_record(CHALLENGE, ["v"], 60)
    dns.delete_txt_record(CHALLENGE)
    dns.delete_txt_record(CHALLENGE)
    assert fake.txt_records() == {}
    assert fake.a_records() == {"ws.example.com.": ["203.0.113.7"]}


@pytest.mark.parametrize("values", [[], ['with"quote'], ["spa ce"], ["x" * 256]])
def test_txt_values_that_are_no_acme_digest_are_refused_before_any_call(
    fake: FakeCloudDns, values: list[str]
) -> None:
    with pytest.raises(PermanentError):
        records(fake).set_txt_record(CHALLENGE, values, 60)
    assert fake.requests == []


def test_txt_permission_denied_names_the_zone(fake: FakeCloudDns) -> None:
    fake.fail_next(403)
    with pytest.raises(PermanentError, match=f"permission denied on Cloud DNS zone '{ZONE}'"):
        records(fake).set_txt_record(CHALLENGE, ["v"], 60)
