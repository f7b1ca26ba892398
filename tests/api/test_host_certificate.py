"""``POST /api/hosts/credentials`` with ``{"credential": "tls_certificate"}``: a verified host
VM of a live workshop gets the deployment certificate chain and key; learners, instructors
and forged or foreign identities get 401/403/404, and no answer but the host's carries the key.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.http import handle
from functions.wire import ApiRequest, ApiResponse
from shared.bootstrap import Platform
from shared.domain.certificates import bundle_from_pems
from shared.domain.model import WorkshopStatus
from shared.services.host_credentials import HostCredentialLimiter, install_limiter
from shared.services.ratelimit import Budget
from tests.api.conftest import Api, set_status
from tests.api.test_host_credentials import AUDIENCE, PATH, gcp, instance, tokens
from tests.support.certs import self_signed
from tests.support.fakes import FakeClock
from tests.support.host_identity import IdentityTokens, identity_claims

__all__ = ["gcp", "tokens"]  # fixtures shared with test_host_credentials

NAMES = ("*.ws.example.com", "*.s00.ws.example.com")
BODY = json.dumps({"credential": "tls_certificate"}).encode()


@pytest.fixture
def certificate(platform: Platform) -> tuple[str, str]:
    cert, key = self_signed(NAMES)
    platform.secrets.put(
        platform.settings.certificate_secret, bundle_from_pems(cert, key).to_json()
    )
    return cert, key


def call(
    platform: Platform,
    tokens: IdentityTokens,
    authorization: str | None,
    body: bytes = BODY,
    ip: str = "203.0.113.50",
) -> ApiResponse:
    headers = {"Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    request = ApiRequest("POST", PATH, headers, {}, body, ip)
    return handle(platform, request, verify_id_token=tokens.verify)


def as_host(
    platform: Platform, tokens: IdentityTokens, running: dict[str, Any], index: int = 0
) -> ApiResponse:
    token = tokens.mint(identity_claims(instance(running, index), AUDIENCE))
    return call(platform, tokens, f"Bearer {token}")


def test_a_host_of_a_live_workshop_gets_the_certificate_and_key(
    gcp: Platform,
    tokens: IdentityTokens,
    running: dict[str, Any],
    certificate: tuple[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    response = as_host(gcp, tokens, running, 1)

    assert response.status == 200, response.json()
    answer = response.json()
    assert answer["certificate_pem"] == certificate[0]
    assert answer["private_key_pem"] == certificate[1]
    assert sorted(answer["names"]) == sorted(NAMES)
    assert "api_key" not in answer
    assert response.headers["Cache-Control"] == "no-store"
    assert "BEGIN PRIVATE KEY" not in caplog.text
    assert "host certificate issued" in caplog.text


def test_an_empty_body_still_means_the_api_key(
    gcp: Platform, tokens: IdentityTokens, running: dict[str, Any], certificate: tuple[str, str]
) -> None:
    token = tokens.mint(identity_claims(instance(running, 0), AUDIENCE))
    response = call(gcp, tokens, f"Bearer {token}", body=b"")
    assert response.status == 200 and set(response.json()) == {"api_key"}


def test_an_unknown_credential_is_400(
    gcp: Platform, tokens: IdentityTokens, running: dict[str, Any]
) -> None:
    token = tokens.mint(identity_claims(instance(running, 0), AUDIENCE))
    response = call(gcp, tokens, f"Bearer {token}", body=b'{"credential": "acme_account"}')
    assert response.status == 400
    assert "credential" in response.json()["error"]["message"]
    assert set(response.json()["error"]) >= {"code", "message"}


def test_learners_and_instructors_never_get_the_certificate(
    gcp: Platform,
    api: Api,
    admin_token: str,
    tokens: IdentityTokens,
    running: dict[str, Any],
    certificate: tuple[str, str],
) -> None:
    set_status(gcp, running["id"], WorkshopStatus.RUNNING)
    joined = api.join(running["code"])
    assert joined.status == 200, joined.json()
    learner = joined.json()["token"]
    for authorization in (f"Bearer {learner}", f"Bearer {admin_token}", None):
        response = call(gcp, tokens, authorization)
        assert response.status == 401, authorization
        assert "PRIVATE KEY" not in response.body.decode()
        assert "CERTIFICATE" not in response.body.decode()


def test_another_projects_vm_or_a_stopped_workshops_host_is_refused(
    gcp: Platform, tokens: IdentityTokens, running: dict[str, Any], certificate: tuple[str, str]
) -> None:
    foreign = identity_claims(instance(running, 0), AUDIENCE, project_id="someone-elses")
    assert call(gcp, tokens, f"Bearer {tokens.mint(foreign)}").status in (401, 403)
    out_of_plan = tokens.mint(identity_claims(instance(running, 7), AUDIENCE))
    assert call(gcp, tokens, f"Bearer {out_of_plan}").status == 404
    set_status(gcp, running["id"], WorkshopStatus.STOPPED)
    response = as_host(gcp, tokens, running)
    assert response.status == 404 and "PRIVATE KEY" not in response.body.decode()


def test_no_certificate_or_an_expired_one_is_404_and_spends_no_budget(
    gcp: Platform, tokens: IdentityTokens, running: dict[str, Any]
) -> None:
    """A host then falls back to its own certificate; many hosts asking before the first
    issuance must not exhaust the refusal budget that guards the endpoint."""
    install_limiter(
        gcp.store,
        HostCredentialLimiter(Budget(2, 1), Budget(2, 1), FakeClock()),
    )
    for _ in range(4):
        response = as_host(gcp, tokens, running)
        assert response.status == 404
        assert "deployment certificate" in response.json()["error"]["message"]

    cert, key = self_signed(NAMES, datetime.now(UTC) - timedelta(days=91))
    gcp.secrets.put(gcp.settings.certificate_secret, bundle_from_pems(cert, key).to_json())
    assert as_host(gcp, tokens, running).status == 404
