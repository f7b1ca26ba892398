"""The cockpit's "Sign in with Google" token (Google Identity Services) is accepted by the API.

A GIS ``credential`` is a Google-signed ID token whose ``aud`` (and ``azp``) is the OAuth web
client ID the page initialised GIS with
(https://developers.google.com/identity/gsi/web/reference/js-reference#credential). The API
accepts that audience when ``instructor_web_client_id`` names it, beside the CLI's
``instructor_audience``; google-auth's real verifier checks signature, issuer, expiry and
audience against test certificates (tests/support/google_tokens.py).
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from functions.http import handle
from functions.wire import ApiRequest
from shared.auth.instructor import google_id_token_verifier_with
from shared.bootstrap import Platform
from tests.support.google_tokens import AUDIENCE, GoogleCerts

WEB_CLIENT = "123456789012-cockpit.apps.googleusercontent.com"


@pytest.fixture
def certs() -> GoogleCerts:
    return GoogleCerts()


@pytest.fixture
def gcp(platform: Platform) -> Platform:
    platform.settings = replace(
        platform.settings,
        mode="gcp",
        instructor_audience=AUDIENCE,
        instructor_web_client_id=WEB_CLIENT,
        instructors=("@school.edu",),
        admins=(),
    )
    return platform


def _list(platform: Platform, certs: GoogleCerts, token: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    response = handle(
        platform,
        ApiRequest("GET", "/api/workshops", {"Authorization": f"Bearer {token}"}, {}, b"", "x"),
        verify_id_token=google_id_token_verifier_with(certs),
    )
    return response.status, json.loads(response.body or b"{}")


def test_a_gis_token_for_the_web_client_is_accepted(gcp: Platform, certs: GoogleCerts) -> None:
    status, body = _list(gcp, certs, certs.id_token("alice@school.edu", audience=WEB_CLIENT))
    assert status == 200, body
    assert body["workshops"] == []


def test_the_cli_audience_still_works_beside_it(gcp: Platform, certs: GoogleCerts) -> None:
    status, _ = _list(gcp, certs, certs.id_token("alice@school.edu", audience=AUDIENCE))
    assert status == 200


@pytest.mark.parametrize(
    "audience",
    ["999-other-app.apps.googleusercontent.com", "https://clarateach-api.run.app", ""],
)
def test_a_token_for_another_audience_is_refused(
    gcp: Platform, certs: GoogleCerts, audience: str
) -> None:
    status, body = _list(gcp, certs, certs.id_token("alice@school.edu", audience=audience))
    assert status == 401
    assert body["error"]["code"] == "unauthorized"


def test_the_web_client_is_refused_when_not_configured(gcp: Platform, certs: GoogleCerts) -> None:
    gcp.settings = replace(gcp.settings, instructor_web_client_id="")
    status, _ = _list(gcp, certs, certs.id_token("alice@school.edu", audience=WEB_CLIENT))
    assert status == 401


def test_an_expired_gis_token_is_refused(gcp: Platform, certs: GoogleCerts) -> None:
    status, _ = _list(gcp, certs, certs.id_token("alice@school.edu", WEB_CLIENT, ttl=-120))
    assert status == 401


def test_a_gis_token_of_a_non_instructor_is_refused(gcp: Platform, certs: GoogleCerts) -> None:
    status, _ = _list(gcp, certs, certs.id_token("eve@evil.example", audience=WEB_CLIENT))
    assert status == 401
