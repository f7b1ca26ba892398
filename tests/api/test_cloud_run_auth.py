"""Instructor calls behind Cloud Run IAM, with a real Google-shaped ID token (issue 12 item 1).

What Cloud Run does on a service that requires authentication
(https://cloud.google.com/run/docs/authenticating/service-to-service and
https://cloud.google.com/run/docs/securing/authenticating): it verifies the Google-signed ID
token itself before any code runs, reading ``X-Serverless-Authorization`` if present and
``Authorization`` otherwise, and forwards the request with the *checked* header's token
signature replaced by ``SIGNATURE_REMOVED_BY_GOOGLE`` (``header.payload.SIGNATURE_REMOVED_BY_
GOOGLE``). When ``X-Serverless-Authorization`` was the one checked, ``Authorization`` reaches the
container unchanged. ``CloudRunFront`` below does exactly that; the token is RS256-signed and
verified by google-auth's own ``verify_oauth2_token`` (issuer, audience, expiry, signature)
against certificates served the way ``https://www.googleapis.com/oauth2/v1/certs`` serves them
(``{kid: PEM certificate}``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import httpx
import pytest

from clarateach.api_client import ApiClient, ApiError
from functions.http import handle
from functions.wire import ApiRequest, ApiResponse
from shared.auth.instructor import STRIPPED_SIGNATURE, google_id_token_verifier_with
from shared.bootstrap import Platform
from tests.support.google_tokens import AUDIENCE, GoogleCerts


class CloudRunFront:
    """Cloud Run's IAM check in front of a function, then the function itself."""

    def __init__(self, platform: Platform, certs: GoogleCerts) -> None:
        self.platform = platform
        self.verify = google_id_token_verifier_with(certs)
        self.forwarded: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        headers = {k: v for k, v in request.headers.items()}
        checked = next(
            (k for k in ("x-serverless-authorization", "authorization") if k in headers), None
        )
        if checked is None:
            return httpx.Response(401, text="Unauthorized")  # Cloud Run's own 401 page
        token = headers[checked].partition(" ")[2]
        try:
            self.verify(token, AUDIENCE)
        except ValueError:
            return httpx.Response(401, text="Unauthorized")
        header, payload, _ = token.split(".")
        headers[checked] = f"Bearer {header}.{payload}.{STRIPPED_SIGNATURE}"
        self.forwarded.append(headers)
        response: ApiResponse = handle(
            self.platform,
            ApiRequest(
                request.method,
                request.url.path,
                headers,
                dict(request.url.params),
                request.content,
                "203.0.113.9",
            ),
            verify_id_token=self.verify,
        )
        return httpx.Response(response.status, content=response.body, headers=response.headers)


@pytest.fixture
def gcp(platform: Platform) -> Platform:
    platform.settings = replace(
        platform.settings,
        mode="gcp",
        instructor_audience=AUDIENCE,
        instructors=("@school.edu",),
        admins=(),
    )
    return platform


@pytest.fixture
def certs() -> GoogleCerts:
    return GoogleCerts()


def _client(front: Callable[[httpx.Request], httpx.Response], token: str) -> ApiClient:
    return ApiClient(
        "https://clarateach-api-123.us-central1.run.app",
        token,
        transport=httpx.MockTransport(front),
    )


def test_the_cli_passes_cloud_run_iam_and_the_apps_own_check(
    gcp: Platform, certs: GoogleCerts
) -> None:
    """Fails before the fix: the CLI sent the token in ``Authorization`` only, Cloud Run
    stripped its signature, and the app's signature check answered 401 to every call."""
    front = CloudRunFront(gcp, certs)
    with _client(front, certs.id_token("alice@school.edu")) as client:
        created = client.create_workshop(
            name="Claude Code 101", seats=2, api_key="sk-ant-api03-" + "a" * 80
        )
        listed = client.list_workshops()
    assert created["owner"] == "alice@school.edu"
    assert [w["id"] for w in listed["workshops"]] == [created["id"]]
    # What reached the function: the checked header stripped, Authorization intact.
    forwarded = front.forwarded[0]
    assert forwarded["x-serverless-authorization"].endswith("." + STRIPPED_SIGNATURE)
    assert not forwarded["authorization"].endswith(STRIPPED_SIGNATURE)


def test_a_token_whose_signature_cloud_run_removed_is_refused_with_a_clear_reason(
    gcp: Platform, certs: GoogleCerts
) -> None:
    """A client that sends only ``Authorization`` gets it back from Cloud Run stripped: the
    app never accepts an unsigned token, and says which header is missing."""

    def authorization_only(request: httpx.Request) -> httpx.Response:
        del request.headers["X-Serverless-Authorization"]
        return CloudRunFront(gcp, certs)(request)

    with (
        _client(authorization_only, certs.id_token("alice@school.edu")) as client,
        pytest.raises(ApiError) as caught,
    ):
        client.list_workshops()
    assert caught.value.status == 401
    assert "X-Serverless-Authorization" in caught.value.message


def test_claims_of_a_stripped_token_are_never_trusted(gcp: Platform, certs: GoogleCerts) -> None:
    """Anyone can write ``header.payload.SIGNATURE_REMOVED_BY_GOOGLE`` with any email; only
    Cloud Run's own check stands behind such a token, so the app refuses it even when it
    arrives on its own (an ingress that skips IAM, a misconfigured public function)."""
    header, payload, _ = certs.id_token("alice@school.edu").split(".")
    forged = f"{header}.{payload}.{STRIPPED_SIGNATURE}"
    response = handle(
        gcp,
        ApiRequest("GET", "/api/workshops", {"Authorization": f"Bearer {forged}"}),
        verify_id_token=google_id_token_verifier_with(certs),
    )
    assert response.status == 401
    assert forged not in response.body.decode()


def test_an_outsider_with_a_valid_google_token_is_still_refused_by_the_app(
    gcp: Platform, certs: GoogleCerts
) -> None:
    """Cloud Run IAM admits every principal with run.invoker; the app's allowlist still
    applies to the verified email."""
    with (
        _client(CloudRunFront(gcp, certs), certs.id_token("eve@evil.example")) as client,
        pytest.raises(ApiError) as caught,
    ):
        client.list_workshops()
    assert caught.value.status == 401
