"""A stand-in for ``clarateach local up`` for developing the web client in isolation:
the built client, a fake ``/api/join`` and a *real* ``python -m workspace_agent``.

Use it when the full platform is unavailable (``CLARATEACH_E2E_PLATFORM=stub``); the real
platform is the default for the e2e suite. It knows one running workshop (``STUB_CODE``),
hands out seats in order, mints real RS256 learner tokens and serves their JWKS, so the
agent verifies them exactly as it would in production.

Run by hand:  .venv/bin/python -m tests.e2e.stub_platform  (prints the URL and code).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from shared.auth.tokens import SigningKey, issue_token, jwks
from tests.support.net import free_port
from tests.support.wait import wait_for

STUB_CODE = "CLAUDE-STUB"
STUB_WORKSHOP_ID = "wstubstub22"
STUB_WORKSHOP_NAME = "Stub workshop"
ISSUER = "clarateach-stub"


@dataclass
class _Seats:
    total: int
    taken: dict[int, str] = field(default_factory=dict)  # seat -> reconnect code
    nonces: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def claim(self, nonce: str | None) -> tuple[int, str] | None:
        with self.lock:
            if nonce and nonce in self.nonces:
                seat = self.nonces[nonce]
                return seat, self.taken[seat]
            free = [s for s in range(1, self.total + 1) if s not in self.taken]
            if not free:
                return None
            seat = free[0]
            self.taken[seat] = "".join(
                secrets.choice("ABCDEFGHJKMNPQRSTUVWXYZ23456789") for _ in range(6)
            )
            if nonce:
                self.nonces[nonce] = seat
            return seat, self.taken[seat]

    def find(self, reconnect_code: str) -> int | None:
        with self.lock:
            return next((s for s, c in self.taken.items() if c == reconnect_code.upper()), None)


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def create_stub_app(
    web_dist: Path, key: SigningKey, seats: _Seats, agent_url: list[str]
) -> web.Application:
    async def join(request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "invalid_json", "body must be JSON")
        code = str(body.get("code", "")).upper().replace(" ", "").replace("-", "")
        if code != STUB_CODE.replace("-", ""):
            return _error(404, "workshop_not_available", "no running workshop has that code")
        if body.get("reconnect_code"):
            seat = seats.find(str(body["reconnect_code"]))
            if seat is None:
                return _error(404, "invalid_reconnect_code", "reconnect code does not match")
            reconnect = seats.taken[seat]
        else:
            claimed = seats.claim(body.get("client_nonce"))
            if claimed is None:
                return _error(409, "workshop_full", "every seat is taken")
            seat, reconnect = claimed
        token = issue_token(
            key, issuer=ISSUER, workshop_id=STUB_WORKSHOP_ID, host=0, seat=seat, ttl_seconds=3600
        )
        return web.json_response(
            {
                "token": token,
                "endpoint": agent_url[0],
                "seat": seat,
                "reconnect_code": reconnect,
                "workshop": {"id": STUB_WORKSHOP_ID, "name": STUB_WORKSHOP_NAME},
            }
        )

    async def jwks_json(_: web.Request) -> web.Response:
        return web.json_response(jwks([key]))

    async def events(_: web.Request) -> web.Response:
        return web.Response(status=204)  # the agent's host.ready etc.: accepted, ignored

    async def config(_: web.Request) -> web.Response:
        return web.json_response({"apiBaseUrl": ""})

    async def index(_: web.Request) -> web.FileResponse:
        return web.FileResponse(web_dist / "index.html")

    app = web.Application()
    app.router.add_post("/api/join", join)
    app.router.add_get("/api/jwks.json", jwks_json)
    app.router.add_post("/events", events)
    app.router.add_get("/config.json", config)
    app.router.add_get("/", index)
    app.router.add_static("/assets", web_dist / "assets")
    return app


@dataclass
class StubPlatform:
    url: str
    code: str
    agent_url: str


@contextmanager
def stub_platform(
    state_dir: Path, web_dist: Path, seats: int = 30, content_dir: Path | None = None
) -> Iterator[StubPlatform]:
    """Serve the stub on a free port with a real agent for ``seats`` seats (with the content
    pack in ``content_dir``, if given)."""
    import asyncio

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    key = SigningKey.generate()
    agent_url: list[str] = [""]
    app = create_stub_app(web_dist, key, _Seats(seats), agent_url)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)

    async def serve() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()

    # Set up on the stub's own thread: the caller's thread may already run a loop
    # (Playwright's sync API does, once a browser fixture is up).
    thread = threading.Thread(target=loop.run_forever, name="stub-platform", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(serve(), loop).result(timeout=30)

    agent_state = state_dir / "agent"
    env = {
        **os.environ,
        "CLARATEACH_AGENT_WORKSHOP_ID": STUB_WORKSHOP_ID,
        "CLARATEACH_AGENT_HOST_INDEX": "0",
        "CLARATEACH_AGENT_SEATS": f"1-{seats}",
        "CLARATEACH_AGENT_ISSUER": ISSUER,
        "CLARATEACH_AGENT_JWKS_URL": f"{url}/api/jwks.json",
        "CLARATEACH_AGENT_STATE_DIR": str(agent_state),
        "CLARATEACH_AGENT_RUNTIME": "local",
        "CLARATEACH_AGENT_PORT": "0",
        "CLARATEACH_AGENT_ALLOWED_ORIGINS": url,
        "CLARATEACH_AGENT_EVENTS": f"local:{url}/events",
        "CLARATEACH_AGENT_GATEWAY": "false",
    }
    if content_dir is not None:
        env["CLARATEACH_AGENT_CONTENT_DIR"] = str(content_dir)
    log_path = state_dir / "agent.out"
    with log_path.open("wb") as log:
        agent = subprocess.Popen(
            [sys.executable, "-m", "workspace_agent"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        endpoint_file = agent_state / "agent-endpoint"
        agent_url[0] = wait_for(
            lambda: endpoint_file.read_text().strip() if endpoint_file.is_file() else "",
            timeout=30,
            message=f"the agent to listen (log: {log_path})",
        )
        yield StubPlatform(url=url, code=STUB_CODE, agent_url=agent_url[0])
    finally:
        agent.terminate()
        try:
            agent.wait(timeout=15)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait(timeout=5)
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=15)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()


if __name__ == "__main__":
    import signal
    import tempfile

    root = Path(__file__).resolve().parents[2]
    with (
        tempfile.TemporaryDirectory() as tmp,
        stub_platform(Path(tmp), root / "web" / "dist") as stub,
    ):
        # Block the signals first so sigwait receives them and the agent is cleaned up.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        print(json.dumps({"url": stub.url, "code": stub.code, "agent": stub.agent_url}), flush=True)
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
