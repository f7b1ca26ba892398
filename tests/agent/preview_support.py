"""A real agent (real bubblewrap, pasta and PTYs) on a TCP port, for the app preview tests,
and a client that talks to its preview origins (``Host`` set by hand, cookies by hand)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from shared.auth.tokens import SigningKey, issue_token
from tests.agent.terminal_client import Terminal
from tests.support.wait import async_wait_for
from workspace_agent.app import CONTEXT, create_app
from workspace_agent.preview import PREVIEW
from workspace_agent.settings import AgentSettings
from workspace_agent.terminal.holder_client import stop_holder

WORKSHOP = "ws-test"
ISSUER = "https://api.test"


@dataclass
class PreviewAgent:
    url: str
    port: int
    settings: AgentSettings
    app: web.Application
    session: aiohttp.ClientSession
    key: SigningKey

    def learner(self, seat: int) -> str:
        return issue_token(self.key, issuer=ISSUER, workshop_id=WORKSHOP, host=0, seat=seat)

    def instructor(self) -> str:
        return issue_token(
            self.key, issuer=ISSUER, workshop_id=WORKSHOP, host=None, seat=None,
            role="instructor", subject="instructor:t@example.com",
        )  # fmt: skip

    def host(self, seat: int, port: int) -> str:
        return f"{self.app[PREVIEW].origins.host(seat, port)}:{self.port}"

    async def terminal(self, seat: int) -> Terminal:
        term = await Terminal.open_url(self.session, self.url, seat, self.learner(seat))
        await term.resize(200, 40)
        return term

    async def api(self, method: str, path: str, token: str, **kw: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"}
        async with self.session.request(method, self.url + path, headers=headers, **kw) as r:
            return r.status, await r.json(content_type=None)

    async def ports(self, seat: int) -> list[int]:
        status, body = await self.api("GET", f"/seats/{seat}/preview/ports", self.learner(seat))
        assert status == 200, body
        return [p["port"] for p in body["ports"] if p["listening"]]

    async def open_url(self, seat: int, port: int, token: str) -> tuple[int, Any]:
        return await self.api("POST", f"/seats/{seat}/preview/ports/{port}/open", token)

    async def preview_get(
        self, host: str, path: str = "/", cookie: str | None = None, **kw: Any
    ) -> aiohttp.ClientResponse:
        """A request to the agent with ``Host: host`` (the response is read; caller checks)."""
        headers = {"Host": host, **kw.pop("headers", {})}
        if cookie:
            headers["Cookie"] = cookie
        resp = await self.session.get(self.url + path, headers=headers, allow_redirects=False, **kw)
        await resp.read()
        return resp

    async def login(self, seat: int, port: int, token: str | None = None) -> str:
        """Open the preview as the seat's learner (or ``token``'s owner): the cookie header."""
        status, body = await self.open_url(seat, port, token or self.learner(seat))
        assert status == 200, body
        path = body["url"].split(f":{self.port}", 1)[1]
        resp = await self.preview_get(self.host(seat, port), path)
        assert resp.status == 303, resp.status
        morsel = next(iter(resp.cookies.values()))
        return f"{morsel.key}={morsel.value}"


async def start_preview_agent(
    key: SigningKey, seat_network: str, backend: str = "buffered", **overrides: Any
) -> AsyncIterator[PreviewAgent]:
    state_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"ctpv-{os.getpid()}-{id(overrides)}"
    state_dir.mkdir(mode=0o700)
    sock = socket.create_server(("127.0.0.1", 0))
    sock.setblocking(False)
    port = sock.getsockname()[1]
    settings = AgentSettings(
        workshop_id=WORKSHOP, host_index=0, seats=(1, 2), issuer=ISSUER, state_dir=state_dir,
        port=port, public_url=f"http://127.0.0.1:{port}", gateway=False,
        bwrap=seat_network != "none", terminal_backend=backend, **overrides,
        seat_network="host" if seat_network == "none" else seat_network,
    )  # fmt: skip
    app = create_app(settings, keys={key.kid: key.public_key})
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        ctx = app[CONTEXT]
        await async_wait_for(lambda: ctx.readiness.ready, timeout=30, message="seats ready")
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
            yield PreviewAgent(f"http://127.0.0.1:{port}", port, settings, app, session, key)
    finally:
        await runner.cleanup()
        await asyncio.to_thread(stop_holder, state_dir)
        shutil.rmtree(state_dir, ignore_errors=True)
