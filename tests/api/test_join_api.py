"""``POST /api/join``: new seats, reconnects, nonces, full and closed workshops, rate limits,
and 200 concurrent joins on 10 seats."""

from __future__ import annotations

import sqlite3
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier
from typing import Any

import pytest

from shared.auth.signing import signing_key
from shared.auth.tokens import verify_token
from shared.bootstrap import Platform
from shared.domain.codes import hash_reconnect_code
from shared.domain.model import WorkshopStatus
from tests.api.conftest import Api, force_running, set_status
from tests.support.fakes import FakeClock

S = WorkshopStatus


def claims_of(platform: Platform, token: str, workshop_id: str) -> Any:
    key = signing_key(platform.secrets, platform.settings.jwt_key_secret)
    return verify_token(
        token,
        keys={key.kid: key.public_key},
        issuer=platform.settings.jwt_issuer,
        workshop_id=workshop_id,
    )


def test_join_gives_a_seat_a_token_for_it_and_its_hosts_endpoint(
    api: Api, platform: Platform, running: dict
) -> None:
    response = api.join(running["code"])

    assert response.status == 200
    grant = response.json()
    assert set(grant) == {
        "token", "endpoint", "seat", "host", "reconnect_code", "workshop", "schedule",
        "broadcast",
    }  # fmt: skip
    assert grant["workshop"] == {"id": running["id"], "name": running["name"]}
    assert grant["broadcast"] is None
    assert grant["seat"] == 1 and grant["endpoint"] == "http://127.0.0.1:9100"
    claims = claims_of(platform, grant["token"], running["id"])
    assert (claims.role, claims.seat, claims.host) == ("learner", 1, 0)
    assert claims.expires_at - claims.issued_at == platform.settings.learner_token_ttl_seconds


def test_seats_on_the_second_host_get_its_endpoint(
    api: Api, platform: Platform, running: dict
) -> None:
    grants = [api.join(running["code"]).json() for _ in range(6)]
    sixth = grants[-1]
    assert (sixth["seat"], sixth["host"], sixth["endpoint"]) == (6, 1, "http://127.0.0.1:9101")
    assert claims_of(platform, sixth["token"], running["id"]).host == 1


@pytest.mark.parametrize("typed", ["{code}", "{lower}", " {spaced} ", "{nodash}", "{bare}"])
def test_codes_are_normalised(api: Api, running: dict, typed: str) -> None:
    code = running["code"]
    suffix = code.removeprefix("CLAUDE-")
    variants = {
        "code": code,
        "lower": code.lower(),
        "spaced": f"claude {suffix[:2]} {suffix[2:]}",
        "nodash": f"CLAUDE{suffix}",
        "bare": suffix.lower(),
    }
    assert api.join(typed.format(**variants)).status == 200


def test_reconnect_returns_the_same_seat_with_a_new_token(
    api: Api, platform: Platform, running: dict
) -> None:
    first = api.join(running["code"]).json()
    api.join(running["code"])

    again = api.join(running["code"], reconnect_code=first["reconnect_code"].lower())

    assert again.status == 200
    grant = again.json()
    assert grant["seat"] == first["seat"]
    assert grant["token"] != first["token"]
    assert grant["reconnect_code"] == first["reconnect_code"]
    assert len(platform.store.list_seats(running["id"])) == 2


def test_a_wrong_reconnect_code_is_404_and_claims_nothing(
    api: Api, platform: Platform, running: dict
) -> None:
    api.join(running["code"])
    for code in ("ZZZZZZ", "not a code", "x"):
        response = api.join(running["code"], reconnect_code=code)
        assert response.status == 404
        assert response.json()["error"]["code"] == "invalid_reconnect_code"
    assert len(platform.store.list_seats(running["id"])) == 1


def test_a_reconnect_code_works_only_for_its_own_workshop(
    api: Api, platform: Platform, running: dict
) -> None:
    other = api.create()
    force_running(platform, other["id"])
    grant = api.join(running["code"]).json()

    response = api.join(other["code"], reconnect_code=grant["reconnect_code"])

    assert response.status == 404
    assert response.json()["error"]["code"] == "invalid_reconnect_code"


def test_reconnect_codes_are_stored_only_as_hashes(
    api: Api, platform: Platform, running: dict
) -> None:
    grant = api.join(running["code"]).json()
    platform.store.close()

    dump = "\n".join(sqlite3.connect(platform.settings.database_path).iterdump())

    assert grant["reconnect_code"] not in dump
    assert hash_reconnect_code(running["id"], grant["reconnect_code"]) in dump


def test_the_same_client_nonce_gets_the_same_seat_and_reconnect_code(
    api: Api, platform: Platform, running: dict
) -> None:
    nonce = "b7f3c2a9-0d4e-4b8a-9f61-2c5e8d7a1b30"
    first = api.join(running["code"], client_nonce=nonce).json()
    second = api.join(running["code"], client_nonce=nonce).json()
    other = api.join(running["code"], client_nonce="another-browser-nonce-123").json()

    assert second["seat"] == first["seat"] != other["seat"]
    assert second["reconnect_code"] == first["reconnect_code"] != other["reconnect_code"]
    assert (
        api.join(running["code"], reconnect_code=second["reconnect_code"]).json()["seat"]
        == (first["seat"])
    )
    assert len(platform.store.list_seats(running["id"])) == 2


@pytest.mark.parametrize("nonce", ["short", "x" * 129, "tab\there-is-sixteen", 12345678901234567])
def test_bad_client_nonces_are_400(api: Api, running: dict, nonce: object) -> None:
    response = api.join(running["code"], client_nonce=nonce)
    assert response.status == 400
    assert response.json()["error"]["field"] == "client_nonce"


def test_a_full_workshop_is_409(api: Api, platform: Platform) -> None:
    workshop = api.create(seats=2)
    force_running(platform, workshop["id"])
    assert [api.join(workshop["code"]).status for _ in range(2)] == [200, 200]

    response = api.join(workshop["code"])

    assert response.status == 409
    assert response.json()["error"]["code"] == "workshop_full"


@pytest.mark.parametrize("status", [S.CREATED, S.PROVISIONING, S.STOPPING, S.STOPPED, S.FAILED])
def test_unknown_and_not_running_codes_get_the_same_refusal(
    api: Api, platform: Platform, running: dict, status: S
) -> None:
    set_status(platform, running["id"], status)

    closed = api.join(running["code"])
    unknown = api.join("CLAUDE-ZZZZ" if running["code"] != "CLAUDE-ZZZZ" else "CLAUDE-YYYY")
    malformed = api.join("hello")

    assert closed.status == unknown.status == malformed.status == 404
    assert closed.body == unknown.body == malformed.body
    assert closed.json()["error"]["code"] == "workshop_not_available"
    assert set(closed.headers) == set(unknown.headers)


@pytest.mark.parametrize(
    "body",
    [{}, {"code": 1234}, {"code": ["CLAUDE-ABCD"]}, {"code": "A" * 65}, {"code": "x", "seat": 3},
     {"code": "x", "reconnect_code": 5}],
)  # fmt: skip
def test_malformed_join_bodies_are_400(api: Api, body: dict) -> None:
    response = api.call("POST", "/api/join", body)
    assert response.status == 400
    assert response.json()["error"]["code"] == "invalid_request"


# ---------------------------------------------------------------------- rate limits


def test_failed_joins_from_one_client_are_throttled_then_recover(
    api: Api, running: dict, clock: FakeClock
) -> None:
    for _ in range(6):  # five free failures, then a lockout
        assert api.join("CLAUDE-ZZZZ", ip="192.0.2.50").status == 404

    limited = api.join(running["code"], ip="192.0.2.50")
    assert limited.status == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    assert api.join(running["code"], ip="192.0.2.51").status == 200  # other clients unaffected

    clock.advance(int(limited.headers["Retry-After"]))
    assert api.join(running["code"], ip="192.0.2.50").status == 200


def test_successful_joins_do_not_spend_the_budget(api: Api, platform: Platform) -> None:
    workshop = api.create(seats=50)
    force_running(platform, workshop["id"])
    assert all(api.join(workshop["code"], ip="192.0.2.9").status == 200 for _ in range(30))


def flood(api: Api, addresses: int, attempts: int, **join: Any) -> Counter[int]:
    """Every address sends ``attempts`` wrong codes at once (no time passes)."""
    statuses: Counter[int] = Counter()
    for i in range(addresses):
        for _ in range(attempts):
            response = api.join(ip=f"10.{i // 250}.{i % 250}.1", **join)
            statuses[response.status] += 1
            if response.status == 429:
                assert int(response.headers["Retry-After"]) >= 1
    return statuses


def test_a_flood_of_wrong_codes_never_refuses_a_correct_join_or_reconnect(
    api: Api, running: dict, clock: FakeClock
) -> None:
    """Once 32 addresses x 10 wrong codes locked every join on the platform out (429)."""
    grant = api.join(running["code"], ip="192.0.2.1").json()

    statuses = flood(api, addresses=100, attempts=10, code="CLAUDE-ZZZZ")

    assert statuses[429] > statuses[404] > 0  # the guessers are slowed, with Retry-After
    assert api.join(running["code"], ip="192.0.2.77").status == 200
    again = api.join(running["code"], ip="192.0.2.78", reconnect_code=grant["reconnect_code"])
    assert again.status == 200 and again.json()["seat"] == grant["seat"]
    attacker = api.join(running["code"], ip="10.0.3.1")  # its own failures lock it out
    assert attacker.status == 429 and int(attacker.headers["Retry-After"]) >= 1


def test_wrong_reconnect_codes_never_lock_a_workshops_reconnects_out(
    api: Api, running: dict, clock: FakeClock
) -> None:
    """Once 3 addresses x 10 wrong reconnect codes locked a workshop's reconnects out."""
    grant = api.join(running["code"], ip="192.0.2.1").json()

    statuses = flood(api, addresses=30, attempts=10, code=running["code"],
                     reconnect_code="ZZZZZZ")  # fmt: skip

    assert statuses[429] > 0 and statuses[404] > 0
    again = api.join(running["code"], ip="192.0.2.2", reconnect_code=grant["reconnect_code"])
    assert again.status == 200 and again.json()["seat"] == grant["seat"]
    assert api.join(running["code"], ip="192.0.2.3").status == 200  # new joins too
    attacker = api.join(running["code"], ip="10.0.0.1", reconnect_code=grant["reconnect_code"])
    assert attacker.status == 429


# ---------------------------------------------------------------------- concurrency


def test_200_concurrent_joins_on_10_seats_give_10_distinct_seats(
    api: Api, platform: Platform
) -> None:
    workshop = api.create(seats=10, seats_per_host=5)
    force_running(platform, workshop["id"])
    start = Barrier(200, timeout=60)  # all 200 released together

    def join(i: int) -> tuple[int, Any]:
        start.wait()
        response = api.join(workshop["code"], ip=f"10.3.{i}.1")
        return response.status, response.json()

    with ThreadPoolExecutor(max_workers=200) as pool:
        results = list(pool.map(join, range(200)))

    statuses = Counter(status for status, _ in results)
    assert statuses == {200: 10, 409: 190}
    seats = sorted(body["seat"] for status, body in results if status == 200)
    assert seats == list(range(1, 11))
    assert {body["error"]["code"] for status, body in results if status == 409} == {"workshop_full"}
    assert [s.number for s in platform.store.list_seats(workshop["id"])] == list(range(1, 11))


def test_a_double_submitted_join_racing_itself_gets_one_seat(
    api: Api, platform: Platform, running: dict
) -> None:
    start = Barrier(20, timeout=30)

    def join(_: int) -> dict:
        start.wait()
        return api.join(running["code"], client_nonce="one-browser-double-click").json()

    with ThreadPoolExecutor(max_workers=20) as pool:
        grants = list(pool.map(join, range(20)))

    assert len({g["seat"] for g in grants}) == 1
    assert len({g["reconnect_code"] for g in grants}) == 1
    assert len(platform.store.list_seats(running["id"])) == 1


def test_a_seat_whose_host_has_no_endpoint_is_503_not_a_dead_endpoint(
    api: Api, platform: Platform, running: dict
) -> None:
    from dataclasses import replace

    platform.store.update_workshop(
        running["id"],
        lambda w: replace(w, hosts=tuple(replace(h, endpoint=None) for h in w.hosts)),
    )

    response = api.join(running["code"])

    assert response.status == 503
    assert response.json()["error"]["code"] == "host_unavailable"
