"""The whole agent with its gateway and the local runtime, over both terminal backends: the
workshop key is nowhere a learner can look (the seat shell's environment, the tmux server's,
the workspace), the seat's own token is in its environment, and a shell in the seat reaches
the model with it."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from shared.adapters.local_secrets import LocalSecrets
from shared.auth.tokens import SigningKey
from tests.agent.terminal_client import Terminal
from tests.gateway.conftest import ISSUER, WORKSHOP, instructor_token, learner_token
from tests.gateway.fake_upstream import FAKE_KEY, MODEL, FakeAnthropic
from tests.support.wait import async_wait_for
from workspace_agent.app import CONTEXT, GATEWAY, create_app
from workspace_agent.runtimes.local import LocalRuntime
from workspace_agent.settings import AgentSettings
from workspace_agent.terminal.holder_client import stop_holder

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")


@dataclass
class Agent:
    url: str
    app: web.Application
    runtime: LocalRuntime
    state_dir: Path
    backend: str
    signing_key: SigningKey
    session: aiohttp.ClientSession
    terminals: dict[int, Terminal]

    async def terminal(self, seat: int) -> Terminal:
        """The learner's terminal on ``seat``, opened once (it starts a buffered shell) and
        returned only once the shell has run a command. Until then the PID may still be
        exec'ing through the seat launcher and the sandbox, and ``/proc/<pid>/environ`` reads
        empty for a process between two images."""
        if seat not in self.terminals:
            token = learner_token(self.signing_key, seat)
            terminal = await Terminal.open_url(self.session, self.url, seat, token)
            marker = f"up-{secrets.token_hex(4)}"
            await terminal.type(f"echo {marker[:3]}''{marker[3:]}\r")
            await terminal.read_until(marker, timeout=30)
            self.terminals[seat] = terminal
        return self.terminals[seat]

    async def seat_processes(self, seat: int) -> list[int]:
        """The seat's shell and, with tmux, the seat's tmux server."""
        if self.backend == "tmux":
            socket_path = str(self.runtime.socket_path(seat))
            out = subprocess.run(  # noqa: ASYNC221 - tmux answers at once
                ["tmux", "-S", socket_path, "display-message", "-p", "-t", "seat",
                 "#{pane_pid}"], capture_output=True, text=True, check=True, timeout=10,
            )  # fmt: skip
            server = self.runtime.server_pid(seat)
            assert server is not None
            return [int(out.stdout.strip()), server]
        await self.terminal(seat)
        shell = self.app[CONTEXT].shells.get(seat)  # type: ignore[union-attr]
        assert shell is not None
        return [shell.pid]

    async def type_into_seat(self, seat: int, command: str) -> None:
        await (await self.terminal(seat)).type(command + "\r")


@pytest.fixture(params=["buffered", "tmux"])
async def agent(
    request: pytest.FixtureRequest, tmp_path: Path, upstream_url: str, signing_key: SigningKey
) -> AsyncIterator[Agent]:
    # Short paths keep tmux sockets under the UNIX socket limit.
    state_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"ctgw-{os.getpid()}-{id(tmp_path)}"
    state_dir.mkdir(mode=0o700)
    secrets_dir = tmp_path / "secrets"
    key_ref = LocalSecrets(secrets_dir).put("ws-gw-key", FAKE_KEY)
    sock = socket.create_server(("127.0.0.1", 0))
    sock.setblocking(False)
    port = sock.getsockname()[1]
    settings = AgentSettings(
        workshop_id=WORKSHOP, host_index=0, seats=(1, 2), issuer=ISSUER, state_dir=state_dir,
        port=port, public_url=f"http://127.0.0.1:{port}", secrets_url=f"local:{secrets_dir}",
        api_key_ref=key_ref, model_upstream=upstream_url, gateway=True,
        terminal_backend=request.param,
    )  # fmt: skip
    app = create_app(settings, keys={signing_key.kid: signing_key.public_key})
    runner = web.AppRunner(app)
    await runner.setup()
    async with contextlib.AsyncExitStack() as stack:
        try:
            await web.SockSite(runner, sock).start()
            ctx = app[CONTEXT]
            await async_wait_for(lambda: ctx.readiness.ready, timeout=30, message="seats ready")
            assert isinstance(ctx.runtime, LocalRuntime)
            session = await stack.enter_async_context(aiohttp.ClientSession())
            yield Agent(
                f"http://127.0.0.1:{port}", app, ctx.runtime, state_dir, request.param,
                signing_key, session, {},
            )  # fmt: skip
        finally:
            await stack.aclose()
            await runner.cleanup()
            stop_holder(state_dir)  # the held shells end here
            shutil.rmtree(state_dir, ignore_errors=True)


def environ_of(pid: int) -> list[bytes]:
    return Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")


def cmdline_of(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


async def test_the_key_is_not_in_the_seat_environment_but_the_seat_token_is(agent: Agent) -> None:
    gateway = agent.app[GATEWAY]
    for seat in (1, 2):
        token = gateway.tokens.token_for(seat)  # type: ignore[attr-defined]
        for pid in await agent.seat_processes(seat):
            environ = environ_of(pid)
            assert not any(FAKE_KEY.encode() in entry for entry in environ), f"key in pid {pid}"
            assert not any(b"ANTHROPIC_API_KEY" in entry for entry in environ)
            assert f"ANTHROPIC_AUTH_TOKEN={token}".encode() in environ
            assert f"ANTHROPIC_BASE_URL={agent.url}/seats/{seat}/model".encode() in environ
            assert FAKE_KEY.encode() not in cmdline_of(pid)

    for path in agent.state_dir.rglob("*"):
        if path.is_file() and not path.is_socket():
            assert FAKE_KEY.encode() not in path.read_bytes(), path


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
async def test_a_shell_in_the_seat_reaches_the_model_through_the_gateway(
    agent: Agent, fake: FakeAnthropic
) -> None:
    work = agent.state_dir / "seats" / "1" / "work"
    command = (
        'curl -s -H "Authorization: Bearer $ANTHROPIC_AUTH_TOKEN" '
        '"$ANTHROPIC_BASE_URL/v1/models" > models.json'
    )
    await agent.type_into_seat(1, command)

    models = await async_wait_for(
        lambda: MODEL in (work / "models.json").read_text() and (work / "models.json"),
        timeout=20,
        message="curl in the seat to write models.json",
    )
    assert FAKE_KEY not in models.read_text()
    assert fake.requests[-1].headers["x-api-key"] == FAKE_KEY


async def test_the_agent_mounts_the_kill_switch_and_large_model_requests(
    agent: Agent, fake: FakeAnthropic, signing_key: SigningKey
) -> None:
    gateway = agent.app[GATEWAY]
    seat_auth = {"Authorization": f"Bearer {gateway.tokens.token_for(1)}"}  # type: ignore[attr-defined]
    # Claude Code sends long conversations: far above the agent's 64 KiB JSON body limit.
    big = {"model": MODEL, "max_tokens": 8, "messages": [{"role": "user", "content": "x" * 2**20}]}
    control = f"{agent.url}/control/model-access"
    async with aiohttp.ClientSession() as client:
        async with client.post(f"{agent.url}/seats/1/model/v1/messages", json=big,
                               headers=seat_auth) as resp:  # fmt: skip
            assert resp.status == 200
        learner = {"Authorization": f"Bearer {learner_token(signing_key, 1)}"}
        async with client.put(control, json={"paused": True}, headers=learner) as resp:
            assert resp.status == 403
            assert (await resp.json())["error"]["code"] == "forbidden"
        instructor = {"Authorization": f"Bearer {instructor_token(signing_key)}"}
        async with client.put(control, json={"paused": True}, headers=instructor) as resp:
            assert resp.status == 200
        async with client.get(f"{agent.url}/seats/1/model/v1/models", headers=seat_auth) as resp:
            assert resp.status == 429
        async with client.get(f"{agent.url}/control/usage", headers=instructor) as resp:
            assert (await resp.json())["seats"]["1"]["requests"] == 1
    assert len(fake.requests) == 1
