"""The API key (and tokens) never leak: a full create -> start -> join -> read flow, with every
response body and header and every log line captured, never contains the key; the store
holds only the secret reference."""

from __future__ import annotations

import logging
import sqlite3

import pytest

from functions.wire import ApiResponse
from shared.bootstrap import Platform
from tests.api.conftest import API_KEY, Api, force_running


def _text(response: ApiResponse) -> str:
    return response.body.decode() + repr(response.headers)


def test_the_api_key_never_appears_in_responses_logs_or_the_store(
    api: Api, platform: Platform, captured_logs: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []

    def record(response: ApiResponse) -> ApiResponse:
        seen.append(_text(response))
        return response

    created = record(
        api.call("POST", "/api/workshops", {"name": "Hygiene", "seats": 3, "api_key": API_KEY})
    ).json()["workshop"]
    wid = created["id"]
    record(api.call("GET", "/api/workshops"))
    record(api.call("GET", f"/api/workshops/{wid}"))
    record(api.call("POST", f"/api/workshops/{wid}/start"))
    force_running(platform, wid)
    grant = record(api.join(created["code"], client_nonce="hygiene-nonce-0001")).json()
    record(api.join(created["code"], reconnect_code=grant["reconnect_code"]))
    record(api.call("GET", f"/api/workshops/{wid}/seats"))
    record(api.call("GET", f"/api/workshops/{wid}/usage"))
    record(api.call("POST", f"/api/workshops/{wid}/shadow-token"))
    record(api.call("POST", "/api/workshops", {"name": "x", "seats": 0, "api_key": API_KEY}))
    record(api.call("POST", "/api/workshops", {"name": "x", "seats": 1, "api_key": API_KEY + "!"}))
    record(api.call("POST", f"/api/workshops/{wid}/stop"))
    platform.store.close()
    database = "\n".join(sqlite3.connect(platform.settings.database_path).iterdump())

    assert len(seen) == 12 and captured_logs, "the flow must have produced responses and logs"
    everything = "\n".join([*seen, *captured_logs, caplog.text, database])
    assert API_KEY not in everything
    assert API_KEY[len("sk-ant-") :] not in everything
    logged = "\n".join([*captured_logs])
    assert grant["token"] not in logged
    assert grant["reconnect_code"] not in logged
    assert api.token is not None and api.token not in logged
    assert f"workshop-{wid}-api-key" in database  # only the reference is stored
