"""Instructor endpoints: every route's success and failure paths, through the router."""

from __future__ import annotations

import json
import sys

import pytest

from shared.auth.signing import signing_key
from shared.auth.tokens import verify_token
from shared.bootstrap import Platform
from shared.domain.errors import TransientError
from shared.domain.events import WORKSHOP_START_REQUESTED, WORKSHOP_STOP_REQUESTED
from shared.domain.model import WorkshopStatus
from shared.ports.store import SeatRequest
from shared.services.workshops import api_key_secret_name
from tests.api.conftest import API_KEY, Api, force_running, set_status
from tests.support.fakes import MemorySecrets, RecordingBus
from tests.support.net import free_port

S = WorkshopStatus
W_KEYS = {
    "id", "name", "code", "seats", "seats_per_host", "status", "owner", "created_at",
    "updated_at", "error", "attempt", "model_paused", "paused_seats", "model_policy", "hosts",
    "schedule", "stopped_at", "cost",
}  # fmt: skip


# ------------------------------------------------------------------------------ create


def test_create_returns_the_workshop_without_any_key_material(api: Api) -> None:
    response = api.call(
        "POST", "/api/workshops", {"name": " Intro ", "seats": 12, "api_key": API_KEY}
    )

    assert response.status == 201
    workshop = response.json()["workshop"]
    assert set(workshop) == W_KEYS
    assert workshop["name"] == "Intro"
    assert workshop["status"] == "created"
    assert workshop["owner"] == "local-admin"
    assert workshop["seats_per_host"] == 10
    assert workshop["code"].startswith("CLAUDE-")
    assert API_KEY not in response.body.decode()
    assert "api_key" not in response.body.decode()


def test_create_stores_the_key_as_a_secret_and_only_its_reference(
    api: Api, platform: Platform, secrets: MemorySecrets
) -> None:
    workshop = api.create()

    ref = secrets.ref_for(api_key_secret_name(workshop["id"]))
    assert secrets.access(ref) == API_KEY
    assert secrets.labels[ref] == {"clarateach": "api-key", "workshop": workshop["id"]}
    stored = platform.store.get_workshop(workshop["id"])
    assert stored is not None and stored.api_key_ref == ref
    assert API_KEY not in json.dumps(stored.to_dict(), default=str)


def test_create_accepts_a_model_policy_and_refuses_a_bad_one(api: Api) -> None:
    policy = {"defaults": {"requests_per_minute": 5, "budget_usd": 2}}
    workshop = api.create(model_policy=policy)
    assert workshop["model_policy"]["defaults"]["requests_per_minute"] == 5

    bad = api.call(
        "POST", "/api/workshops",
        {"name": "x", "seats": 1, "api_key": API_KEY, "model_policy": {"defaults": {"nope": 1}}},
    )  # fmt: skip
    assert bad.status == 400
    assert bad.json()["error"]["field"].startswith("model_policy")


def test_create_respects_the_deployments_seat_cap(api: Api, platform: Platform) -> None:
    from dataclasses import replace

    platform.settings = replace(platform.settings, max_seats=20)
    response = api.call("POST", "/api/workshops", {"name": "x", "seats": 21, "api_key": API_KEY})
    assert response.status == 400
    assert response.json()["error"]["field"] == "seats"


def test_failed_insert_deletes_the_secret_it_wrote(
    api: Api, platform: Platform, secrets: MemorySecrets, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(platform.store, "create_workshop", broken)
    response = api.call("POST", "/api/workshops", {"name": "x", "seats": 1, "api_key": API_KEY})

    assert response.status == 500
    assert secrets.values == {}


# -------------------------------------------------------------------------- list / get


def test_list_pages_newest_first_with_a_cursor(api: Api) -> None:
    ids = [api.create(name=f"w{i}")["id"] for i in range(3)]

    first = api.call("GET", "/api/workshops", query={"limit": "2"}).json()
    assert [w["id"] for w in first["workshops"]] == ids[::-1][:2]
    second = api.call(
        "GET", "/api/workshops", query={"limit": "2", "cursor": first["next_cursor"]}
    ).json()
    assert [w["id"] for w in second["workshops"]] == [ids[0]]
    assert second["next_cursor"] is None


@pytest.mark.parametrize("limit", ["0", "201", "-1", "abc", "1.5", "\u0661"])
def test_list_refuses_bad_limits(api: Api, limit: str) -> None:
    response = api.call("GET", "/api/workshops", query={"limit": limit})
    assert response.status == 400
    assert response.json()["error"]["field"] == "limit"


@pytest.mark.parametrize("cursor", ["garbage!", "x" * 2000, "W10="])
def test_list_refuses_cursors_it_did_not_issue(api: Api, cursor: str) -> None:
    response = api.call("GET", "/api/workshops", query={"cursor": cursor})
    assert response.status == 400
    assert response.json()["error"]["field"] == "cursor"


def test_get_returns_one_workshop_and_404s_unknown_ids(api: Api) -> None:
    workshop = api.create()
    assert api.call("GET", f"/api/workshops/{workshop['id']}").json()["workshop"] == workshop
    missing = api.call("GET", "/api/workshops/wdoesnotexist")
    assert missing.status == 404
    assert missing.json()["error"]["code"] == "not_found"


# --------------------------------------------------------------------------- start


def test_start_moves_to_provisioning_plans_hosts_and_publishes(api: Api, bus: RecordingBus) -> None:
    workshop = api.create(seats=12, seats_per_host=5)

    response = api.call("POST", f"/api/workshops/{workshop['id']}/start")

    assert response.status == 202
    started = response.json()["workshop"]
    assert started["status"] == "provisioning"
    assert started["attempt"] == 1
    assert [(h["seat_first"], h["seat_last"]) for h in started["hosts"]] == [
        (1, 5), (6, 10), (11, 12),
    ]  # fmt: skip
    assert [(e.type, e.workshop_id, e.data) for e in bus.events] == [
        (WORKSHOP_START_REQUESTED, workshop["id"], {"attempt": 1})
    ]


@pytest.mark.parametrize("status", [S.PROVISIONING, S.RUNNING, S.STOPPING, S.STOPPED])
def test_start_in_the_wrong_state_is_409_with_the_status(
    api: Api, platform: Platform, bus: RecordingBus, status: S
) -> None:
    workshop = api.create()
    set_status(platform, workshop["id"], status)

    response = api.call("POST", f"/api/workshops/{workshop['id']}/start")

    assert response.status == 409
    assert response.json()["error"]["code"] == "invalid_state"
    assert response.json()["error"]["status"] == status.value
    assert bus.events == []


def test_a_failed_workshop_can_be_started_again_as_a_new_attempt(
    api: Api, platform: Platform, bus: RecordingBus
) -> None:
    workshop = api.create()
    api.call("POST", f"/api/workshops/{workshop['id']}/start")
    platform.store.update_workshop(
        workshop["id"],
        lambda w: w.__class__.from_dict({**w.to_dict(), "status": "failed", "error": "quota"}),
    )

    again = api.call("POST", f"/api/workshops/{workshop['id']}/start").json()["workshop"]

    assert (again["status"], again["attempt"], again["error"]) == ("provisioning", 2, None)
    assert [e.data for e in bus.events] == [{"attempt": 1}, {"attempt": 2}]


def test_start_with_the_bus_down_is_503_and_a_retry_works(
    api: Api, platform: Platform, bus: RecordingBus
) -> None:
    workshop = api.create()
    bus.fail_with(TransientError("pubsub unavailable"))

    refused = api.call("POST", f"/api/workshops/{workshop['id']}/start")

    assert refused.status == 503
    assert refused.json()["error"]["code"] == "event_bus_unavailable"
    stored = platform.store.get_workshop(workshop["id"])
    assert stored is not None and stored.status == S.FAILED and stored.error
    retried = api.call("POST", f"/api/workshops/{workshop['id']}/start")
    assert retried.status == 202
    assert retried.json()["workshop"]["attempt"] == 2
    assert [e.data for e in bus.events] == [{"attempt": 2}]


# ---------------------------------------------------------------------------- stop


@pytest.mark.parametrize("status", [S.PROVISIONING, S.RUNNING, S.FAILED])
def test_stop_moves_to_stopping_and_publishes(
    api: Api, platform: Platform, bus: RecordingBus, status: S
) -> None:
    workshop = api.create()
    set_status(platform, workshop["id"], status)

    response = api.call("POST", f"/api/workshops/{workshop['id']}/stop")

    assert response.status == 202
    assert response.json()["workshop"]["status"] == "stopping"
    assert bus.types() == [WORKSHOP_STOP_REQUESTED]


@pytest.mark.parametrize("status", [S.CREATED, S.STOPPED])
def test_stop_in_the_wrong_state_is_409(
    api: Api, platform: Platform, bus: RecordingBus, status: S
) -> None:
    workshop = api.create()
    set_status(platform, workshop["id"], status)

    response = api.call("POST", f"/api/workshops/{workshop['id']}/stop")

    assert response.status == 409
    assert response.json()["error"]["status"] == status.value
    assert bus.events == []


def test_stop_with_the_bus_down_stays_stopping_and_a_retry_republishes(
    api: Api, platform: Platform, bus: RecordingBus
) -> None:
    workshop = api.create()
    set_status(platform, workshop["id"], S.RUNNING)
    bus.fail_with(TransientError("pubsub unavailable"))

    assert api.call("POST", f"/api/workshops/{workshop['id']}/stop").status == 503
    stored = platform.store.get_workshop(workshop["id"])
    assert stored is not None and stored.status == S.STOPPING

    retried = api.call("POST", f"/api/workshops/{workshop['id']}/stop")
    assert retried.status == 202
    assert bus.types() == [WORKSHOP_STOP_REQUESTED]


# ------------------------------------------------------------------- seats and usage


def test_seats_lists_claimed_seats(api: Api, running: dict) -> None:
    joined = api.join(running["code"]).json()

    seats = api.call("GET", f"/api/workshops/{running['id']}/seats")

    assert seats.status == 200
    [seat] = seats.json()["seats"]
    assert set(seat) == {"seat", "host", "joined_at", "last_seen", "display_name"}
    assert (seat["seat"], seat["host"]) == (joined["seat"], 0)


def test_usage_reports_each_seat_and_totals(api: Api, platform: Platform, running: dict) -> None:
    platform.store.put_seat_usage(
        running["id"],
        {
            1: {"requests": 2, "input_tokens": 100, "output_tokens": 10, "cost_usd": 0.25},
            3: {"requests": 1, "input_tokens": 50, "cache_read_input_tokens": 7, "cost_usd": 0.5},
        },
    )

    usage = api.call("GET", f"/api/workshops/{running['id']}/usage").json()

    assert [row["seat"] for row in usage["seats"]] == [1, 3]
    assert usage["seats"][1]["cache_read_input_tokens"] == 7
    assert usage["seats"][0]["cache_creation_input_tokens"] == 0
    assert usage["totals"]["requests"] == 3
    assert usage["totals"]["input_tokens"] == 150
    assert usage["totals"]["cost_usd"] == pytest.approx(0.75)


def test_usage_of_an_unknown_workshop_is_404(api: Api) -> None:
    assert api.call("GET", "/api/workshops/wnope/usage").status == 404


# ------------------------------------------------------------------ shadow token


def test_shadow_token_is_an_instructor_token_for_that_workshop(
    api: Api, platform: Platform, running: dict
) -> None:
    response = api.call("POST", f"/api/workshops/{running['id']}/shadow-token")

    assert response.status == 200
    grant = response.json()
    key = signing_key(platform.secrets, platform.settings.jwt_key_secret)
    claims = verify_token(
        grant["token"],
        keys={key.kid: key.public_key},
        issuer=platform.settings.jwt_issuer,
        workshop_id=running["id"],
    )
    assert claims.is_instructor and claims.seat is None
    assert claims.subject == "instructor:local-admin"
    assert [h["endpoint"] for h in grant["hosts"]] == [
        "http://127.0.0.1:9100", "http://127.0.0.1:9101",
    ]  # fmt: skip


def test_shadow_token_for_a_workshop_that_is_not_live_is_409(api: Api) -> None:
    workshop = api.create()
    response = api.call("POST", f"/api/workshops/{workshop['id']}/shadow-token")
    assert response.status == 409
    assert response.json()["error"]["status"] == "created"


# ------------------------------------------------------------------ model access


def test_model_access_calls_the_gateway_service(
    api: Api, running: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    import types

    calls: list[tuple[str, bool]] = []
    module = types.ModuleType("shared.services.model_access")
    module.set_model_access = lambda platform, workshop, paused: calls.append(  # type: ignore[attr-defined]
        (workshop.id, paused)
    )
    monkeypatch.setitem(sys.modules, "shared.services.model_access", module)

    response = api.call("POST", f"/api/workshops/{running['id']}/model-access", {"paused": True})

    assert response.status == 200, response.json()
    assert calls == [(running["id"], True)]
    assert response.json()["workshop"]["id"] == running["id"]


def test_model_access_with_the_real_service_stores_the_switch(api: Api, platform: Platform) -> None:
    workshop = api.create()
    force_running(platform, workshop["id"], base_port=free_port())  # hosts: nothing listens

    paused = api.call("POST", f"/api/workshops/{workshop['id']}/model-access", {"paused": True})

    assert paused.status == 200  # the fan-out is best effort; the stored switch is the truth
    assert paused.json()["workshop"]["model_paused"] is True
    resumed = api.call("POST", f"/api/workshops/{workshop['id']}/model-access", {"paused": False})
    assert resumed.json()["workshop"]["model_paused"] is False


@pytest.mark.parametrize("body", [{}, {"paused": "yes"}, {"paused": 1}, {"paused": True, "x": 1}])
def test_model_access_refuses_bad_bodies(api: Api, running: dict, body: dict) -> None:
    response = api.call("POST", f"/api/workshops/{running['id']}/model-access", body)
    assert response.status == 400


def test_seat_requests_are_not_visible_in_another_workshops_seats(
    api: Api, platform: Platform
) -> None:
    first, second = api.create(), api.create()
    stored = force_running(platform, first["id"])
    platform.store.assign_seat(stored, SeatRequest("hash"))
    assert api.call("GET", f"/api/workshops/{second['id']}/seats").json() == {"seats": []}
