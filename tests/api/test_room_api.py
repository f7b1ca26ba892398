"""The cockpit's one aggregated poll, ``GET /api/workshops/{id}/room`` (docs/cockpit.md)."""

from __future__ import annotations

from typing import Any

import pytest

from functions.http import ROUTES
from shared.bootstrap import Platform
from tests.api.conftest import Api

INSTRUCTOR_ROUTES = [r for r in ROUTES if r.instructor]


def _room(api: Api, workshop_id: str) -> dict[str, Any]:
    response = api.call("GET", f"/api/workshops/{workshop_id}/room")
    assert response.status == 200, response.json()
    assert response.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


def test_every_seat_has_a_tile_with_claim_usage_and_budget(
    api: Api, platform: Platform, running: dict[str, Any]
) -> None:
    policy = {"defaults": {"budget_usd": 2.0}, "seat_overrides": {"3": {"budget_usd": None}}}
    workshop_id = running["id"]
    platform.store.update_workshop(
        workshop_id, lambda w: __import__("dataclasses").replace(w, model_policy=policy)
    )
    joined = api.join(running["code"]).json()
    platform.store.put_seat_usage(
        workshop_id,
        {
            joined["seat"]: {
                "requests": 4,
                "input_tokens": 100,
                "output_tokens": 20,
                "cost_usd": 1.7,
            }
        },
    )

    room = _room(api, workshop_id)

    assert [s["seat"] for s in room["seats"]] == list(range(1, 11))
    tile = room["seats"][joined["seat"] - 1]
    assert tile["claimed"] is True
    assert tile["claim"]["host"] == joined["host"]
    assert (tile["requests"], tile["tokens"], tile["cost_usd"]) == (4, 120, 1.7)
    assert (tile["budget_usd"], tile["budget_share"]) == (2.0, 0.85)
    free = room["seats"][2]
    assert free["claimed"] is False and free["claim"] is None
    assert free["budget_usd"] is None and free["budget_share"] is None
    assert room["totals"]["cost_usd"] == 1.7
    assert [h["status"] for h in room["workshop"]["hosts"]] == ["ready", "ready"]
    assert "api_key" not in str(room) and "api_key_ref" not in room["workshop"]


def test_a_running_room_carries_the_cost_so_far(api: Api, running: dict[str, Any]) -> None:
    cost = _room(api, running["id"])["workshop"]["cost"]
    assert set(cost) == {"estimate", "so_far", "final"}


def test_unknown_workshop_is_404(api: Api) -> None:
    response = api.call("GET", "/api/workshops/wnope/room")
    assert response.status == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("route", INSTRUCTOR_ROUTES, ids=lambda r: r.name)
def test_a_learner_token_is_401_on_every_instructor_route(
    api: Api, running: dict[str, Any], route: Any
) -> None:
    """A learner's JWT (valid, signed by this platform) is not an instructor credential."""
    learner_token = api.join(running["code"]).json()["token"]
    path = route.template.replace("{workshop_id}", running["id"])

    response = api.as_(learner_token).call(route.method, path, {"paused": True})

    assert response.status == 401, (route.name, response.json())
    assert response.json()["error"]["code"] == "unauthorized"
