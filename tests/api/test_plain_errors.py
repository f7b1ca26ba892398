"""Create-workshop errors speak to the instructor, not in validator wording (issue 14 §10)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import API_KEY, Api

BASE = {"name": "Intro", "seats": 10, "api_key": API_KEY}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"seats": 0}, "seats: must be between 1 and 500"),
        ({"seats": 501}, "seats: must be between 1 and 500"),
        ({"seats": "10"}, "seats: must be a whole number"),
        ({"seats": 2.5}, "seats: must be a whole number"),
        ({"name": ""}, "name: must not be empty"),
        ({"name": "x" * 101}, "name: must be at most 100 characters"),
        ({"api_key": "not-a-key"}, "api_key: does not look like an Anthropic API key (sk-ant-...)"),
        ({"seat_per_host": 5}, "seat_per_host: is not a field of this request"),
        ({"name": None}, "name: must be text"),
    ],
)
def test_create_errors_are_plain_words(api: Api, change: dict[str, Any], message: str) -> None:
    response = api.call("POST", "/api/workshops", {**BASE, **change})
    assert response.status == 400
    assert response.json()["error"]["message"] == message


def test_a_missing_field_is_named(api: Api) -> None:
    response = api.call("POST", "/api/workshops", {"name": "Intro", "api_key": API_KEY})
    assert response.json()["error"]["message"] == "seats: is required"
