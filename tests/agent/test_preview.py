"""App preview through a real agent (workspace_agent/preview/, docs/preview.md).

Every test drives a real seat: the learner's server is started from the seat's terminal
(inside bubblewrap, in the seat's own network namespace built by pasta, for ``isolated``),
and the test reaches it only through the agent, sending the preview origin as ``Host``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import psutil
import pytest

from shared.auth.tokens import SigningKey
from tests.agent.preview_support import PreviewAgent, start_preview_agent
from tests.support.net import free_port, port_open
from tests.support.wait import async_wait_for
from workspace_agent.preview.proxy import AUTH_PATH

SERVERS = Path(__file__).with_name("seat_servers.py")


def _require_isolation() -> None:
    for tool in ("bwrap", "pasta"):
        if shutil.which(tool) is None:
            if os.environ.get("CI") == "true":
                pytest.fail(f"{tool} is not installed")
            pytest.skip(f"{tool} is not installed")


@pytest.fixture(params=["isolated", "isolated-tmux", "none"])
async def agent(
    request: pytest.FixtureRequest, signing_key: SigningKey
) -> AsyncIterator[PreviewAgent]:
    """``isolated``: sandboxed seats in their own network namespaces (buffered shells, or
    tmux's); ``none``: unsandboxed seats on the machine's network (a direct connection)."""
    network, _, backend = request.param.partition("-")
    if network == "isolated":
        _require_isolation()
    async for running in start_preview_agent(signing_key, network, backend or "buffered"):
        yield running


@pytest.fixture
async def isolated(signing_key: SigningKey) -> AsyncIterator[PreviewAgent]:
    _require_isolation()
    async for running in start_preview_agent(signing_key, "isolated"):
        yield running


async def start_server(agent: PreviewAgent, seat: int, port: int | None = None) -> int:
    """The learner starts ``seat_servers.py`` from their terminal; returns its port."""
    port = port or free_port()
    work = agent.settings.workspace(seat)
    shutil.copy(SERVERS, work / "servers.py")
    term = await agent.terminal(seat)
    await term.type(f"python3 servers.py {port} &\r")
    await async_wait_for(
        lambda: (work / f"server-{port}.ready").exists(), timeout=20, message="the seat's server"
    )
    await term.ws.close()
    return port


async def wait_listed(agent: PreviewAgent, seat: int, port: int) -> None:
    async def listed() -> bool:
        return port in await agent.ports(seat)

    await async_wait_for(listed, timeout=20, interval=0.05, message=f"port {port} listed")


async def test_a_learner_opens_their_server_through_the_preview(agent: PreviewAgent) -> None:
    port = await start_server(agent, 1)
    await wait_listed(agent, 1, port)
    if agent.settings.bwrap:
        assert not port_open("127.0.0.1", port), "the seat's server is published on the host"

    status, body = await agent.open_url(1, port, agent.learner(1))
    assert status == 200, body
    assert body["origin"] == f"http://p{port}-s1-ws-test.localhost:{agent.port}"
    assert body["url"].startswith(body["origin"] + AUTH_PATH + "?code=")
    code_path = body["url"][len(body["origin"]) :]
    resp = await agent.preview_get(agent.host(1, port), code_path)
    assert resp.status == 303 and resp.headers["Location"] == "/"
    set_cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie and "Path=/" in set_cookie
    assert "Domain" not in set_cookie and "Max-Age" not in set_cookie
    morsel = next(iter(resp.cookies.values()))
    cookie = f"{morsel.key}={morsel.value}"
    assert morsel.value not in code_path and agent.learner(1) != morsel.value

    again = await agent.preview_get(agent.host(1, port), code_path)
    assert again.status == 401, "a one-time code worked twice"

    echoed = await agent.preview_get(
        agent.host(1, port), "/headers", headers={"Cookie": f"{cookie}; theme=dark"}
    )
    assert echoed.status == 200
    headers = await echoed.json()
    assert headers["Host"] == agent.host(1, port)
    assert headers["Cookie"] == "theme=dark", "the preview cookie reached the seat's server"

    page = await agent.preview_get(agent.host(1, port), "/page", cookie)
    assert page.status == 200 and "learner app" in await page.text()


async def test_python_http_server_through_the_preview(agent: PreviewAgent) -> None:
    """The stock ``python3 -m http.server`` (HTTP/1.0: the body ends with the connection)."""
    port = free_port()
    work = agent.settings.workspace(1)
    (work / "hello.html").write_text("<h1>static hello</h1>")
    term = await agent.terminal(1)
    await term.type(f"python3 -m http.server {port} --bind 127.0.0.1 &\r")
    await wait_listed(agent, 1, port)
    cookie = await agent.login(1, port)
    for path, expected in (("/", "Directory listing for /"), ("/hello.html", "static hello")):
        resp = await asyncio.wait_for(agent.preview_get(agent.host(1, port), path, cookie), 10)
        assert resp.status == 200 and expected in await resp.text(), path


async def test_the_preview_refuses_other_seats_other_ports_and_strangers(
    isolated: PreviewAgent,
) -> None:
    agent = isolated
    port = await start_server(agent, 1)
    other = await start_server(agent, 2, port)  # seat 2 runs a server on the same port
    cookie = await agent.login(1, port)
    assert (await agent.preview_get(agent.host(1, port), "/headers", cookie)).status == 200

    # The cookie of seat 1's preview is refused at seat 2's, and at another port of seat 1.
    assert (await agent.preview_get(agent.host(2, other), "/headers", cookie)).status == 401
    assert (await agent.preview_get(agent.host(1, port + 1), "/headers", cookie)).status == 401
    # Another learner: no cookie, and their token cannot open seat 1's port.
    stranger = await agent.preview_get(agent.host(1, port), "/headers")
    assert stranger.status == 401
    assert stranger.headers["X-ClaraTeach-Preview-Error"] == "unauthorized"
    status, body = await agent.open_url(1, port, agent.learner(2))
    assert status == 403 and body["error"]["code"] == "wrong_seat"
    seat2_cookie = await agent.login(2, other)
    assert (await agent.preview_get(agent.host(1, port), "/headers", seat2_cookie)).status == 401
    # A bearer token is no way in either.
    bearer = {"Authorization": f"Bearer {agent.learner(1)}"}
    assert (await agent.preview_get(agent.host(1, port), "/", headers=bearer)).status == 401


async def test_a_learner_token_in_the_url_is_refused(isolated: PreviewAgent) -> None:
    agent = isolated
    port = await start_server(agent, 1)
    cookie = await agent.login(1, port)
    token = agent.learner(1)
    for path in (f"/headers?token={token}", f"{AUTH_PATH}?code={token}", f"/x/{token}/y"):
        resp = await agent.preview_get(agent.host(1, port), path, cookie)
        assert resp.status == 400, path
        assert resp.headers["X-ClaraTeach-Preview-Error"] == "token_in_url"
        assert token not in await resp.text()
    assert (
        await agent.preview_get(agent.host(1, port), "/headers?token=abc", cookie)
    ).status == 200


async def test_the_instructor_opens_a_port_once_the_learner_shares_it(
    isolated: PreviewAgent,
) -> None:
    agent = isolated
    port = await start_server(agent, 1)
    instructor = agent.instructor()
    status, body = await agent.open_url(1, port, instructor)
    assert status == 403 and body["error"]["code"] == "not_shared"
    share = f"/seats/1/preview/ports/{port}/shared"
    status, body = await agent.api("PUT", share, instructor, json={"shared": True})
    assert status == 403, "an instructor shared a learner's port"

    status, _ = await agent.api("PUT", share, agent.learner(1), json={"shared": True})
    assert status == 200
    cookie = await agent.login(1, port, instructor)
    assert (await agent.preview_get(agent.host(1, port), "/headers", cookie)).status == 200
    status, body = await agent.api("GET", "/seats/1/preview/ports", instructor)
    assert (
        status == 200
        and {"port": port, "shared": True}.items()
        <= next(p for p in body["ports"] if p["port"] == port).items()
    )

    status, _ = await agent.api("PUT", share, agent.learner(1), json={"shared": False})
    assert status == 200
    assert (await agent.preview_get(agent.host(1, port), "/headers", cookie)).status == 401
    status, body = await agent.api("PUT", share, agent.learner(1), json={"shared": "yes"})
    assert status == 400 and body["error"]["code"] == "invalid_body"


async def test_a_port_with_no_listener_shows_the_explanatory_page(agent: PreviewAgent) -> None:
    port = free_port()
    cookie = await agent.login(1, port)
    path = "/<script>alert(1)</script>"
    resp = await agent.preview_get(agent.host(1, port), path, cookie)
    if agent.settings.bwrap:  # its own network exists once its shell does
        assert resp.headers["X-ClaraTeach-Preview-Error"] == "no_shell"
    term = await agent.terminal(1)
    await term.type("echo shell-$((6*7))\r")
    await term.read_until(r"shell-42", timeout=20)
    resp = await agent.preview_get(agent.host(1, port), path, cookie)
    text = await resp.text()
    assert resp.status == 502 and resp.content_type == "text/html"
    assert (
        f"nothing is listening on port {port} in your seat; start your server with "
        "<code>--host 0.0.0.0</code> or <code>127.0.0.1</code>" in text
    )
    assert "<script" not in text and "default-src 'none'" in resp.headers["Content-Security-Policy"]


async def test_agent_routes_and_preview_origins_never_mix(isolated: PreviewAgent) -> None:
    agent = isolated
    port = await start_server(agent, 1)
    _, body = await agent.open_url(1, port, agent.learner(1))
    code_path = body["url"][len(body["origin"]) :]
    # On the agent's own origin the preview does not exist (and the code is not spent).
    async with agent.session.get(agent.url + code_path, allow_redirects=False) as resp:
        assert resp.status == 404
        assert "Set-Cookie" not in resp.headers
    cookie_resp = await agent.preview_get(agent.host(1, port), code_path)
    assert cookie_resp.status == 303
    # On a preview origin the agent's routes do not exist: even with a learner token,
    # /health and the files API answer as the preview (401 without the cookie), never as
    # the agent.
    bearer = {"Authorization": f"Bearer {agent.learner(1)}"}
    for path in ("/health", "/seats/1/files/", f"/seats/1/preview/ports/{port}/open"):
        resp = await agent.preview_get(agent.host(1, port), path, headers=bearer)
        assert resp.status == 401 and resp.content_type == "text/html", path
    # A preview-shaped host for a seat this agent does not serve, or a bad port: 404 page.
    for host in (f"p{port}-s9-ws-test.localhost", "p80-s1-ws-test.localhost",
                 f"p{port}-s01-ws-test.localhost"):  # fmt: skip
        resp = await agent.preview_get(f"{host}:{agent.port}", "/health")
        assert resp.status == 404 and resp.content_type == "text/html", host


async def test_websocket_echo_through_the_preview(agent: PreviewAgent) -> None:
    port = await start_server(agent, 1)
    cookie = await agent.login(1, port)
    async with agent.session.ws_connect(
        agent.url + "/ws", headers={"Host": agent.host(1, port), "Cookie": cookie}
    ) as ws:
        await ws.send_str("hello hmr")
        assert (await ws.receive(timeout=10)).data == "hello hmr"
        await ws.send_bytes(b"\x00\x01" * 40000)
        assert (await ws.receive(timeout=10)).data == b"\x00\x01" * 40000
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await agent.session.ws_connect(agent.url + "/ws", headers={"Host": agent.host(1, port)})
    assert refused.value.status == 401
    # Another preview's page (same site on GCP, so SameSite=Lax would send the cookie) cannot
    # open the WebSocket or post: the Origin must be the preview's own.
    for origin in (f"http://{agent.host(2, port)}", "null", agent.url):
        with pytest.raises(aiohttp.WSServerHandshakeError) as foreign:
            await agent.session.ws_connect(
                agent.url + "/ws",
                headers={"Host": agent.host(1, port), "Cookie": cookie, "Origin": origin},
            )
        assert foreign.value.status == 403, origin
    own = {"Host": agent.host(1, port), "Cookie": cookie, "Origin": f"http://{agent.host(1, port)}"}
    async with agent.session.ws_connect(agent.url + "/ws", headers=own) as ws:
        await ws.send_str("same origin")
        assert (await ws.receive(timeout=10)).data == "same origin"
    async with agent.session.post(agent.url + "/upload", data=b"x", headers=own) as resp:
        assert resp.status == 200
    foreign_post = {**own, "Origin": f"http://{agent.host(2, port)}"}
    async with agent.session.post(agent.url + "/upload", data=b"x", headers=foreign_post) as resp:
        assert resp.status == 403


async def test_a_1_gib_streamed_response_keeps_the_agent_within_memory_bounds(
    isolated: PreviewAgent,
) -> None:
    agent = isolated
    port = await start_server(agent, 1)
    cookie = await agent.login(1, port)
    me = psutil.Process()
    before, peak, received = me.memory_info().rss, 0, 0
    async with agent.session.get(
        agent.url + "/stream?mb=1024", headers={"Host": agent.host(1, port), "Cookie": cookie}
    ) as resp:
        assert resp.status == 200 and "Content-Length" not in resp.headers
        async for chunk in resp.content.iter_chunked(1024 * 1024):
            received += len(chunk)
            if received % (64 * 1024 * 1024) < len(chunk):
                peak = max(peak, me.memory_info().rss)
    peak = max(peak, me.memory_info().rss)
    assert received == 1024 * 1024 * 1024
    growth = peak - before
    assert growth < 96 * 1024 * 1024, f"agent + client grew by {growth / 2**20:.0f} MiB"


async def test_preview_limits(signing_key: SigningKey) -> None:
    _require_isolation()
    limits = {"preview_max_concurrency": 2, "preview_max_request_bytes": 1024,
              "preview_idle_timeout": 1, "preview_max_response_bytes": 3 * 1024 * 1024}  # fmt: skip
    async for agent in start_preview_agent(signing_key, "isolated", **limits):
        port = await start_server(agent, 1)
        cookie = await agent.login(1, port)
        host = {"Host": agent.host(1, port), "Cookie": cookie}
        # Request size: 413 before anything reaches the seat.
        async with agent.session.post(agent.url + "/upload", data=b"x" * 2048, headers=host) as r:
            assert r.status == 413
        async with agent.session.post(agent.url + "/upload", data=b"x" * 512, headers=host) as r:
            assert r.status == 200 and (await r.json())["received"] == 512
        # Idle: a server that never answers gets a 504 page after the idle timeout.
        async with agent.session.get(agent.url + "/hang", headers=host) as r:
            assert r.status == 504
        # Response size: cut off at the limit.
        with pytest.raises(aiohttp.ClientPayloadError):
            async with agent.session.get(agent.url + "/stream?mb=8", headers=host) as r:
                await r.read()
        # Concurrency: two WebSockets in flight, a third request gets 503.
        first = await agent.session.ws_connect(agent.url + "/ws", headers=host)
        second = await agent.session.ws_connect(agent.url + "/ws", headers=host)
        async with agent.session.get(agent.url + "/headers", headers=host) as r:
            assert r.status == 503
        await first.close()
        await second.close()

        async def served(agent: PreviewAgent = agent, host: dict[str, str] = host) -> bool:
            # The slots come back once the sockets are closed.
            async with agent.session.get(agent.url + "/headers", headers=host) as r:
                return r.status == 200

        await async_wait_for(served, timeout=10, interval=0.05, message="slots freed")
