"""The split entry points: every route of the one router is served by exactly one split
function (and by ``api``), the union is the all-in-one API with the same OpenAPI document,
and each function answers 404 for every operation it does not own."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import functions_framework
import httpx
import pytest

from clarateach.api_client import ApiClient
from clarateach.api_client import ApiError as ClientApiError
from clarateach.credentials import CredentialsError, resolve_credentials
from functions import entrypoints, main, package, runtime
from functions.entrypoints import SPLIT, entry_point_of
from functions.http import ROUTES, Route
from functions.openapi import openapi_document
from shared.bootstrap import Platform
from tests.api.conftest import API_KEY

MAIN = str(Path(__file__).resolve().parents[2] / "functions" / "main.py")
READ_ONLY = "workshops"


@pytest.fixture
def installed(platform: Platform) -> Iterator[Platform]:
    runtime.set_platform(platform)
    yield platform
    runtime.set_platform(None)


def test_every_route_belongs_to_exactly_one_split_function() -> None:
    names = [route.name for route in ROUTES]
    assigned = [op for _, ops in SPLIT.values() for op in ops]
    assert sorted(assigned) == sorted(names), "assign each new route in functions/entrypoints.py"
    for route in ROUTES:
        assert route.name in entrypoints.operations(entry_point_of(route.name))


def test_the_split_routes_are_the_all_in_one_openapi_document() -> None:
    document = openapi_document()
    documented = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item
    }
    split = {
        (r.method, r.template) for r in ROUTES for ops in (entrypoints.operations(n) for n in SPLIT)
        if r.name in ops
    }  # fmt: skip
    assert split == documented
    operation_ids = {
        op["operationId"] for item in document["paths"].values() for op in item.values()
    }
    assert operation_ids == {op for _, ops in SPLIT.values() for op in ops}


def test_the_read_only_function_serves_only_reads() -> None:
    served = [r for r in ROUTES if r.name in entrypoints.operations(READ_ONLY)]
    assert served and {r.method for r in served} == {"GET"}


def test_join_never_serves_a_route_that_publishes_or_reads_api_keys() -> None:
    assert entrypoints.operations("join_workshop") == {"join"}
    assert entry_point_of("host_events") == entry_point_of("host_credentials") == "hosts"


def test_every_split_entry_point_is_deployed_from_the_package() -> None:
    assert set(SPLIT) | {"api", "provisioner", "reconciler", "certificates"} == set(
        package.ENTRY_POINTS
    )
    for name in package.ENTRY_POINTS:
        assert callable(getattr(main, name)), name


def _concrete(route: Route) -> str:
    return re.sub(r"\{\w+\}", "w1", route.template)


def _served(client: object, route: Route) -> bool:
    response = client.open(_concrete(route), method=route.method, data=b"")  # type: ignore[attr-defined]
    body = response.get_json(silent=True) or {}
    refused = response.status_code in (404, 405) and body.get("error", {}).get("code") in (
        "not_found",
        "method_not_allowed",
    )
    return not refused


@pytest.mark.usefixtures("installed")
@pytest.mark.parametrize("name", [*SPLIT, "api"])
def test_each_entry_point_serves_exactly_its_operations(name: str) -> None:
    """Unauthenticated requests: an owned instructor route answers 401, an owned public route
    its own answer (200, 400, 401), any other route 404 or 405 from the router."""
    client = functions_framework.create_app(target=name, source=MAIN).test_client()
    owned = {r.name for r in ROUTES} if name == "api" else entrypoints.operations(name)
    served = {route.name for route in ROUTES if _served(client, route)}
    assert served == owned


# --------------------------------------------- the CLI's client against the split layout
class _SplitLayout(httpx.BaseTransport):
    """One functions-framework app per split function, each at its own host (like its own
    Cloud Run URL); records which function served each request."""

    def __init__(self) -> None:
        self.apps = {
            name: httpx.WSGITransport(app=functions_framework.create_app(target=name, source=MAIN))
            for name in SPLIT
        }
        self.served: list[tuple[str, str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        name = request.url.host.split(".")[0].replace("-", "_")
        self.served.append((name, request.method, request.url.path))
        return self.apps[name].handle_request(request)


URLS = {name: f"http://{name.replace('_', '-')}.fn.test" for name in SPLIT}


@pytest.mark.usefixtures("installed")
def test_the_cli_client_sends_each_operation_to_its_function(admin_token: str) -> None:
    layout = _SplitLayout()
    client = ApiClient(URLS["workshops"], admin_token, transport=layout, function_urls=URLS)
    created = client.create_workshop("Intro", 4, API_KEY)
    workshop_id = created["id"]
    assert client.list_workshops()["workshops"][0]["id"] == workshop_id
    assert client.get_workshop(workshop_id)["id"] == workshop_id
    client.start_workshop(workshop_id)
    client.seats(workshop_id)
    client.usage(workshop_id)
    for call in (
        lambda: client.change_schedule(workshop_id, {"extend_minutes": 30}),
        lambda: client.shadow_token(workshop_id),
    ):
        try:
            call()
        except ClientApiError as exc:  # a state conflict is fine; a routing refusal is not
            assert exc.code not in ("not_found", "method_not_allowed"), exc
    client.stop_workshop(workshop_id)
    assert client.health() == {"status": "ok"}
    functions = [name for name, _, _ in layout.served]
    assert functions == [
        "create_workshop", "workshops", "workshops", "start_workshop", "workshops",
        "workshops", "control", "control", "stop_workshop", "health",
    ]  # fmt: skip


def test_the_cli_reads_the_terraform_url_map(tmp_path: Path) -> None:
    raw = json.dumps({name: url + "/" for name, url in URLS.items()})
    creds = resolve_credentials(None, "t0ken", tmp_path, function_urls=raw)
    assert creds.function_urls == URLS and creds.api_url == URLS["workshops"]
    single = resolve_credentials("https://api.example", "t0ken", tmp_path, function_urls=raw)
    assert single.function_urls is None and single.api_url == "https://api.example"
    for bad in ("[]", "{}", "not json", '{"workshops": "ftp://x"}', '{"jwks": "https://x"}'):
        with pytest.raises(CredentialsError):
            resolve_credentials(None, "t0ken", tmp_path, function_urls=bad)


@pytest.mark.usefixtures("installed")
def test_the_split_layout_serves_the_all_in_one_openapi_document() -> None:
    (owner,) = [name for name, (_, ops) in SPLIT.items() if "openapi" in ops]
    split = functions_framework.create_app(target=owner, source=MAIN).test_client()
    single = functions_framework.create_app(target="api", source=MAIN).test_client()
    document = split.get("/api/openapi.json").get_json()
    assert document == single.get("/api/openapi.json").get_json() == openapi_document()


def test_every_cli_call_names_an_operation_of_the_router() -> None:
    """So the split layout sends it to the right function: a ``self.request`` call without
    ``operation=`` would go to the ``workshops`` URL and get a 404 there."""
    import ast
    import inspect

    from clarateach import api_client

    tree = ast.parse(inspect.getsource(api_client.ApiClient))
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "request"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "self"
    ]
    assert len(calls) >= 10
    names = {route.name for route in ROUTES}
    for call in calls:
        (operation,) = [k.value for k in call.keywords if k.arg == "operation"]
        assert isinstance(operation, ast.Constant) and operation.value in names, ast.dump(call)


class _ReadOnlyStore:
    """The store as the read-only function's account sees it: reads pass, a write raises."""

    READS = frozenset(
        {"get_workshop", "get_workshop_by_code", "list_workshops", "list_seats"}
        | {"find_seat_by_reconnect", "get_seat_usage", "get_seat_progress", "close"}
    )

    def __init__(self, inner: object) -> None:
        self._inner = inner
        self.refused: list[str] = []

    def __getattr__(self, name: str) -> object:
        if name in self.READS:
            return getattr(self._inner, name)

        def refuse(*args: object, **kwargs: object) -> None:
            self.refused.append(name)
            raise PermissionError(f"datastore.viewer cannot {name}")

        return refuse


def test_the_read_only_function_never_writes_state(platform: Platform, admin_token: str) -> None:
    """What roles/datastore.viewer allows is enough for every route of ``workshops``."""
    runtime.set_platform(platform)
    try:
        create = functions_framework.create_app(target="create_workshop", source=MAIN)
        auth = {"Authorization": f"Bearer {admin_token}"}
        body = {"name": "Intro", "seats": 4, "api_key": API_KEY}
        created = create.test_client().post("/", json=body, headers=auth)
        workshop_id = created.get_json()["workshop"]["id"]
        read_only = _ReadOnlyStore(platform.store)
        platform.store = read_only  # type: ignore[assignment]
        reader = functions_framework.create_app(target=READ_ONLY, source=MAIN).test_client()
        for route in ROUTES:
            if route.name in entrypoints.operations(READ_ONLY):
                path = re.sub(r"\{\w+\}", workshop_id, route.template)
                assert reader.get(path, headers=auth).status_code == 200, route.name
        assert read_only.refused == []
    finally:
        runtime.set_platform(None)
