"""Fixtures: Pebble (a real ACME server) validating DNS-01 against the Cloud DNS REST fake,
the real ``CloudDnsRecords`` and ``AcmeCertificateAuthority`` adapters, local secrets."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from google.auth.credentials import AnonymousCredentials

from shared.adapters.acme_ca import AcmeCertificateAuthority
from shared.adapters.cloud_dns import CloudDnsRecords
from shared.adapters.local_secrets import LocalSecrets
from shared.ports.certificates import CertificateAuthority
from tests.support.acme_server import Pebble, pebble_available, running_pebble
from tests.support.fake_cloud_dns import FakeCloudDns, running_fake_cloud_dns

ZONE = "clarateach-hosts"
DOMAIN = "ws.example.com"


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC))


@pytest.fixture
def cloud_dns() -> Iterator[FakeCloudDns]:
    with running_fake_cloud_dns({ZONE: f"{DOMAIN}."}) as fake:
        yield fake


@pytest.fixture
def dns(cloud_dns: FakeCloudDns) -> CloudDnsRecords:
    return CloudDnsRecords.for_endpoint("proj", ZONE, cloud_dns.url, AnonymousCredentials())


@pytest.fixture
def secrets(tmp_path: Path) -> LocalSecrets:
    return LocalSecrets(tmp_path / "secrets")


@pytest.fixture
def require_pebble() -> None:
    if not pebble_available():
        if os.environ.get("CI"):
            pytest.fail("Pebble is required in CI (apt-get install pebble)")
        pytest.skip("needs Let's Encrypt's Pebble (apt-get install pebble)")


@pytest.fixture
def pebble(require_pebble: None, cloud_dns: FakeCloudDns, tmp_path: Path) -> Iterator[Pebble]:
    with running_pebble(cloud_dns, tmp_path) as server:
        yield server


@pytest.fixture
def authority(pebble: Pebble) -> Callable[[str], CertificateAuthority]:
    def make(account_key_pem: str) -> CertificateAuthority:
        return AcmeCertificateAuthority(
            pebble.directory_url,
            account_key_pem,
            email="ops@example.com",
            verify=pebble.ca_bundle,
            validation_timeout=60,
        )

    return make
