"""The local platform's aiohttp app: web client files, config.json, the /api bridge, reconciler."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from clarateach.local_app import create_app, resolve_static
from shared.bootstrap import Platform, bootstrap
from shared.settings import Settings
from tests.support.fakes import MemorySecrets, NullCompute, RecordingBus
from tests.support.wait import async_wait_for

ORIGIN = "http://127.0.0.1:8080"


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    settings = Settings(mode="local", state_dir=tmp_path / "state", allowed_origins=(ORIGIN,))
    built = bootstrap(settings, bus=RecordingBus(), compute=NullCompute(), secrets=MemorySecrets())
    yield built
    built.close()


@pytest.fixture
def web_dir(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>ClaraTeach</title>")
    (root / "assets" / "app-1234.js").write_text("console.log('app')")
    (root / "config.json").write_text(json.dumps({"apiBaseUrl": "https://gcp", "theme": "x"}))
    (tmp_path / "secret.txt").write_text("outside the web root")
    (root / "leak.txt").symlink_to(tmp_path / "secret.txt")
    return root


@pytest.fixture
def client(aiohttp_client, platform: Platform, web_dir: Path):
    return aiohttp_client(create_app(platform, web_dir))


# --------------------------------------------------------------------------- web
async def test_the_web_client_is_served_at_the_root(client) -> None:
    c = await client
    response = await c.get("/")
    assert response.status == 200
    assert "ClaraTeach" in await response.text()
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_fingerprinted_assets_are_cached_forever(client) -> None:
    c = await client
    response = await c.get("/assets/app-1234.js")
    assert response.status == 200
    assert "immutable" in response.headers["Cache-Control"]


async def test_client_routes_get_the_app_and_missing_assets_a_404(client) -> None:
    c = await client
    route = await c.get("/workspace?code=CLAUDE-AB23")
    assert route.status == 200 and "ClaraTeach" in await route.text()
    assert (await c.get("/assets/missing.js")).status == 404


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/assets/..%2f..%2fsecret.txt",
        "/leak.txt",
        "/%00",
        "/..%5csecret.txt",
    ],
)
async def test_nothing_outside_the_web_root_is_served(client, path: str) -> None:
    c = await client
    response = await c.get(path)
    assert "outside the web root" not in await response.text()
    assert response.status in (200, 400, 404)  # 200 only as the app's index.html


@pytest.mark.parametrize(
    "tail",
    ["../secret.txt", "/etc/passwd", "leak.txt", "assets/../../secret.txt", "a\x00b", "", "."],
)
def test_resolve_static_never_leaves_the_root(web_dir: Path, tail: str) -> None:
    assert resolve_static(web_dir.resolve(), tail) is None


def test_resolve_static_finds_real_files(web_dir: Path) -> None:
    root = web_dir.resolve()
    assert resolve_static(root, "assets/app-1234.js") == root / "assets" / "app-1234.js"


async def test_config_json_points_the_client_at_this_origin(client) -> None:
    c = await client
    response = await c.get("/config.json")
    assert response.status == 200
    assert await response.json() == {"apiBaseUrl": "", "theme": "x"}
    assert response.headers["Cache-Control"] == "no-store"


async def test_an_unbuilt_client_explains_how_to_build_it(
    aiohttp_client, platform: Platform, tmp_path: Path
) -> None:
    c = await aiohttp_client(create_app(platform, tmp_path / "nothing-here"))
    response = await c.get("/")
    assert response.status == 503
    assert "npm run build" in await response.text()
    assert (await c.get("/api/health")).status == 200  # the API works regardless


# --------------------------------------------------------------------------- API
async def test_api_routes_go_through_the_real_router(client, platform: Platform) -> None:
    c = await client
    health = await c.get("/api/health")
    assert health.status == 200 and await health.json() == {"status": "ok"}
    unknown = await c.get("/api/nope")
    assert unknown.status == 404
    assert (await unknown.json())["error"]["code"] == "not_found"
    anonymous = await c.get("/api/workshops")
    assert anonymous.status == 401
    from shared.auth.instructor import ensure_admin_token

    token = ensure_admin_token(platform.settings)
    listed = await c.get("/api/workshops", headers={"Authorization": f"Bearer {token}"})
    assert listed.status == 200 and (await listed.json())["workshops"] == []


async def test_an_oversized_body_is_a_json_413(client) -> None:
    c = await client
    response = await c.post("/api/join", data=b"x" * (10 * 1024 * 1024))
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "payload_too_large"


async def _in_pieces(body: bytes, size: int = 1024):
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def test_a_body_arriving_in_many_segments_is_read_whole() -> None:
    """``StreamReader.read(n)`` returns what is buffered; the handler must keep reading."""
    from types import SimpleNamespace
    from unittest import mock

    from aiohttp import StreamReader

    from shared.http_body import read_capped

    loop = asyncio.get_running_loop()
    stream = StreamReader(mock.Mock(_reading_paused=False), 2**16, loop=loop)
    body = b'{"padding": "' + b"x" * 40_000 + b'"}'
    pieces = [body[i : i + 1000] for i in range(0, len(body), 1000)]
    stream.feed_data(pieces[0])

    def feed(rest: list[bytes]) -> None:  # one segment per loop turn, like a slow network
        if rest:
            stream.feed_data(rest[0])
            loop.call_soon(feed, rest[1:])
        else:
            stream.feed_eof()

    loop.call_soon(feed, pieces[1:])
    request = SimpleNamespace(content=stream, content_length=None)
    assert await read_capped(request, 64 * 1024) == body


async def test_an_oversized_chunked_body_without_a_length_is_a_413(client) -> None:
    c = await client
    response = await c.post("/api/join", data=_in_pieces(b"x" * (1024 * 1024), 16 * 1024))
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "payload_too_large"


async def test_cors_only_for_the_platforms_own_origins(client) -> None:
    c = await client
    ours = await c.options(
        "/api/join", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"}
    )
    assert ours.headers.get("Access-Control-Allow-Origin") == ORIGIN
    foreign = await c.get("/api/health", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in foreign.headers


async def test_the_api_runs_off_the_event_loop(
    aiohttp_client, platform: Platform, web_dir: Path
) -> None:
    from functions.wire import ApiRequest, ApiResponse

    threads: list[str] = []

    def router(p: Platform, request: ApiRequest) -> ApiResponse:
        threads.append(threading.current_thread().name)
        return ApiResponse(200, b"{}", {"Content-Type": "application/json"})

    c = await aiohttp_client(create_app(platform, web_dir, router=router))
    assert (await c.get("/api/anything")).status == 200
    assert threads and threads[0].startswith("api")


# --------------------------------------------------------------------- reconciler
async def test_the_reconciler_runs_periodically_until_cleanup(
    aiohttp_client, platform: Platform, web_dir: Path
) -> None:
    runs: list[Platform] = []
    app = create_app(platform, web_dir, reconcile_every=0.01, reconcile=runs.append)
    c = await aiohttp_client(app)
    await async_wait_for(lambda: len(runs) >= 3, timeout=5, message="three reconciler runs")
    assert all(p is platform for p in runs)
    await c.close()
    assert not any(t.get_name() == "reconciler" and not t.done() for t in asyncio.all_tasks())


async def test_a_failing_reconciler_run_does_not_stop_the_schedule(
    aiohttp_client, platform: Platform, web_dir: Path
) -> None:
    calls: list[int] = []

    def flaky(p: Platform) -> None:
        calls.append(1)
        raise RuntimeError("store hiccup")

    c = await aiohttp_client(create_app(platform, web_dir, reconcile_every=0.01, reconcile=flaky))
    await async_wait_for(lambda: len(calls) >= 3, timeout=5, message="runs after failures")
    await c.close()
