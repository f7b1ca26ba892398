"""The web client's operation -> entry point table is functions/entrypoints.py's, and every
split function answers the web origin's CORS preflight and requests (the cockpit calls each
operation at its own function's URL: web/src/routing.ts)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import functions_framework
import pytest

from functions import entrypoints, runtime, web_table
from functions.entrypoints import SPLIT
from functions.http import ROUTES
from shared.bootstrap import Platform
from tests.api.conftest import ORIGIN

MAIN = str(Path(__file__).resolve().parents[2] / "functions" / "main.py")


def test_the_web_table_is_generated_from_functions_entrypoints() -> None:
    committed = web_table.WEB_TABLE.read_text()
    assert committed == web_table.render(), (
        "web/src/entrypoints.json differs from functions/entrypoints.py: "
        "run `python -m functions.web_table`"
    )
    table = json.loads(committed)["operations"]
    assert table == {route.name: entrypoints.entry_point_of(route.name) for route in ROUTES}


def test_the_check_fails_when_a_route_moves(monkeypatch: pytest.MonkeyPatch) -> None:
    moved = dict(SPLIT)
    root, ops = moved["control"]
    moved["control"] = (root, ops - {"broadcast"})
    moved["workshops"] = (moved["workshops"][0], moved["workshops"][1] | {"broadcast"})
    monkeypatch.setattr(entrypoints, "SPLIT", moved)
    assert web_table.WEB_TABLE.read_text() != web_table.render()


@pytest.fixture
def installed(platform: Platform) -> Iterator[Platform]:
    runtime.set_platform(platform)
    yield platform
    runtime.set_platform(None)


@pytest.mark.usefixtures("installed")
@pytest.mark.parametrize("name", sorted(SPLIT))
def test_each_function_allows_the_web_origin(name: str, admin_token: str) -> None:
    client = functions_framework.create_app(target=name, source=MAIN).test_client()
    route = next(r for r in ROUTES if r.name in entrypoints.operations(name))
    path = route.template.replace("{workshop_id}", "w1").replace("{seat}", "1")
    preflight = client.open(
        path,
        method="OPTIONS",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": route.method,
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert route.method in preflight.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    actual = client.open(
        path,
        method=route.method,
        headers={"Origin": ORIGIN, "Authorization": f"Bearer {admin_token}"},
        data=b"{}",
    )
    assert actual.status_code < 500
    assert actual.headers["Access-Control-Allow-Origin"] == ORIGIN
    foreign = client.open(path, method="OPTIONS", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in foreign.headers
