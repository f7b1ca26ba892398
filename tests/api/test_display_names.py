"""A learner's optional display name at join (docs/cockpit.md, *Names*): at most 40
characters once trimmed, control characters refused, kept on the seat, shown in the seat list
and the room; a rejoin with the reconnect code keeps it or, with a new name, updates it."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from shared.adapters.sqlite_store import SqliteStore
from shared.bootstrap import Platform
from tests.api.conftest import Api


def _seats(api: Api, workshop_id: str) -> list[dict[str, Any]]:
    response = api.call("GET", f"/api/workshops/{workshop_id}/seats")
    assert response.status == 200
    seats: list[dict[str, Any]] = response.json()["seats"]
    return seats


def test_the_name_given_at_join_is_shown_trimmed_in_seats_and_room(
    api: Api, running: dict[str, Any]
) -> None:
    payload = "<img src=x onerror=alert(1)>"
    joined = api.join(running["code"], display_name=f"  {payload}  ")
    assert joined.status == 200, joined.json()

    assert [s["display_name"] for s in _seats(api, running["id"])] == [payload]
    room = api.call("GET", f"/api/workshops/{running['id']}/room").json()
    assert room["seats"][joined.json()["seat"] - 1]["claim"]["display_name"] == payload


def test_a_name_is_optional_and_blank_means_none(api: Api, running: dict[str, Any]) -> None:
    api.join(running["code"], ip="198.51.100.2")
    api.join(running["code"], ip="198.51.100.3", display_name="   ")

    assert [s["display_name"] for s in _seats(api, running["id"])] == [None, None]


def test_a_rejoin_keeps_the_name_or_updates_it(api: Api, running: dict[str, Any]) -> None:
    first = api.join(running["code"], display_name="Ada").json()

    kept = api.join(running["code"], reconnect_code=first["reconnect_code"])
    assert kept.status == 200 and _seats(api, running["id"])[0]["display_name"] == "Ada"

    renamed = api.join(
        running["code"], reconnect_code=first["reconnect_code"], display_name="Ada L."
    )
    assert renamed.json()["seat"] == first["seat"]
    assert _seats(api, running["id"])[0]["display_name"] == "Ada L."


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("x" * 41, "display_name: must be at most 40 characters"),
        ("Ada\nLovelace", "display_name: must not contain control characters"),
        ("Ada\x1b[31m", "display_name: must not contain control characters"),
        ("evil\u202eman", "display_name: must not contain control characters"),
    ],
)
def test_bad_names_are_refused_in_plain_words_and_no_seat_is_taken(
    api: Api, platform: Platform, running: dict[str, Any], name: str, message: str
) -> None:
    response = api.join(running["code"], display_name=name)

    assert response.status == 400
    assert response.json()["error"]["code"] == "invalid_request"
    assert response.json()["error"]["message"] == message
    assert platform.store.list_seats(running["id"]) == []


def test_forty_characters_after_trimming_are_fine(api: Api, running: dict[str, Any]) -> None:
    assert api.join(running["code"], display_name="  " + "é" * 40 + "  ").status == 200


def test_a_name_that_is_not_text_is_400(api: Api, running: dict[str, Any]) -> None:
    response = api.join(running["code"], display_name=42)
    assert response.status == 400 and response.json()["error"]["field"] == "display_name"


def test_an_older_database_gets_the_display_name_column(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:  # the seats table as it was before display names
        conn.execute(
            "CREATE TABLE seats (workshop_id TEXT NOT NULL, number INTEGER NOT NULL,"
            " host_index INTEGER NOT NULL, reconnect_hash TEXT NOT NULL,"
            " client_nonce_hash TEXT, joined_at TEXT NOT NULL, last_seen TEXT NOT NULL,"
            " PRIMARY KEY (workshop_id, number)) WITHOUT ROWID"
        )
        conn.execute(
            "INSERT INTO seats VALUES ('w1', 1, 0, 'rh', NULL,"
            " '2026-12-02T10:00:00.000000+00:00', '2026-12-02T10:00:00.000000+00:00')"
        )

    store = SqliteStore(path)

    assert [s.display_name for s in store.list_seats("w1")] == [None]
    assert store.rename_seat("w1", 1, "Ada") and store.list_seats("w1")[0].display_name == "Ada"
