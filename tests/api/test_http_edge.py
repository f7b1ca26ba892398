"""The HTTP edge through the real functions-framework app: bad input, body limits, routing,
per-function entry points, CORS, and internal errors (JSON, no traceback, redacted logs)."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import functions_framework
import pytest
from flask.testing import FlaskClient

from functions import runtime
from shared.bootstrap import Platform
from tests.api.conftest import API_KEY, ORIGIN, Api

MAIN = str(Path(__file__).resolve().parents[2] / "functions" / "main.py")


@pytest.fixture
def installed(platform: Platform) -> Iterator[Platform]:
    runtime.set_platform(platform)
    yield platform
    runtime.set_platform(None)


def client_for(target: str) -> FlaskClient:
    return functions_framework.create_app(target=target, source=MAIN).test_client()


@pytest.fixture
def app(installed: Platform) -> FlaskClient:
    return client_for("api")


@pytest.fixture
def auth(admin_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {admin_token}"}


def error_of(response: Any) -> dict[str, Any]:
    assert response.mimetype == "application/json", response.data[:200]
    body = response.get_json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"])
    return body["error"]


# ----------------------------------------------------------------------- bad input

CREATE = "/api/workshops"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b"{not json", "body"),
        (b'\xff\xfe{"name": 1}', "body"),
        (b'{"name": "a", "seats": NaN, "api_key": "x"}', "body"),
        (b"[1, 2, 3]", "body"),
        (b'"a string"', "body"),
        (b"null", "body"),
        (b"", "body"),
        (b"[" * 50_000 + b"]" * 50_000, None),  # over the size cap: 413 below
        (b"[" * 30_000 + b"]" * 30_000, "body"),  # deep nesting within the cap
    ],
)
def test_unparseable_bodies_are_400(
    app: FlaskClient, auth: dict[str, str], data: bytes, field: str | None
) -> None:
    response = app.post(CREATE, data=data, headers={**auth, "Content-Type": "application/json"})
    if field is None:
        assert response.status_code == 413
        return
    assert response.status_code == 400
    assert error_of(response)["field"] == field


def test_a_10_mb_body_is_413(app: FlaskClient, auth: dict[str, str]) -> None:
    response = app.post(CREATE, data=b"x" * (10 * 1024 * 1024), headers=auth)
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"


def test_a_large_chunked_body_without_content_length_is_413(
    app: FlaskClient, auth: dict[str, str]
) -> None:
    response = app.post(
        CREATE,
        input_stream=io.BytesIO(b"y" * 200 * 1024),
        headers={**auth, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413


def _create_body(**changes: Any) -> dict[str, Any]:
    return {"name": "Intro", "seats": 10, "api_key": API_KEY, **changes}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"seats": 0}, "seats"),
        ({"seats": -1}, "seats"),
        ({"seats": "10"}, "seats"),
        ({"seats": 10.5}, "seats"),
        ({"seats": 1e9}, "seats"),
        ({"seats": 10**9}, "seats"),
        ({"seats": 501}, "seats"),
        ({"seats": True}, "seats"),
        ({"seats": None}, "seats"),
        ({"seats_per_host": 0}, "seats_per_host"),
        ({"seats_per_host": 51}, "seats_per_host"),
        ({"name": "x" * 101}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "bad\nname"}, "name"),
        ({"name": "bell\x07"}, "name"),
        ({"name": "rtl\u202eevil"}, "name"),
        ({"name": "\ud800"}, "name"),
        ({"name": 42}, "name"),
        ({"api_key": "not-a-key"}, "api_key"),
        ({"api_key": "sk-ant-short"}, "api_key"),
        ({"api_key": "sk-ant-" + "a" * 30 + "; rm -rf /"}, "api_key"),
        ({"api_key": None}, "api_key"),
        ({"unexpected": 1}, "unexpected"),
        ({"\ud800" * 500: 1}, None),
    ],
)
def test_bad_field_values_are_400_naming_the_field(
    app: FlaskClient, auth: dict[str, str], changes: dict[str, Any], field: str | None
) -> None:
    response = app.post(CREATE, data=json.dumps(_create_body(**changes)), headers=auth)

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid_request"
    if field is not None:
        assert error["field"] == field
    else:
        assert len(error["field"]) <= 100
    assert API_KEY not in response.get_data(as_text=True)


def test_missing_fields_are_named(app: FlaskClient, auth: dict[str, str]) -> None:
    response = app.post(CREATE, json={"name": "x", "api_key": API_KEY}, headers=auth)
    assert response.status_code == 400
    assert error_of(response)["field"] == "seats"


def test_a_valid_create_through_the_framework_is_201(
    app: FlaskClient, auth: dict[str, str]
) -> None:
    response = app.post(CREATE, json=_create_body(), headers=auth)
    assert response.status_code == 201
    assert response.get_json()["workshop"]["seats"] == 10


# ------------------------------------------------------------------------- routing


def test_unknown_paths_are_json_404(app: FlaskClient) -> None:
    response = app.get("/api/nope")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_wrong_methods_are_405_with_allow(app: FlaskClient) -> None:
    response = app.delete("/api/workshops")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, OPTIONS, POST"
    assert error_of(response)["code"] == "method_not_allowed"


def test_health_jwks_and_openapi_are_public(app: FlaskClient) -> None:
    assert app.get("/api/health").get_json() == {"status": "ok"}
    keys = app.get("/api/jwks.json").get_json()["keys"]
    assert [(k["kty"], k["alg"], k["use"]) for k in keys] == [("RSA", "RS256", "sig")]
    assert "d" not in keys[0] and "p" not in keys[0]  # public half only
    assert app.get("/api/openapi.json").get_json()["openapi"].startswith("3.")


def test_trailing_slashes_are_tolerated(app: FlaskClient) -> None:
    assert app.get("/api/health/").status_code == 200


@pytest.mark.usefixtures("installed")
def test_per_function_entry_points_serve_only_their_routes(admin_token: str) -> None:
    health, join, jwks = client_for("health"), client_for("join_workshop"), client_for("jwks")
    create, workshops = client_for("create_workshop"), client_for("workshops")
    auth = {"Authorization": f"Bearer {admin_token}"}

    assert health.get("/").get_json() == {"status": "ok"}
    assert health.get("/api/workshops", headers=auth).status_code == 404
    assert jwks.get("/").status_code == 200
    assert join.post("/", json={"code": "CLAUDE-ZZZZ"}).status_code == 404
    assert error_of(join.post("/", json={"code": "CLAUDE-ZZZZ"}))["code"] == (
        "workshop_not_available"
    )
    assert join.get("/api/health").status_code == 404
    assert workshops.post("/", json=_create_body(), headers=auth).status_code == 405
    created = create.post("/", json=_create_body(), headers=auth)
    assert created.status_code == 201
    workshop_id = created.get_json()["workshop"]["id"]
    assert create.get(f"/{workshop_id}", headers=auth).status_code == 404
    assert workshops.get(f"/{workshop_id}", headers=auth).status_code == 200
    assert workshops.post(f"/{workshop_id}/start", headers=auth).status_code == 404
    start = client_for("start_workshop")
    assert start.post(f"/{workshop_id}/stop", headers=auth).status_code == 404
    assert workshops.get(f"/api/workshops/{workshop_id}/seats", headers=auth).status_code == 200


# ---------------------------------------------------------------------------- CORS


def test_an_allowed_origin_is_echoed_exactly(app: FlaskClient) -> None:
    response = app.get("/api/health", headers={"Origin": ORIGIN})
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Origin" in response.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in response.headers


@pytest.mark.parametrize(
    "origin",
    ["https://evil.example", ORIGIN + ".evil.example", ORIGIN.replace("https", "http"),
     ORIGIN + ":8443", "null", ORIGIN.upper()],
)  # fmt: skip
def test_foreign_origins_get_no_cors_headers(app: FlaskClient, origin: str) -> None:
    for response in (
        app.get("/api/health", headers={"Origin": origin}),
        app.post("/api/join", json={"code": "x"}, headers={"Origin": origin}),
        app.options(
            "/api/workshops",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        ),
    ):
        assert "Access-Control-Allow-Origin" not in response.headers
        assert "Access-Control-Allow-Methods" not in response.headers


def test_preflight_allows_authorization_for_allowed_origins(app: FlaskClient) -> None:
    response = app.options(
        "/api/workshops",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    assert "POST" in response.headers["Access-Control-Allow-Methods"]


def test_wildcard_is_never_sent(app: FlaskClient, auth: dict[str, str]) -> None:
    for origin in (ORIGIN, "https://evil.example", "*"):
        for response in (
            app.get("/api/workshops", headers={**auth, "Origin": origin}),
            app.options("/api/join", headers={"Origin": origin}),
        ):
            assert response.headers.get("Access-Control-Allow-Origin") != "*"


# ------------------------------------------------------------------- internal errors


def test_a_forced_internal_error_is_a_bare_json_500_and_the_log_is_redacted(
    app: FlaskClient,
    installed: Platform,
    admin_token: str,
    captured_logs: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    leaked = f"Bearer {admin_token} eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln {API_KEY}"

    def explode(*_: object, **__: object) -> None:
        raise RuntimeError(f"store exploded while holding {leaked}")

    monkeypatch.setattr(installed.store, "list_workshops", explode)
    response = app.get("/api/workshops", headers={"Authorization": f"Bearer {admin_token}"})

    assert response.status_code == 500
    assert response.get_json() == {"error": {"code": "internal", "message": "internal error"}}
    body = response.get_data(as_text=True)
    assert "Traceback" not in body and "exploded" not in body
    output = "".join(captured_logs)
    assert "store exploded" in output and "Traceback" in output  # the bug is diagnosable
    for secret in (admin_token, API_KEY, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"):
        assert secret not in output


def test_model_access_without_the_gateway_module_is_501(
    app: FlaskClient, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    created = app.post(CREATE, json=_create_body(), headers=auth).get_json()["workshop"]
    monkeypatch.setitem(sys.modules, "shared.services.model_access", None)

    response = app.post(
        f"/api/workshops/{created['id']}/model-access", json={"paused": True}, headers=auth
    )

    assert response.status_code == 501
    assert error_of(response)["code"] == "not_implemented"


def test_client_ip_on_gcp_is_the_last_forwarded_hop(
    installed: Platform, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    import flask

    from functions.main import client_ip

    gcp = replace(installed.settings, mode="gcp")
    with flask.Flask(__name__).test_request_context(
        "/",
        headers={"X-Forwarded-For": "6.6.6.6, 203.0.113.9"},
        environ_base={"REMOTE_ADDR": "10.0.0.1"},
    ):
        assert client_ip(flask.request, gcp) == "203.0.113.9"
        assert client_ip(flask.request, installed.settings) == "10.0.0.1"


def test_paths_the_framework_cannot_route_still_get_json_errors(app: FlaskClient) -> None:
    response = app.post("/api/workshops/a%0Ab/stop")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_a_platform_that_cannot_start_is_a_json_500(
    monkeypatch: pytest.MonkeyPatch, captured_logs: list[str]
) -> None:
    runtime.set_platform(None)
    monkeypatch.setenv("CLARATEACH_MODE", "bogus")
    app = client_for("api")

    response = app.get("/api/health")

    assert response.status_code == 500
    assert response.get_json() == {"error": {"code": "internal", "message": "internal error"}}
    assert "CLARATEACH_MODE" in "".join(captured_logs)
