"""``POST /api/hosts/credentials``: a host VM trades its instance identity token for its own
workshop's API key, and every other caller gets 401/403/404/429 with nothing leaked.

Leak checks: the key and the presented token never appear in a refusal's body or headers, and
neither ever appears in the captured log records (message, arguments or extra fields).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest

from functions.entrypoints import SPLIT, entry_point_of, operations
from functions.http import ROUTES, handle
from functions.wire import ApiRequest, ApiResponse
from shared.bootstrap import Platform
from shared.domain.model import WorkshopStatus
from shared.services.errors import Unavailable
from shared.services.host_credentials import HostCredentialLimiter, install_limiter
from shared.services.ratelimit import Budget
from tests.api.conftest import API_KEY, Api, set_status
from tests.support.fakes import FakeClock
from tests.support.host_identity import (
    HOST_ACCOUNT,
    PROJECT,
    ZONE,
    IdentityTokens,
    identity_claims,
)

AUDIENCE = "https://ct-join-123.europe-west1.run.app"
PATH = "/api/hosts/credentials"


@pytest.fixture
def tokens() -> IdentityTokens:
    return IdentityTokens()


@pytest.fixture
def gcp(platform: Platform, running: dict[str, Any]) -> Platform:
    """The API in GCP mode with one running workshop of two hosts (``running``)."""
    platform.settings = replace(
        platform.settings,
        mode="gcp",
        gcp_project=PROJECT,
        gce_zone=ZONE,
        host_service_account=HOST_ACCOUNT,
        host_credentials_url=AUDIENCE + "/",
    )
    return platform


class Host:
    """Calls the route as a VM would, through the router with the fake Google verifier."""

    def __init__(self, platform: Platform, tokens: IdentityTokens) -> None:
        self.platform, self.tokens = platform, tokens

    def call(self, authorization: str | None, ip: str = "203.0.113.50") -> ApiResponse:
        headers = {} if authorization is None else {"Authorization": authorization}
        request = ApiRequest("POST", PATH, headers, {}, b"", ip)
        return handle(self.platform, request, verify_id_token=self.tokens.verify)

    def with_claims(self, claims: dict[str, Any], ip: str = "203.0.113.50") -> ApiResponse:
        return self.call(f"Bearer {self.tokens.mint(claims)}", ip)


@pytest.fixture
def host(gcp: Platform, tokens: IdentityTokens) -> Host:
    return Host(gcp, tokens)


def instance(workshop: dict[str, Any], index: int) -> str:
    return f"ct-{workshop['id']}-h{index}"


def assert_nothing_leaked(
    response: ApiResponse, caplog: pytest.LogCaptureFixture, tokens: IdentityTokens
) -> None:
    exposed = [response.body.decode(), repr(response.headers)]
    exposed += [repr(vars(record)) for record in caplog.records]
    exposed += [record.getMessage() for record in caplog.records]
    for text in exposed:
        assert API_KEY not in text
        for token in tokens.claims:
            assert token not in text


def test_the_route_is_public_and_served_by_the_hosts_function() -> None:
    (route,) = [r for r in ROUTES if r.template == PATH]
    assert (route.method, entry_point_of(route.name), route.instructor) == ("POST", "hosts", False)


@pytest.mark.parametrize("index", [0, 1])
def test_a_host_of_a_running_workshop_gets_its_key(
    host: Host,
    running: dict[str, Any],
    tokens: IdentityTokens,
    index: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    response = host.with_claims(identity_claims(instance(running, index), AUDIENCE))

    assert response.status == 200, response.json()
    assert response.json() == {"api_key": API_KEY}
    assert response.headers["Cache-Control"] == "no-store"
    token = next(iter(tokens.claims))
    assert tokens.verified == [token]
    logged = "\n".join(repr(vars(r)) for r in caplog.records)
    assert API_KEY not in logged and token not in logged
    assert "host credentials issued" in caplog.text


def test_a_host_of_a_provisioning_workshop_gets_its_key(
    host: Host, gcp: Platform, running: dict[str, Any]
) -> None:
    """Hosts fetch the key while booting, before they report ready."""
    set_status(gcp, running["id"], WorkshopStatus.PROVISIONING)
    response = host.with_claims(identity_claims(instance(running, 0), AUDIENCE))
    assert response.status == 200 and response.json() == {"api_key": API_KEY}


def _claims(running: dict[str, Any], vm: str | None = None, **changes: Any) -> dict[str, Any]:
    return identity_claims(vm or instance(running, 0), AUDIENCE, **changes)


#: name -> (claims for the running workshop, expected status)
FORGED_CLAIMS: dict[str, tuple[Any, int]] = {
    "lax verifier, other audience": (lambda w: _claims(w, aud="https://other.example"), 401),
    "not issued by Google": (lambda w: _claims(w, iss="https://evil.example"), 401),
    "another service account": (
        lambda w: _claims(w, email="default-compute@proj-test.iam.gserviceaccount.com"),
        403,
    ),
    "another project": (lambda w: _claims(w, project_id="someone-else"), 403),
    "another zone": (lambda w: _claims(w, zone="us-central1-a"), 403),
    "standard format (no instance details)": (
        lambda w: {k: v for k, v in _claims(w).items() if k != "google"},
        403,
    ),
    "instance details not an object": (lambda w: _claims(w, google="ct-x-h0"), 403),
    "instance is not a host": (lambda w: _claims(w, vm="build-runner-7"), 403),
    "host name with a suffix": (
        lambda w: _claims(w, vm=instance(w, 0) + "-evil"),
        403,
    ),
    "host name with a leading zero index": (
        lambda w: _claims(w, vm=f"ct-{w['id']}-h01"),
        403,
    ),
    "unknown workshop": (lambda w: _claims(w, vm="ct-wzzzzzzzzzz-h0"), 404),
    "index outside the plan": (lambda w: _claims(w, vm=instance(w, 2)), 404),
}


@pytest.mark.parametrize("case", list(FORGED_CLAIMS))
def test_verified_tokens_for_anything_but_a_planned_host_are_refused(
    host: Host,
    running: dict[str, Any],
    tokens: IdentityTokens,
    caplog: pytest.LogCaptureFixture,
    case: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    make_claims, status = FORGED_CLAIMS[case]

    response = host.with_claims(make_claims(running))

    assert response.status == status, response.json()
    assert response.json()["error"]["code"] in {"unauthorized", "forbidden", "not_found"}
    assert_nothing_leaked(response, caplog, tokens)


BAD_AUTHORIZATION = {
    "missing": None,
    "empty": "",
    "wrong scheme": "Basic aG9zdDpob3N0",
    "bearer without token": "Bearer ",
    "bad signature": "Bearer host-identity-forged-by-hand",
    "oversized": "Bearer " + "a" * 9000,
}


@pytest.mark.parametrize("case", list(BAD_AUTHORIZATION))
def test_missing_or_unverifiable_tokens_are_401(
    host: Host, tokens: IdentityTokens, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    caplog.set_level(logging.DEBUG)
    response = host.call(BAD_AUTHORIZATION[case])
    assert response.status == 401
    assert_nothing_leaked(response, caplog, tokens)
    assert "host-identity-forged-by-hand" not in caplog.text


def test_a_token_minted_for_another_audience_is_401(
    host: Host, running: dict[str, Any], tokens: IdentityTokens
) -> None:
    """What google-auth does with a token for another URL (e.g. another deployment)."""
    token = tokens.mint(identity_claims(instance(running, 0), "https://other.example"))
    response = host.call(f"Bearer {token}")
    assert response.status == 401
    assert token not in response.body.decode()


@pytest.mark.parametrize(
    "status", [WorkshopStatus.STOPPING, WorkshopStatus.STOPPED, WorkshopStatus.FAILED]
)
def test_hosts_of_a_workshop_that_is_not_live_are_404(
    host: Host,
    gcp: Platform,
    running: dict[str, Any],
    tokens: IdentityTokens,
    caplog: pytest.LogCaptureFixture,
    status: WorkshopStatus,
) -> None:
    set_status(gcp, running["id"], status)
    response = host.with_claims(identity_claims(instance(running, 0), AUDIENCE))
    assert response.status == 404
    assert response.json()["error"]["code"] == "not_found"
    assert_nothing_leaked(response, caplog, tokens)


def test_one_workshops_host_never_gets_anothers_key(
    host: Host, api: Api, gcp: Platform, running: dict[str, Any]
) -> None:
    other_key = "sk-ant-api03-" + "Other-key_" * 4
    gcp.settings = replace(gcp.settings, mode="local")  # create through the local admin
    other = api.create(api_key=other_key, seats=4, seats_per_host=4)
    gcp.settings = replace(gcp.settings, mode="gcp")
    set_status(gcp, other["id"], WorkshopStatus.RUNNING)

    mine = host.with_claims(identity_claims(instance(running, 0), AUDIENCE)).json()
    theirs = host.with_claims(identity_claims(instance(other, 0), AUDIENCE)).json()

    assert mine == {"api_key": API_KEY}
    assert theirs == {"api_key": other_key}


def test_outside_gcp_mode_no_key_is_issued(
    host: Host, gcp: Platform, running: dict[str, Any], tokens: IdentityTokens
) -> None:
    gcp.settings = replace(gcp.settings, mode="local")
    response = host.with_claims(identity_claims(instance(running, 0), AUDIENCE))
    assert response.status == 403
    assert tokens.verified == [], "the token is not even looked at"


def test_refusals_are_rate_limited_per_client_before_verifying(
    host: Host, gcp: Platform, running: dict[str, Any], tokens: IdentityTokens
) -> None:
    clock = FakeClock()
    install_limiter(
        gcp.store,
        HostCredentialLimiter(
            per_client=Budget(capacity=3, per_minute=3),
            overall=Budget(capacity=100, per_minute=100),
            clock=clock,
        ),
    )
    for _ in range(3):
        assert host.call("Bearer host-identity-forged-by-hand", ip="198.51.100.9").status == 401
    good = identity_claims(instance(running, 0), AUDIENCE)
    verified_before = len(tokens.verified)

    limited = host.with_claims(good, ip="198.51.100.9")

    assert limited.status == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert len(tokens.verified) == verified_before, "refused before verification"
    assert host.with_claims(good, ip="198.51.100.10").status == 200  # another VM is unaffected
    clock.advance(60)
    assert host.with_claims(good, ip="198.51.100.9").status == 200


def test_successes_spend_no_budget(host: Host, gcp: Platform, running: dict[str, Any]) -> None:
    install_limiter(
        gcp.store,
        HostCredentialLimiter(per_client=Budget(capacity=1, per_minute=1), clock=FakeClock()),
    )
    good = identity_claims(instance(running, 0), AUDIENCE)
    assert [host.with_claims(good).status for _ in range(5)] == [200] * 5


def test_google_unreachable_is_503_and_spends_no_budget(
    gcp: Platform, running: dict[str, Any]
) -> None:
    install_limiter(
        gcp.store,
        HostCredentialLimiter(per_client=Budget(capacity=1, per_minute=1), clock=FakeClock()),
    )

    def unreachable(token: str, audience: str) -> Mapping[str, Any]:
        raise Unavailable("cannot reach Google to verify the ID token")

    request = ApiRequest("POST", PATH, {"Authorization": "Bearer x"}, {}, b"", "203.0.113.1")
    for _ in range(3):
        assert handle(gcp, request, verify_id_token=unreachable).status == 503


def test_only_the_hosts_and_api_entry_points_serve_it(
    host: Host, gcp: Platform, running: dict[str, Any], tokens: IdentityTokens
) -> None:
    token = tokens.mint(identity_claims(instance(running, 0), AUDIENCE))
    request = ApiRequest("POST", PATH, {"Authorization": f"Bearer {token}"}, {}, b"", "192.0.2.1")
    served = {
        name: handle(
            gcp, request, operations=operations(name), verify_id_token=tokens.verify
        ).status
        for name in SPLIT
    }
    assert served == {name: 200 if name == "hosts" else 404 for name in SPLIT}
