"""Change the model policy while the workshop runs: ``POST /api/workshops/{id}/model-policy``
(docs/cockpit.md). Validated in plain words, stored (hosts started later get it), sent to every
live host, logged with the instructor."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from shared.auth.instructor import Instructor
from shared.bootstrap import Platform
from shared.services import model_policy_change
from shared.services.agent_config import agent_config
from tests.api.conftest import Api


def _change(api: Api, workshop_id: str, policy: object) -> Any:
    return api.call("POST", f"/api/workshops/{workshop_id}/model-policy", {"model_policy": policy})


def test_a_new_policy_is_stored_and_given_to_hosts_started_later(
    api: Api, platform: Platform, running: dict[str, Any]
) -> None:
    policy = {"defaults": {"budget_usd": 2.5, "requests_per_minute": 10},
              "seat_overrides": {"3": {"budget_usd": 5}}}  # fmt: skip

    response = _change(api, running["id"], policy)

    assert response.status == 200, response.json()
    body = response.json()
    assert body["workshop"]["model_policy"]["defaults"]["budget_usd"] == 2.5
    assert body["hosts"] == {"0": False, "1": False}  # nothing listens on the test hosts
    stored = platform.store.get_workshop(running["id"])
    assert stored is not None
    host_policy = json.loads(
        agent_config(platform.settings, stored, stored.hosts[0])["CLARATEACH_AGENT_MODEL_POLICY"]
    )
    assert host_policy["defaults"]["requests_per_minute"] == 10
    assert host_policy["seat_overrides"]["3"]["budget_usd"] == 5
    room = api.call("GET", f"/api/workshops/{running['id']}/room").json()
    assert [s["budget_usd"] for s in room["seats"][:3]] == [2.5, 2.5, 5]


def test_the_policy_is_sent_to_every_live_host(platform: Platform, running: dict) -> None:
    seen: list[httpx.Request] = []
    client = httpx.Client(
        transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200, json={}))
    )
    policy = {"defaults": {"budget_usd": 1.0}}

    changed = model_policy_change.change_model_policy(
        platform, Instructor("local-admin", True), running["id"], policy, client=client
    )

    assert changed.hosts == {0: True, 1: True}
    assert sorted(str(r.url) for r in seen) == [
        "http://127.0.0.1:9100/control/model-policy",
        "http://127.0.0.1:9101/control/model-policy",
    ]
    assert json.loads(seen[0].content) == {"model_policy": policy}
    assert all(r.headers["Authorization"].startswith("Bearer ") for r in seen)


def test_the_change_is_logged_with_the_instructor(
    api: Api, running: dict[str, Any], captured_logs: list[str]
) -> None:
    _change(api, running["id"], {"defaults": {"budget_usd": 3}})

    line = next(line for line in captured_logs if "model policy changed" in line)
    assert "local-admin" in line and running["id"] in line


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"defaults": {"requests_per_minute": 0}},
         "model_policy.defaults.requests_per_minute: must be at least 1"),
        ({"defaults": {"budget_usd": -1}}, "model_policy.defaults.budget_usd: must be at least 0"),
        ({"defaults": {"budget_usd": "five"}},
         "model_policy.defaults.budget_usd: must be a number"),
        ({"defaults": {"budgt_usd": 1}},
         "model_policy.defaults.budgt_usd: is not a field of this request"),
        ("cheap", "model_policy: must be an object"),
    ],
)  # fmt: skip
def test_bad_policies_are_refused_in_plain_words_and_nothing_changes(
    api: Api, platform: Platform, running: dict[str, Any], policy: object, message: str
) -> None:
    before = platform.store.get_workshop(running["id"])

    response = _change(api, running["id"], policy)

    assert response.status == 400
    assert response.json()["error"]["message"] == message
    assert platform.store.get_workshop(running["id"]) == before


def test_an_unknown_workshop_is_404(api: Api) -> None:
    response = _change(api, "wnope", {"defaults": {"budget_usd": 1}})
    assert response.status == 404
