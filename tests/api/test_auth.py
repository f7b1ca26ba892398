"""Instructor authentication and ownership on every instructor endpoint.

Security checklist, "Instructor API": no / bad / expired / wrong-audience token -> 401 with
nothing written and nothing published; instructor A on B's workshop -> 404 and B unchanged.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest

from functions.http import ROUTES
from shared.auth.instructor import (
    LOCAL_ADMIN,
    admin_token_path,
    email_allowed,
    ensure_admin_token,
)
from shared.bootstrap import Platform
from shared.domain.model import WorkshopStatus
from shared.settings import Settings
from tests.api.conftest import API_KEY, Api, force_running
from tests.support.fakes import MemorySecrets, RecordingBus

INSTRUCTOR_ROUTES = [r for r in ROUTES if r.instructor]
WORKSHOP_ROUTES = [r for r in INSTRUCTOR_ROUTES if "{workshop_id}" in r.template]
BODIES: dict[str, Any] = {
    "create_workshop": {"name": "x", "seats": 2, "api_key": API_KEY},
    "set_model_access": {"paused": True},
    "change_schedule": {"extend_minutes": 30},
    "broadcast": {"message": "hello room"},
    "release_seat": {"seat": 1},
    "reset_seat": {"seat": 1},
    "set_model_policy": {"model_policy": {"defaults": {"budget_usd": 1.0}}},
}


def _path(template: str, workshop_id: str) -> str:
    return template.replace("{workshop_id}", workshop_id)


def _snapshot(platform: Platform, secrets: MemorySecrets, bus: RecordingBus) -> Any:
    page = platform.store.list_workshops(limit=200)
    return (
        [w.to_dict() for w in page.workshops],
        {w.id: platform.store.list_seats(w.id) for w in page.workshops},
        dict(secrets.values),
        list(bus.events),
    )


def test_every_instructor_route_is_covered() -> None:
    assert {r.name for r in INSTRUCTOR_ROUTES} == {
        "create_workshop", "list_workshops", "get_workshop", "start_workshop", "stop_workshop",
        "list_seats", "get_usage", "set_model_access", "shadow_token", "change_schedule",
        "get_room", "broadcast", "release_seat", "reset_seat", "delete_workshop",
        "put_content", "get_progress",
        "set_model_policy",
    }  # fmt: skip


BAD_AUTHORIZATION = {
    "missing": None,
    "empty": "",
    "wrong scheme": "Basic YWRtaW46YWRtaW4=",
    "bearer without token": "Bearer ",
    "wrong token": "Bearer not-the-admin-token",
    "token prefix": "PREFIX",
    "oversized": "Bearer " + "a" * 9000,
}


@pytest.mark.parametrize("route", INSTRUCTOR_ROUTES, ids=lambda r: r.name)
@pytest.mark.parametrize("case", list(BAD_AUTHORIZATION))
def test_bad_local_credentials_are_401_and_change_nothing(
    api: Api,
    platform: Platform,
    secrets: MemorySecrets,
    bus: RecordingBus,
    admin_token: str,
    route: Any,
    case: str,
) -> None:
    workshop = api.create()
    force_running(platform, workshop["id"])
    before = _snapshot(platform, secrets, bus)
    header = BAD_AUTHORIZATION[case]
    if header == "PREFIX":
        header = f"Bearer {admin_token[:-1]}"
    headers = {} if header is None else {"Authorization": header}

    response = api.as_(None).call(
        route.method, _path(route.template, workshop["id"]), BODIES.get(route.name),
        headers=headers,
    )  # fmt: skip

    assert response.status == 401, response.json()
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert admin_token not in response.body.decode()
    assert _snapshot(platform, secrets, bus) == before


def test_admin_token_is_created_once_with_mode_0600(settings: Settings) -> None:
    token = ensure_admin_token(settings)
    path = admin_token_path(settings)

    assert len(token) >= 40
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert ensure_admin_token(settings) == token


def test_local_admin_owns_what_it_creates(api: Api) -> None:
    assert api.create()["owner"] == LOCAL_ADMIN


# ------------------------------------------------------------------------ GCP mode

AUDIENCE = "https://api.clarateach.example"
GOOGLE_TOKENS: dict[str, Mapping[str, Any]] = {
    "alice-token": {"email": "alice@school.edu", "email_verified": True},
    "bob-token": {"email": "bob@other.org", "email_verified": True},
    "root-token": {"email": "root@ops.example", "email_verified": True},
    "stranger-token": {"email": "eve@evil.example", "email_verified": True},
    "unverified-token": {"email": "carol@school.edu", "email_verified": False},
    "noemail-token": {"sub": "123"},
}


def fake_google_verifier(token: str, audience: str) -> Mapping[str, Any]:
    """Stands in for google-auth: known tokens verify for ``AUDIENCE`` only."""
    if token == "expired-token":
        raise ValueError("Token expired")
    if audience != AUDIENCE or token == "wrong-audience-token":
        raise ValueError("Token has wrong audience")
    if token not in GOOGLE_TOKENS:
        raise ValueError("Could not verify token signature")
    return GOOGLE_TOKENS[token]


@pytest.fixture
def gcp(platform: Platform) -> Platform:
    platform.settings = replace(
        platform.settings,
        mode="gcp",
        instructor_audience=AUDIENCE,
        instructors=("@school.edu", "bob@other.org"),
        admins=("root@ops.example",),
        gce_image="projects/proj/global/images/family/clarateach-host",  # a baked host image
    )
    return platform


def gcp_api(platform: Platform, token: str | None) -> Api:
    return Api(platform, token=token, verify_id_token=fake_google_verifier)


@pytest.mark.parametrize(
    "token",
    ["expired-token", "wrong-audience-token", "forged-token", "stranger-token",
     "unverified-token", "noemail-token"],
)  # fmt: skip
@pytest.mark.parametrize("route", INSTRUCTOR_ROUTES, ids=lambda r: r.name)
def test_google_tokens_that_do_not_qualify_are_401(
    gcp: Platform, secrets: MemorySecrets, bus: RecordingBus, token: str, route: Any
) -> None:
    workshop = gcp_api(gcp, "alice-token").create()
    before = _snapshot(gcp, secrets, bus)

    response = gcp_api(gcp, token).call(
        route.method, _path(route.template, workshop["id"]), BODIES.get(route.name)
    )

    assert response.status == 401
    assert _snapshot(gcp, secrets, bus) == before


def test_without_a_configured_audience_every_google_token_is_refused(gcp: Platform) -> None:
    gcp.settings = replace(gcp.settings, instructor_audience="")
    assert gcp_api(gcp, "alice-token").call("GET", "/api/workshops").status == 401


def test_the_verified_email_is_the_owner(gcp: Platform) -> None:
    assert gcp_api(gcp, "alice-token").create()["owner"] == "alice@school.edu"
    assert gcp_api(gcp, "bob-token").create()["owner"] == "bob@other.org"


@pytest.mark.parametrize("route", WORKSHOP_ROUTES, ids=lambda r: r.name)
def test_another_instructors_workshop_is_404_and_unchanged(
    gcp: Platform, secrets: MemorySecrets, bus: RecordingBus, route: Any
) -> None:
    alice, bob = gcp_api(gcp, "alice-token"), gcp_api(gcp, "bob-token")
    workshop = alice.create()
    force_running(gcp, workshop["id"])
    alice.join(workshop["code"])
    before = _snapshot(gcp, secrets, bus)

    response = bob.call(route.method, _path(route.template, workshop["id"]), BODIES.get(route.name))

    assert response.status == 404
    assert response.json()["error"]["code"] == "not_found"
    assert _snapshot(gcp, secrets, bus) == before


def test_instructors_list_only_their_own_and_admins_list_all(gcp: Platform) -> None:
    alice, bob = gcp_api(gcp, "alice-token"), gcp_api(gcp, "bob-token")
    mine, theirs = alice.create()["id"], bob.create()["id"]

    def listed(client: Api) -> set[str]:
        return {w["id"] for w in client.call("GET", "/api/workshops").json()["workshops"]}

    assert listed(alice) == {mine}
    assert listed(bob) == {theirs}
    assert listed(gcp_api(gcp, "root-token")) == {mine, theirs}


def test_admins_can_act_on_any_workshop(gcp: Platform, bus: RecordingBus) -> None:
    workshop = gcp_api(gcp, "alice-token").create()
    root = gcp_api(gcp, "root-token")

    assert root.call("POST", f"/api/workshops/{workshop['id']}/start").status == 202
    stored = gcp.store.get_workshop(workshop["id"])
    assert stored is not None and stored.status == WorkshopStatus.PROVISIONING
    assert stored.owner == "alice@school.edu"


@pytest.mark.parametrize(
    ("email", "allowed"),
    [
        ("a@school.edu", True),
        ("bob@other.org", True),
        ("a@evilschool.edu", False),
        ("a@sub.school.edu", False),
        ("school.edu@evil.example", False),
        ("bob@other.org.evil", False),
    ],
)
def test_allowlist_matches_exact_addresses_and_exact_domains(email: str, allowed: bool) -> None:
    assert email_allowed(email, ("@school.edu", "bob@other.org")) is allowed


def test_google_verifier_failure_to_reach_google_is_503(gcp: Platform) -> None:
    from shared.services.errors import Unavailable

    def unreachable(token: str, audience: str) -> Mapping[str, Any]:
        raise Unavailable("cannot reach Google to verify the ID token")

    response = Api(gcp, token="alice-token", verify_id_token=unreachable).call(
        "GET", "/api/workshops"
    )
    assert response.status == 503


def test_authentication_comes_before_body_parsing(api: Api, bus: RecordingBus) -> None:
    response = api.as_(None).call("POST", "/api/workshops", raw=b"{not json")
    assert response.status == 401
    assert bus.events == []
