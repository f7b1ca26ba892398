"""The ``certificates`` Cloud Function (Cloud Scheduler, HTTP) loaded by functions-framework:
200 with what it did, 503 with the reason when a renewal fails, nothing in trial mode."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import functions_framework
import pytest

from functions import events
from shared.adapters.cloud_dns import CloudDnsRecords
from shared.adapters.local_secrets import LocalSecrets
from shared.domain.certificates import certificate_names
from shared.ports.certificates import CertificateAuthority, CertificateAuthorityError, PendingOrder
from shared.services.certificates import DeploymentCertificates, load_certificate
from tests.certificates.conftest import DOMAIN, Clock

SOURCE = str(Path(events.__file__).resolve().parent / "main.py")


def call_function() -> Any:
    app = functions_framework.create_app(
        target="certificates", source=SOURCE, signature_type="http"
    )
    return app.test_client().post("/")


def wire(monkeypatch: pytest.MonkeyPatch, service: DeploymentCertificates | None) -> None:
    monkeypatch.setattr(events, "build_secrets", lambda settings: None)
    monkeypatch.setattr(events, "build_certificates", lambda settings, secrets: service)


def test_trial_mode_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLARATEACH_WORKSHOP_DOMAIN", raising=False)
    response = call_function()
    assert response.status_code == 200
    assert response.get_json()["report"]["action"] == "none"


def test_a_due_certificate_is_issued_through_the_function(
    monkeypatch: pytest.MonkeyPatch,
    secrets: LocalSecrets,
    dns: CloudDnsRecords,
    authority: Callable[[str], CertificateAuthority],
    clock: Clock,
) -> None:
    names = certificate_names(DOMAIN, 1)
    wire(
        monkeypatch,
        DeploymentCertificates(
            secrets=secrets,
            dns=dns,
            authority=authority,
            names=names,
            clock=clock,
            sleep=lambda _: None,
        ),
    )
    response = call_function()
    assert response.status_code == 200, response.get_json()
    report = response.get_json()["report"]
    assert report["action"] == "issued" and report["names"] == list(names)
    assert load_certificate(secrets) is not None
    # The next run keeps it.
    assert call_function().get_json()["report"]["action"] == "kept"


class RateLimitedCa(CertificateAuthority):
    def begin(self, names: Any, private_key_pem: str) -> PendingOrder:
        raise CertificateAuthorityError("placing the order: rate limit reached", rate_limited=True)

    def complete(self, order: PendingOrder) -> str:
        raise AssertionError("never reached")


def test_a_failed_renewal_is_503_with_its_reason(
    monkeypatch: pytest.MonkeyPatch, secrets: LocalSecrets, dns: CloudDnsRecords, clock: Clock
) -> None:
    wire(
        monkeypatch,
        DeploymentCertificates(
            secrets=secrets,
            dns=dns,
            authority=lambda key: RateLimitedCa(),
            names=certificate_names(DOMAIN),
            clock=clock,
            sleep=lambda _: None,
        ),
    )
    response = call_function()
    assert response.status_code == 503
    error = response.get_json()["error"]
    assert error["code"] == "certificate_renewal_failed"
    assert "rate limit reached" in error["message"]
    assert "PRIVATE KEY" not in response.get_data(as_text=True)
