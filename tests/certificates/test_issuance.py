"""The deployment certificate against a real ACME server (Pebble) and the Cloud DNS REST fake.

Pebble validates DNS-01 the way Let's Encrypt does (RFC 8555 §8.4: it looks up the TXT record
``_acme-challenge.<name>`` and compares it with the key authorization digest) against a DNS
server that serves exactly the records written through the Cloud DNS API fake
(tests/support/acme_server.py). So every issued certificate proves the adapter wrote the
right TXT values through the Cloud DNS REST API; the cleanup and failure tests prove what is
left behind.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from cryptography import x509

from shared.adapters.acme_ca import AcmeCertificateAuthority
from shared.adapters.cloud_dns import CloudDnsRecords
from shared.adapters.local_secrets import LocalSecrets
from shared.domain.certificates import CertificateBundle, certificate_names
from shared.domain.errors import PermanentError, TransientError
from shared.ports.certificates import CertificateAuthority, CertificateAuthorityError
from shared.services.certificates import (
    ACME_ACCOUNT_SECRET,
    CERTIFICATE_SECRET,
    DeploymentCertificates,
    load_certificate,
)
from tests.certificates.conftest import DOMAIN, ZONE, Clock
from tests.support.acme_server import Pebble, rate_limited_acme, running_pebble
from tests.support.fake_cloud_dns import FakeCloudDns

NAMES = certificate_names(DOMAIN, slots=3)
TXT_PATH = f"/dns/v1/projects/proj/managedZones/{ZONE}/rrsets"


def service(
    secrets: LocalSecrets,
    dns: CloudDnsRecords,
    authority: Callable[[str], CertificateAuthority],
    clock: Clock,
    waits: list[float] | None = None,
) -> DeploymentCertificates:
    return DeploymentCertificates(
        secrets=secrets,
        dns=dns,
        authority=authority,
        names=NAMES,
        clock=clock,
        sleep=(waits if waits is not None else []).append,
        propagation_seconds=42,
    )


def stored(secrets: LocalSecrets) -> CertificateBundle:
    bundle = load_certificate(secrets)
    assert bundle is not None
    return bundle


def test_issues_one_wildcard_certificate_for_the_domain_and_the_slot_names(
    secrets: LocalSecrets,
    dns: CloudDnsRecords,
    authority: Callable[[str], CertificateAuthority],
    clock: Clock,
    cloud_dns: FakeCloudDns,
    pebble: Pebble,
) -> None:
    waits: list[float] = []
    report = service(secrets, dns, authority, clock, waits).renew_if_due()

    assert report.action == "issued" and report.reason == "no deployment certificate yet"
    bundle = stored(secrets)
    assert set(bundle.names) == {
        "*.ws.example.com", "*.s00.ws.example.com", "*.s01.ws.example.com",
        "*.s02.ws.example.com",
    }  # fmt: skip
    assert report.not_after == bundle.not_after
    # Issued by Pebble's CA (its root differs at every start), chain leaf first.
    chain = x509.load_pem_x509_certificates(bundle.fullchain_pem.encode())
    assert len(chain) >= 2
    root = x509.load_pem_x509_certificate(pebble.roots_pem().encode())
    assert chain[-1].issuer == root.subject
    # One TXT record per base name, written through the Cloud DNS API, then waited for.
    creates = [r for r in cloud_dns.calls("POST") if r.path == TXT_PATH]
    assert sorted(r.body["name"] for r in creates) == [
        "_acme-challenge.s00.ws.example.com.", "_acme-challenge.s01.ws.example.com.",
        "_acme-challenge.s02.ws.example.com.", "_acme-challenge.ws.example.com.",
    ]  # fmt: skip
    assert all(r.body["type"] == "TXT" and r.body["ttl"] == 60 for r in creates)
    assert waits == [42]
    # Pebble really looked the values up (RFC 8555 §8.4) ...
    assert "TXT _acme-challenge.ws.example.com." in pebble.dns.queries
    # ... and they were removed again afterwards.
    assert cloud_dns.txt_records() == {}
    deletes = [r.path for r in cloud_dns.calls("DELETE")]
    assert f"{TXT_PATH}/_acme-challenge.ws.example.com./TXT" in deletes
    # The account key is kept for the next run; the certificate key is not the account key.
    account = secrets.access(secrets.ref_for(ACME_ACCOUNT_SECRET))
    assert account and account != bundle.private_key_pem


def test_renewal_waits_until_thirty_days_before_expiry_with_one_account(
    secrets: LocalSecrets,
    dns: CloudDnsRecords,
    authority: Callable[[str], CertificateAuthority],
    clock: Clock,
    cloud_dns: FakeCloudDns,
) -> None:
    certs = service(secrets, dns, authority, clock)
    first = certs.renew_if_due()
    account = secrets.access(secrets.ref_for(ACME_ACCOUNT_SECRET))
    assert first.not_after is not None
    assert first.not_after - clock.now > timedelta(days=89)  # 90 days, as Let's Encrypt
    first_key = stored(secrets).private_key_pem
    orders = len(cloud_dns.calls("POST"))

    clock.now = first.not_after - timedelta(days=30, minutes=1)
    kept = certs.renew_if_due()
    assert (kept.action, kept.not_after) == ("kept", first.not_after)
    assert len(cloud_dns.calls("POST")) == orders  # no order, no DNS write

    clock.now = first.not_after - timedelta(days=29)
    renewed = certs.renew_if_due()
    assert renewed.action == "issued" and renewed.reason == "the certificate expires in 29 days"
    assert stored(secrets).private_key_pem != first_key  # a fresh key with every certificate
    # Same ACME account (the key stored on the first run).
    assert secrets.access(secrets.ref_for(ACME_ACCOUNT_SECRET)) == account


def test_a_change_of_names_is_renewed_at_once(
    secrets: LocalSecrets,
    dns: CloudDnsRecords,
    authority: Callable[[str], CertificateAuthority],
    clock: Clock,
) -> None:
    service(secrets, dns, authority, clock).renew_if_due()
    more = DeploymentCertificates(
        secrets=secrets,
        dns=dns,
        authority=authority,
        names=certificate_names(DOMAIN, slots=5),
        clock=clock,
        sleep=lambda _: None,
    )
    report = more.renew_if_due()
    assert report.action == "issued"
    assert "does not cover exactly" in report.reason
    assert "*.s04.ws.example.com" in stored(secrets).names


def test_dns_permission_denied_is_a_clear_error_and_keeps_the_old_certificate(
    secrets: LocalSecrets,
    dns: CloudDnsRecords,
    authority: Callable[[str], CertificateAuthority],
    clock: Clock,
    cloud_dns: FakeCloudDns,
) -> None:
    """Cloud DNS answers 403 when the caller lacks ``dns.changes.create`` on the zone
    (https://cloud.google.com/dns/docs/access-control)."""
    certs = service(secrets, dns, authority, clock)
    first = certs.renew_if_due()
    assert first.not_after is not None
    before = secrets.access(secrets.ref_for(CERTIFICATE_SECRET))

    clock.now = first.not_after - timedelta(days=10)
    cloud_dns.fail_next(403)
    with pytest.raises(PermanentError) as failed:
        certs.renew_if_due()

    message = str(failed.value)
    assert "deployment certificate renewal failed" in message
    assert f"permission denied on Cloud DNS zone '{ZONE}'" in message
    assert f"valid until {first.not_after:%Y-%m-%d}) stays in use" in message
    assert secrets.access(secrets.ref_for(CERTIFICATE_SECRET)) == before
    assert cloud_dns.txt_records() == {}  # the records that were written are gone again


def test_a_failed_validation_removes_its_txt_records_and_stores_nothing(
    secrets: LocalSecrets,
    dns: CloudDnsRecords,
    clock: Clock,
    cloud_dns: FakeCloudDns,
    pebble: Pebble,
) -> None:
    """A TXT value the CA does not find fails the authorization (RFC 8555 §7.1.6: the
    challenge and authorization become ``invalid``, the order cannot be finalized)."""

    class WrongValues(AcmeCertificateAuthority):
        def begin(self, names, private_key_pem):  # type: ignore[no-untyped-def]
            order = super().begin(names, private_key_pem)
            order.txt_records = {n: ["not-the-digest"] for n in order.txt_records}
            return order

    def authority(account_key_pem: str) -> CertificateAuthority:
        return WrongValues(
            pebble.directory_url, account_key_pem, verify=pebble.ca_bundle, validation_timeout=60
        )

    with pytest.raises(PermanentError) as failed:
        service(secrets, dns, authority, clock).renew_if_due()

    assert "DNS-01 validation failed" in str(failed.value)
    assert "no deployment certificate" not in str(failed.value)
    assert "hosts keep getting per-host certificates" in str(failed.value)
    assert load_certificate(secrets) is None
    assert cloud_dns.txt_records() == {}
    assert len([r for r in cloud_dns.calls("DELETE")]) == 4


def test_a_txt_record_that_cannot_be_deleted_is_replaced_by_the_next_run(
    secrets: LocalSecrets,
    dns: CloudDnsRecords,
    authority: Callable[[str], CertificateAuthority],
    clock: Clock,
    cloud_dns: FakeCloudDns,
) -> None:
    class StickyDns(CloudDnsRecords):
        def delete_txt_record(self, name: str) -> None:
            raise TransientError("Cloud DNS answered 503")

    sticky = StickyDns.for_endpoint(dns.project, dns.zone, cloud_dns.url, dns._http().credentials)  # type: ignore[attr-defined]
    first = service(secrets, sticky, authority, clock).renew_if_due()
    assert first.action == "issued"  # a leftover challenge record does not fail a renewal
    assert len(cloud_dns.txt_records()) == 4
    assert first.not_after is not None

    clock.now = first.not_after - timedelta(days=1)
    assert service(secrets, dns, authority, clock).renew_if_due().action == "issued"
    assert cloud_dns.txt_records() == {}
    assert [r for r in cloud_dns.calls("PATCH") if r.body["type"] == "TXT"]  # 409 -> replaced


def test_a_ca_that_rejects_every_nonce_is_a_transient_failure(
    require_pebble: None,
    secrets: LocalSecrets,
    dns: CloudDnsRecords,
    clock: Clock,
    cloud_dns: FakeCloudDns,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """RFC 8555 §6.5: a ``badNonce`` error is retried with the fresh nonce the error carries
    (the ``acme`` library retries once). A CA that keeps rejecting is a transient failure:
    the next scheduled run tries again."""
    with running_pebble(cloud_dns, tmp_path_factory.mktemp("p"), nonce_reject_percent=100) as p:

        def authority(account_key_pem: str) -> CertificateAuthority:
            return AcmeCertificateAuthority(p.directory_url, account_key_pem, verify=p.ca_bundle)

        with pytest.raises(TransientError) as failed:
            service(secrets, dns, authority, clock).renew_if_due()
    assert "badNonce" in str(failed.value) or "nonce" in str(failed.value).lower()
    assert load_certificate(secrets) is None


def test_a_rate_limited_ca_is_a_clear_error_and_keeps_the_old_certificate(
    secrets: LocalSecrets,
    dns: CloudDnsRecords,
    authority: Callable[[str], CertificateAuthority],
    clock: Clock,
    cloud_dns: FakeCloudDns,
) -> None:
    """Let's Encrypt answers an order over its limits (50 certificates per registered domain
    per week, 300 new orders per account per 3 hours) with 429 and a ``rateLimited`` problem
    (https://letsencrypt.org/docs/rate-limits/)."""
    use = {"ca": authority}
    certs = service(secrets, dns, lambda key: use["ca"](key), clock)
    first = certs.renew_if_due()
    assert first.not_after is not None
    before = secrets.access(secrets.ref_for(CERTIFICATE_SECRET))
    writes = len(cloud_dns.requests)

    with rate_limited_acme() as directory:
        use["ca"] = lambda key: AcmeCertificateAuthority(directory, key)
        clock.now = first.not_after - timedelta(days=20)
        with pytest.raises(CertificateAuthorityError) as failed:
            certs.renew_if_due()

    assert failed.value.rate_limited
    message = str(failed.value)
    assert "rate limit was reached" in message and "168h0m0s" in message
    assert "stays in use" in message
    assert secrets.access(secrets.ref_for(CERTIFICATE_SECRET)) == before
    assert len(cloud_dns.requests) == writes  # refused at the order: no TXT record written
