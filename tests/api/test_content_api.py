"""Content packs through the API: ``PUT /api/workshops/{id}/content`` (instructor, before
start), ``GET /api/hosts/content`` (the workshop's own hosts only) and progress reported in
``host.usage`` through ``POST /api/hosts/events``, served by ``GET /api/workshops/{id}/progress``.
"""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from typing import Any

import pytest

from functions.http import ROUTES
from functions.wire import MAX_CONTENT_BYTES
from shared.auth.platform_keys import host_events_token
from shared.bootstrap import Platform
from shared.content import load_pack_zip, pack_to_zip
from shared.domain.events import HOST_USAGE, Event
from shared.domain.model import WorkshopStatus
from shared.services import provisioning
from tests.api.conftest import Api, force_running, set_status
from tests.support.content_packs import EXAMPLE, make_zip, minimal_files
from tests.support.content_vectors import VECTORS
from tests.support.fakes import RecordingBus
from tests.support.host_identity import HOST_ACCOUNT, PROJECT, ZONE, IdentityTokens, identity_claims

AUDIENCE = "https://ct-hosts-123.europe-west1.run.app"
ZIP = {"Content-Type": "application/zip"}


def put(api: Api, workshop_id: str, data: bytes) -> Any:
    return api.call("PUT", f"/api/workshops/{workshop_id}/content", raw=data, headers=ZIP)


def host_get(platform: Platform, workshop_id: str, authorization: str | None, **kw: Any) -> Any:
    headers = {} if authorization is None else {"Authorization": authorization}
    query = {"workshop_id": workshop_id, "host_index": "0", "attempt": "0"}
    query.update(kw.pop("query", {}))
    return Api(platform, **kw).call("GET", "/api/hosts/content", headers=headers, query=query)


def host_token(platform: Platform, workshop_id: str, index: int = 0, attempt: int = 0) -> str:
    return "Bearer " + host_events_token(platform.settings.state_dir, workshop_id, index, attempt)


@pytest.fixture
def example_zip() -> bytes:
    return pack_to_zip(EXAMPLE)


@pytest.fixture
def with_content(api: Api, platform: Platform, example_zip: bytes) -> dict[str, Any]:
    """A running 10-seat workshop (two hosts) whose pack is the example."""
    created = api.create(seats=10, seats_per_host=5)
    assert put(api, created["id"], example_zip).status == 200
    force_running(platform, created["id"])
    return created


# ------------------------------------------------------------------------------ upload
def test_an_uploaded_pack_is_validated_and_stored_as_a_private_file(
    api: Api, platform: Platform, example_zip: bytes
) -> None:
    created = api.create()
    response = put(api, created["id"], example_zip)

    assert response.status == 200, response.json()
    content = response.json()["content"]
    assert content["title"] == "Claude Code 101"
    assert [s["id"] for s in content["steps"]] == [
        "explore",
        "explain",
        "claude-md",
        "fix-test",
        "commit",
    ]
    stored = platform.settings.state_dir / "content" / f"{created['id']}.zip"
    assert stored.read_bytes() == example_zip
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(stored.parent.stat().st_mode) == 0o700


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v.id)
def test_each_invalid_pack_is_a_400_naming_the_file_and_field(
    api: Api, platform: Platform, vector
) -> None:
    created = api.create()
    response = put(api, created["id"], vector.build())

    assert response.status == 400, response.json()
    error = response.json()["error"]
    assert error["code"] == "invalid_content_pack"
    assert (error["file"], error["field"]) == (vector.file, vector.field)
    assert vector.file in error["message"] and vector.field in error["message"]
    assert platform.content.get(created["id"]) is None  # nothing stored


def test_upload_needs_the_owner_and_a_workshop_that_has_not_started(
    api: Api, platform: Platform, example_zip: bytes
) -> None:
    created = api.create()
    assert put(api.as_(None), created["id"], example_zip).status == 401
    assert put(api.as_("not-a-token"), created["id"], example_zip).status == 401
    assert put(api, "w-does-not-exist", example_zip).status == 404

    set_status(platform, created["id"], WorkshopStatus.PROVISIONING)
    response = put(api, created["id"], example_zip)
    assert response.status == 409
    assert response.json()["error"]["status"] == "provisioning"
    assert platform.content.get(created["id"]) is None


def test_a_body_above_the_upload_cap_is_413(api: Api) -> None:
    created = api.create()
    response = put(api, created["id"], os.urandom(MAX_CONTENT_BYTES + 1))
    assert response.status == 413
    # Other routes keep the small cap.
    assert api.call("POST", "/api/workshops", raw=b"{" + b" " * 70_000 + b"}").status == 413


def test_the_routes_are_served_by_the_expected_entry_points() -> None:
    from functions.entrypoints import entry_point_of

    names = {r.name: r for r in ROUTES}
    assert entry_point_of("put_content") == "create_workshop"
    assert entry_point_of("host_content") == "hosts"
    assert entry_point_of("get_progress") == "workshops"
    assert names["put_content"].instructor and names["get_progress"].instructor
    assert not names["host_content"].instructor


# ---------------------------------------------------------------------- host delivery
def test_a_host_of_the_workshop_gets_its_pack(
    platform: Platform, with_content: dict[str, Any], example_zip: bytes
) -> None:
    response = host_get(platform, with_content["id"], host_token(platform, with_content["id"]))

    assert response.status == 200
    assert response.headers["Content-Type"] == "application/zip"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.body == example_zip
    assert load_pack_zip(response.body).manifest.title == "Claude Code 101"


def test_a_workshop_without_content_is_204(platform: Platform, running: dict[str, Any]) -> None:
    response = host_get(
        platform, running["id"], host_token(platform, running["id"], 1), query={"host_index": "1"}
    )
    assert response.status == 204 and response.body == b""


def test_another_workshops_host_or_a_learner_gets_nothing(
    api: Api, platform: Platform, with_content: dict[str, Any]
) -> None:
    other = api.create(seats=4, seats_per_host=4)
    force_running(platform, other["id"])
    theirs = host_token(platform, other["id"])
    # Another workshop's host asking for this workshop's pack with its own token.
    assert host_get(platform, with_content["id"], theirs).status == 401
    # ... or for its own: it has none.
    assert host_get(platform, other["id"], theirs).status == 204
    # A token for another start attempt, or for a host outside the plan.
    assert (
        host_get(
            platform, with_content["id"], host_token(platform, with_content["id"], 0, 1)
        ).status
        == 401
    )
    nine = host_token(platform, with_content["id"], 9)
    assert host_get(platform, with_content["id"], nine, query={"host_index": "9"}).status == 404
    # A learner's token.
    learner = api.join(with_content["code"]).json()["token"]
    response = host_get(platform, with_content["id"], f"Bearer {learner}")
    assert response.status == 401
    assert host_get(platform, with_content["id"], None).status == 401
    assert b"PK" not in response.body


def test_a_stopped_workshops_host_is_404(platform: Platform, with_content: dict[str, Any]) -> None:
    set_status(platform, with_content["id"], WorkshopStatus.STOPPED)
    assert (
        host_get(platform, with_content["id"], host_token(platform, with_content["id"])).status
        == 404
    )


def test_on_gcp_a_vm_of_another_workshop_is_403(
    api: Api, platform: Platform, with_content: dict[str, Any]
) -> None:
    other = api.create(seats=4, seats_per_host=4)
    force_running(platform, other["id"])
    tokens = IdentityTokens()
    platform.settings = replace(
        platform.settings,
        mode="gcp",
        gcp_project=PROJECT,
        gce_zone=ZONE,
        host_service_account=HOST_ACCOUNT,
        host_credentials_url=AUDIENCE,
    )
    vm = tokens.mint(identity_claims(f"ct-{other['id']}-h0", AUDIENCE))
    mine = tokens.mint(identity_claims(f"ct-{with_content['id']}-h0", AUDIENCE))

    refused = host_get(platform, with_content["id"], f"Bearer {vm}", verify_id_token=tokens.verify)
    served = host_get(platform, with_content["id"], f"Bearer {mine}", verify_id_token=tokens.verify)

    assert refused.status == 403
    assert served.status == 200 and served.body.startswith(b"PK")


# --------------------------------------------------------------------------- progress
def usage_event(workshop_id: str, seats: dict[str, Any], index: int = 0) -> bytes:
    data = {"host_index": index, "attempt": 0, "seats": seats}
    return Event(HOST_USAGE, workshop_id, data).to_message()[0]


def report(platform: Platform, bus: RecordingBus, workshop_id: str, seats: dict[str, Any]) -> Any:
    """POST the usage event as host 0 would, then deliver what was published."""
    headers = {"Authorization": host_token(platform, workshop_id)}
    response = Api(platform).call(
        "POST", "/api/hosts/events", raw=usage_event(workshop_id, seats), headers=headers
    )
    for i, event in enumerate(list(bus.events)):
        provisioning.handle(platform, event, f"delivery-{workshop_id}-{len(bus.events)}-{i}")
    bus.events.clear()
    return response


def test_progress_reported_by_a_host_is_served_per_seat_with_a_histogram(
    api: Api, platform: Platform, bus: RecordingBus, with_content: dict[str, Any]
) -> None:
    wid = with_content["id"]
    bus.events.clear()
    seats = {
        "1": {"requests": 3, "progress": {"step": 2, "checks_passed": ["explain", "claude-md"]}},
        "2": {"requests": 1, "progress": {"step": 0, "checks_passed": []}},
        "3": {"requests": 0, "progress": {"step": 2, "checks_passed": ["explain"]}},
        "4": {"requests": 5},
    }
    assert report(platform, bus, wid, seats).status == 202

    body = api.call("GET", f"/api/workshops/{wid}/progress").json()

    assert body["seats"] == [
        {"seat": 1, "step": 2, "checks_passed": ["explain", "claude-md"]},
        {"seat": 2, "step": 0, "checks_passed": []},
        {"seat": 3, "step": 2, "checks_passed": ["explain"]},
    ]
    assert [(h["id"], h["seats"]) for h in body["histogram"]] == [
        ("explore", 1),
        ("explain", 0),
        ("claude-md", 2),
        ("fix-test", 0),
        ("commit", 0),
    ]
    # The usage counters still count (progress is not a counter).
    usage = api.call("GET", f"/api/workshops/{wid}/usage").json()
    assert [row["requests"] for row in usage["seats"]] == [3, 1, 0, 5]


@pytest.mark.parametrize(
    "progress",
    [
        {"step": -1, "checks_passed": []},
        {"step": "2", "checks_passed": []},
        {"step": True},
        {"step": 50},
        {"step": 1, "checks_passed": "explain"},
        {"step": 1, "checks_passed": ["Not An Id"]},
        {"step": 1, "checks_passed": ["x"] * 51},
        {"step": 1, "extra": 1},
        [1, 2],
    ],
)
def test_malformed_progress_is_a_400_naming_the_seat(
    api: Api, platform: Platform, bus: RecordingBus, with_content: dict[str, Any], progress: Any
) -> None:
    wid = with_content["id"]
    bus.events.clear()
    response = report(platform, bus, wid, {"7": {"requests": 1, "progress": progress}})

    assert response.status == 400, response.json()
    assert response.json()["error"]["field"] == "data.seats.7.progress"
    assert api.call("GET", f"/api/workshops/{wid}/progress").json()["seats"] == []


def test_progress_is_the_owners_only(api: Api, with_content: dict[str, Any]) -> None:
    assert api.as_(None).call("GET", f"/api/workshops/{with_content['id']}/progress").status == 401
    assert api.call("GET", "/api/workshops/w-nope/progress").status == 404


def test_a_workshop_without_content_has_empty_progress(api: Api, running: dict[str, Any]) -> None:
    body = api.call("GET", f"/api/workshops/{running['id']}/progress").json()
    assert body == {"content": None, "seats": [], "histogram": []}


def test_minimal_pack_uploads(api: Api) -> None:
    created = api.create()
    assert put(api, created["id"], make_zip(minimal_files())).status == 200


# ------------------------------------------------------------------- [claude] settings
MANIFEST_WITH_CLAUDE = b"""title = "Pack with Claude settings"

[claude]
default_model = "claude-sonnet-4-5"
claude_md = "Run the tests with python3 -m unittest."
settings = { includeCoAuthoredBy = false, cleanupPeriodDays = 7 }

[[steps]]
id = "one"
title = "Step one"
guide = "guide/01-one.md"
check = "checks/one.sh"

[[steps]]
id = "two"
title = "Step two"
guide = "guide/02-two.md"
"""


def claude_code_of(api: Api, workshop_id: str) -> dict[str, Any]:
    workshop = api.call("GET", f"/api/workshops/{workshop_id}").json()["workshop"]
    return dict(workshop["model_policy"]["claude_code"])


def test_the_packs_claude_settings_fill_what_the_instructor_left_unset(api: Api) -> None:
    """The pack's ``[claude]`` table reaches the workshop's policy (what every seat's Claude
    Code starts with); the instructor's own choices at create win, key by key."""
    mine = {"claude_code": {"claude_md": "Mine.", "settings": {"cleanupPeriodDays": 30}}}
    created = api.create(model_policy=mine)
    response = put(api, created["id"], make_zip(minimal_files(MANIFEST_WITH_CLAUDE)))
    assert response.status == 200, response.json()

    claude = claude_code_of(api, created["id"])
    assert claude["default_model"] == "claude-sonnet-4-5"  # from the pack
    assert claude["claude_md"] == "Mine."  # the instructor's
    assert claude["settings"] == {"includeCoAuthoredBy": False, "cleanupPeriodDays": 30}


def test_a_pack_model_outside_the_instructors_allowlist_is_refused_and_nothing_stored(
    api: Api, platform: Platform
) -> None:
    created = api.create(model_policy={"claude_code": {"allowed_models": ["claude-haiku-4-5"]}})
    response = put(api, created["id"], make_zip(minimal_files(MANIFEST_WITH_CLAUDE)))

    assert response.status == 400, response.json()
    assert "workshop.toml" in response.json()["error"]["message"]
    assert platform.content.get(created["id"]) is None
    assert claude_code_of(api, created["id"])["default_model"] is None
