"""``POST /api/workshops/{id}/broadcast``: stored, told to every live host, plain text only."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shared.bootstrap import Platform
from shared.services import broadcast as broadcast_service
from tests.api.conftest import Api


def test_a_broadcast_is_stored_for_later_joiners(
    api: Api, platform: Platform, running: dict[str, Any]
) -> None:
    response = api.call(
        "POST", f"/api/workshops/{running['id']}/broadcast", {"message": "  Break until 11  "}
    )

    assert response.status == 200, response.json()
    sent = response.json()["broadcast"]
    assert sent["message"] == "Break until 11" and sent["by"] == "local-admin"
    stored = platform.store.get_workshop(running["id"])
    assert stored is not None and stored.broadcast == sent
    room = api.call("GET", f"/api/workshops/{running['id']}/room").json()
    assert room["broadcast"] == sent
    # The fake endpoints of ``running`` are not listening: reported, never a failure.
    assert response.json()["hosts"] == {"0": False, "1": False}


def test_a_learner_who_joins_later_gets_the_broadcast_without_its_sender(
    api: Api, running: dict[str, Any]
) -> None:
    """Even on a host that never got the fan-out (one that came up later): the join response
    carries it, and the page shows the newer of that and its host's copy."""
    sent = api.call(
        "POST", f"/api/workshops/{running['id']}/broadcast", {"message": "Break until 11"}
    ).json()["broadcast"]
    grant = api.join(running["code"]).json()
    assert grant["broadcast"] == {"message": "Break until 11", "sent_at": sent["sent_at"]}


def test_every_live_host_is_told_with_an_instructor_token(
    api: Api, platform: Platform, running: dict[str, Any]
) -> None:
    seen: list[httpx.Request] = []

    def host(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    client = httpx.Client(transport=httpx.MockTransport(host))
    from shared.auth.instructor import Instructor

    result = broadcast_service.broadcast(
        platform, Instructor("local-admin", True), running["id"], "<b>hi</b>",
        platform.store.get_workshop(running["id"]).created_at,  # type: ignore[union-attr]
        client=client,
    )  # fmt: skip

    assert result.hosts == {0: True, 1: True}
    assert sorted(str(r.url) for r in seen) == [
        "http://127.0.0.1:9100/control/broadcast", "http://127.0.0.1:9101/control/broadcast",
    ]  # fmt: skip
    assert all(r.headers["Authorization"].startswith("Bearer ey") for r in seen)
    assert b'"message":"<b>hi</b>"' in seen[0].content.replace(b" ", b"")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"message": ""}, "message: must be between 1 and 500 characters"),
        ({"message": " \n "}, "message: must be between 1 and 500 characters"),
        ({"message": "x" * 501}, "message: must be between 1 and 500 characters"),
        ({"message": 7}, "message:"),
        ({}, "message:"),
    ],
)
def test_empty_or_over_long_broadcasts_are_400(
    api: Api, platform: Platform, running: dict[str, Any], body: dict[str, Any], message: str
) -> None:
    response = api.call("POST", f"/api/workshops/{running['id']}/broadcast", body)

    assert response.status == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and error["message"].startswith(message)
    stored = platform.store.get_workshop(running["id"])
    assert stored is not None and stored.broadcast is None


def test_unknown_workshop_is_404(api: Api) -> None:
    response = api.call("POST", "/api/workshops/wnope/broadcast", {"message": "hi"})
    assert response.status == 404


# ------------------------------------------------------------------------ release a seat
def test_a_released_seat_is_free_and_its_reconnect_code_is_dead(
    api: Api, platform: Platform, running: dict[str, Any]
) -> None:
    joined = api.join(running["code"]).json()
    path = f"/api/workshops/{running['id']}/release-seat"

    response = api.call("POST", path, {"seat": joined["seat"]})

    assert response.status == 200, response.json()
    assert response.json() == {"seat": joined["seat"], "host": 0, "host_told": False}
    assert platform.store.list_seats(running["id"]) == []
    rejoin = api.join(running["code"], reconnect_code=joined["reconnect_code"])
    assert rejoin.status in (400, 404), rejoin.json()
    again = api.call("POST", path, {"seat": joined["seat"]})
    assert again.status == 404
    assert again.json()["error"] == {
        "code": "seat_not_claimed",
        "message": f"seat {joined['seat']} is free: there is nobody to release",
    }


def test_release_tells_only_the_seats_host(
    api: Api, platform: Platform, running: dict[str, Any]
) -> None:
    from datetime import UTC, datetime

    from shared.auth.instructor import Instructor
    from shared.services import seat_actions

    for _ in range(7):
        api.join(running["code"], ip=f"198.51.100.{_ + 10}")
    seen: list[httpx.Request] = []
    client = httpx.Client(
        transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200, json={}))
    )
    now = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)

    released = seat_actions.release_seat(
        platform, Instructor("local-admin", True), running["id"], 7, now, client=client
    )

    assert (released.host, released.host_told) == (1, True)
    assert [str(r.url) for r in seen] == ["http://127.0.0.1:9101/control/seats/7/release"]
    assert seen[0].content.replace(b" ", b"") == b'{"issued_before":%d}' % int(now.timestamp())


@pytest.mark.parametrize(
    ("seat", "status", "code"),
    [(0, 404, "unknown_seat"), (11, 404, "unknown_seat"), ("1", 400, "invalid_request")],
)
def test_unknown_seats_are_refused_in_plain_words(
    api: Api, running: dict[str, Any], seat: object, status: int, code: str
) -> None:
    response = api.call("POST", f"/api/workshops/{running['id']}/release-seat", {"seat": seat})
    assert response.status == status
    assert response.json()["error"]["code"] == code
    if code == "unknown_seat":
        assert response.json()["error"]["message"] == (
            f"seat {seat} is not a seat of this workshop (seats 1-10)"
        )


# -------------------------------------------------------------------------- reset a seat
def test_reset_is_sent_to_the_seats_host_only(api: Api, platform: Platform, running: dict) -> None:
    from shared.auth.instructor import Instructor
    from shared.services import seat_actions

    seen: list[httpx.Request] = []
    client = httpx.Client(
        transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(200, json={}))
    )
    reset = seat_actions.reset_seat(
        platform, Instructor("local-admin", True), running["id"], 3, client=client
    )
    assert (reset.seat, reset.host) == (3, 0)
    assert [str(r.url) for r in seen] == ["http://127.0.0.1:9100/control/seats/3/reset"]


def test_reset_with_an_unreachable_host_is_503_not_a_silent_success(
    api: Api, running: dict
) -> None:
    response = api.call("POST", f"/api/workshops/{running['id']}/reset-seat", {"seat": 2})
    assert response.status == 503
    assert response.json()["error"]["message"] == (
        "seat 2's host could not be reached; nothing was reset"
    )
    unknown = api.call("POST", f"/api/workshops/{running['id']}/reset-seat", {"seat": 99})
    assert unknown.status == 404 and unknown.json()["error"]["code"] == "unknown_seat"
