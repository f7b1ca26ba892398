"""Pause or resume ONE seat's model access: ``POST /api/workshops/{id}/model-access`` with
``{"paused", "seat"}`` (docs/cockpit.md). Stored on the workshop, told to the seat's host only,
logged with the instructor."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shared.auth.instructor import Instructor
from shared.bootstrap import Platform
from shared.services import seat_actions
from shared.services.agent_config import agent_config
from tests.api.conftest import Api


def _access(api: Api, workshop_id: str, body: dict[str, Any]) -> Any:
    return api.call("POST", f"/api/workshops/{workshop_id}/model-access", body)


def test_pausing_a_seat_is_stored_and_shown_on_the_workshop(
    api: Api, platform: Platform, running: dict[str, Any]
) -> None:
    response = _access(api, running["id"], {"paused": True, "seat": 7})

    assert response.status == 200, response.json()
    body = response.json()
    assert (body["seat"], body["paused"], body["host"]) == (7, True, 1)
    assert body["workshop"]["paused_seats"] == [7] and body["workshop"]["model_paused"] is False
    assert platform.store.get_workshop(running["id"]).paused_seats == (7,)  # type: ignore[union-attr]

    _access(api, running["id"], {"paused": True, "seat": 2})
    resumed = _access(api, running["id"], {"paused": False, "seat": 7}).json()
    assert resumed["workshop"]["paused_seats"] == [2]


def test_resuming_every_seat_clears_single_seat_pauses(
    api: Api, platform: Platform, running: dict[str, Any]
) -> None:
    _access(api, running["id"], {"paused": True, "seat": 3})

    body = _access(api, running["id"], {"paused": False}).json()

    assert body["workshop"]["paused_seats"] == [] and body["workshop"]["model_paused"] is False


def test_the_seat_pause_is_told_to_the_seats_host_only(
    platform: Platform, running: dict[str, Any]
) -> None:
    seen: list[httpx.Request] = []
    client = httpx.Client(
        transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200, json={}))
    )

    result = seat_actions.set_seat_model_access(
        platform, Instructor("local-admin", True), running["id"], 7, True, client=client
    )

    assert (result.host, result.host_told) == (1, True)
    assert [str(r.url) for r in seen] == ["http://127.0.0.1:9101/control/model-access"]
    assert seen[0].content.replace(b" ", b"") == b'{"paused":true,"seat":7}'


def test_hosts_started_later_get_their_paused_seats(
    api: Api, platform: Platform, running: dict[str, Any]
) -> None:
    _access(api, running["id"], {"paused": True, "seat": 3})
    _access(api, running["id"], {"paused": True, "seat": 8})
    workshop = platform.store.get_workshop(running["id"])
    assert workshop is not None

    configs = [agent_config(platform.settings, workshop, host) for host in workshop.hosts]

    assert [c["CLARATEACH_AGENT_MODEL_PAUSED_SEATS"] for c in configs] == ["3", "8"]


def test_the_action_is_logged_with_the_instructor(
    api: Api, running: dict[str, Any], captured_logs: list[str]
) -> None:
    _access(api, running["id"], {"paused": True, "seat": 4})

    line = next(line for line in captured_logs if "seat model access paused" in line)
    assert '"owner": "local-admin"' in line or '"owner":"local-admin"' in line
    assert '"seat": 4' in line or '"seat":4' in line


@pytest.mark.parametrize(
    ("seat", "status", "code"),
    [(0, 404, "unknown_seat"), (11, 404, "unknown_seat"), ("1", 400, "invalid_request"),
     (True, 400, "invalid_request"), (2.5, 400, "invalid_request")],
)  # fmt: skip
def test_bad_seats_are_refused_in_plain_words_and_nothing_changes(
    api: Api, platform: Platform, running: dict[str, Any], seat: object, status: int, code: str
) -> None:
    response = _access(api, running["id"], {"paused": True, "seat": seat})

    assert response.status == status, response.json()
    assert response.json()["error"]["code"] == code
    if code == "unknown_seat":
        assert response.json()["error"]["message"] == (
            f"seat {seat} is not a seat of this workshop (seats 1-10)"
        )
    assert platform.store.get_workshop(running["id"]).paused_seats == ()  # type: ignore[union-attr]


def test_a_seat_of_another_workshop_is_not_a_seat_of_this_one(
    api: Api, platform: Platform, running: dict[str, Any]
) -> None:
    small = api.create(seats=2)
    response = _access(api, small["id"], {"paused": True, "seat": 9})  # seat 9 of `running`

    assert response.status == 404 and response.json()["error"]["code"] == "unknown_seat"
    assert platform.store.get_workshop(running["id"]).paused_seats == ()  # type: ignore[union-attr]
