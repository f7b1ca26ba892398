"""A real ``python -m workspace_agent`` on a free port: JWKS, readiness, host.ready, leaks,
graceful SIGTERM (sockets closed with 1001, no shell or tmux server left behind)."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from shared.auth.tokens import SigningKey, jwks
from tests.agent.conftest import ISSUER, WORKSHOP, Tokens
from tests.agent.terminal_client import Terminal, subprotocols
from tests.support.wait import async_wait_for, wait_for
from workspace_agent.terminal.holder_client import stop_holder

pytestmark = pytest.mark.slow


@dataclass
class Platform:
    """The agent's outside world: a JWKS endpoint and a provisioner push endpoint."""

    server: TestServer
    pushes: list[dict[str, Any]]

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))


@pytest.fixture
async def platform(signing_key: SigningKey) -> AsyncIterator[Platform]:
    pushes: list[dict[str, Any]] = []

    async def jwks_handler(request: web.Request) -> web.Response:
        return web.json_response(jwks([signing_key]))

    async def push_handler(request: web.Request) -> web.Response:
        envelope = await request.json()
        pushes.append(json.loads(base64.b64decode(envelope["message"]["data"])))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_get("/api/jwks.json", jwks_handler)
    app.router.add_post("/push", push_handler)
    server = TestServer(app)
    await server.start_server()
    yield Platform(server, pushes)
    await server.close()


@dataclass
class AgentProcess:
    proc: subprocess.Popen[bytes]
    url: str
    state: Path

    @property
    def ps(self) -> psutil.Process:
        return psutil.Process(self.proc.pid)


@pytest.fixture
def agent_env() -> dict[str, str]:
    """Extra agent environment; tests parametrise it (e.g. the terminal backend)."""
    return {}


@pytest.fixture
async def agent_process(
    tmp_path: Path, platform: Platform, agent_env: dict[str, str]
) -> AsyncIterator[AgentProcess]:
    state = tmp_path / "st"
    env = {
        "PATH": os.environ["PATH"],
        "CLARATEACH_AGENT_WORKSHOP_ID": WORKSHOP,
        "CLARATEACH_AGENT_HOST_INDEX": "0",
        "CLARATEACH_AGENT_SEATS": "1-2",
        "CLARATEACH_AGENT_ISSUER": ISSUER,
        "CLARATEACH_AGENT_JWKS_URL": platform.url("/api/jwks.json"),
        "CLARATEACH_AGENT_STATE_DIR": str(state),
        "CLARATEACH_AGENT_PORT": "0",
        "CLARATEACH_AGENT_EVENTS": f"local:{platform.url('/push')}",
        "CLARATEACH_AGENT_GATEWAY": "false",
        **agent_env,
    }
    log = (tmp_path / "agent.log").open("wb")
    proc = subprocess.Popen(  # noqa: ASYNC220 - returns at once; a long-running server
        [sys.executable, "-m", "workspace_agent"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    marker = state / "agent-endpoint"
    try:
        await async_wait_for(
            lambda: marker.exists() or proc.poll() is not None,
            timeout=30,
            message="agent endpoint file",
        )
        assert proc.poll() is None, (tmp_path / "agent.log").read_text()
        agent = AgentProcess(proc, marker.read_text().strip(), state)

        async def ready() -> bool:
            async with aiohttp.ClientSession() as s, s.get(agent.url + "/readyz") as resp:
                return resp.status == 200

        await async_wait_for(ready, timeout=30, message="agent /readyz")
        yield agent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        stop_holder(state)  # the default buffered backend's shells live in the holder
        log.close()


def live_children(ps: psutil.Process, recursive: bool = True) -> set[int]:
    pids = set()
    for child in ps.children(recursive=recursive):
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                pids.add(child.pid)
        except psutil.NoSuchProcess:
            continue
    return pids


async def connect(session: aiohttp.ClientSession, url: str, token: str) -> Any:
    ws = await session.ws_connect(url + "/seats/1/terminal", protocols=subprotocols(token))
    hello = await ws.receive(timeout=10)
    assert json.loads(hello.data)["type"] == "hello"
    return ws


async def test_announces_host_ready_with_its_endpoint(
    agent_process: AgentProcess, platform: Platform
) -> None:
    await async_wait_for(lambda: platform.pushes, timeout=20, message="host.ready pushed")
    (event,) = [p for p in platform.pushes if p["type"] == "host.ready"]
    assert event["workshop_id"] == WORKSHOP
    assert event["data"]["endpoint"] == agent_process.url
    assert event["data"]["host_index"] == 0 and "seats_ready_s" in event["data"]["timings"]


TMUX = {"CLARATEACH_AGENT_TERMINAL_BACKEND": "tmux"}
# Without the terminal holder: the shells are the agent's children (test_terminal_restart.py
# covers the default, held shells).
BUFFERED = {
    "CLARATEACH_AGENT_TERMINAL_BACKEND": "buffered",
    "CLARATEACH_AGENT_SHELL_HOLDER": "false",
}


@pytest.mark.parametrize(
    ("agent_env", "children", "what"),
    [(BUFFERED, 1, "seat 1's shell"), (TMUX, 2, "the two seats' tmux servers")],
    ids=["buffered", "tmux"],
)
async def test_a_hundred_connect_cycles_leak_no_fds_or_processes(
    agent_process: AgentProcess, tokens: Tokens, children: int, what: str
) -> None:
    token = tokens.learner(1)
    ps = agent_process.ps
    async with aiohttp.ClientSession() as session:
        # The baseline is taken with the shell idle at its prompt: while a login shell starts
        # it briefly runs children of its own (profile scripts), which are not ours to count.
        first = await Terminal.open_url(session, agent_process.url, 1, token)
        await first.type("echo settled-$((6*7))\r")
        await first.read_until("settled-42", timeout=20)
        await first.close()

        def settled_to(baseline: tuple[int, set[int]] | None = None) -> Any:
            # Fewer fds than the baseline is fine: the first socket may still have been
            # closing when it was taken. A leak over 100 cycles shows as growth.
            now = (ps.num_fds(), live_children(ps))
            if baseline is None:
                return now
            return now[0] <= baseline[0] and now[1] == baseline[1]

        await async_wait_for(
            lambda: len(live_children(ps, recursive=False)) == children,
            message=f"only {what}",
        )
        baseline = settled_to()
        for _ in range(100):
            ws = await connect(session, agent_process.url, token)
            await ws.close()
        try:
            await async_wait_for(lambda: settled_to(baseline), timeout=20)
        except AssertionError as exc:
            raise AssertionError(f"agent not back to {baseline}: now {settled_to()}") from exc


@pytest.mark.parametrize("agent_env", [TMUX])
async def test_tmux_sigterm_closes_sockets_with_1001_and_leaves_no_tmux(
    agent_process: AgentProcess, tokens: Tokens
) -> None:
    tmux_servers = live_children(agent_process.ps, recursive=False)
    assert tmux_servers and all("tmux" in psutil.Process(p).name() for p in tmux_servers)
    async with aiohttp.ClientSession() as session:
        ws = await connect(session, agent_process.url, tokens.learner(1))
        agent_process.proc.send_signal(signal.SIGTERM)
        while (await ws.receive(timeout=10)).type not in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSED,
            aiohttp.WSMsgType.CLOSING,
        ):
            pass
        assert ws.close_code == 1001
    assert agent_process.proc.wait(timeout=15) == 0
    wait_for(
        lambda: (
            not any(
                psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
                for p in tmux_servers
            )
        ),
        timeout=10,
        message="tmux servers gone",
    )
    sock = agent_process.state / "seats" / "1" / "tmux.sock"
    probe = subprocess.run(["tmux", "-S", str(sock), "has-session"], capture_output=True)  # noqa: ASYNC221
    assert probe.returncode != 0


async def _shells_after_connect(agent: AgentProcess, token: str) -> tuple[Any, set[int]]:
    """Open a terminal (which starts the buffered backend's shell); its pids."""
    session = aiohttp.ClientSession()
    ws = await connect(session, agent.url, token)

    def bash_children() -> set[int]:
        found = set()
        for pid in live_children(agent.ps, recursive=False):
            try:  # a just-forked child is still "python"/"setsid" until it execs bash
                if psutil.Process(pid).name() == "bash":
                    found.add(pid)
            except psutil.NoSuchProcess:
                continue
        return found

    shells = await async_wait_for(bash_children, message="the seat's shell")
    return (session, ws), shells


def _gone(pids: set[int]) -> bool:
    return not any(
        psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids
    )


@pytest.mark.parametrize("agent_env", [BUFFERED])
async def test_buffered_without_holder_sigterm_closes_sockets_and_hangs_up_every_shell(
    agent_process: AgentProcess, tokens: Tokens
) -> None:
    (session, ws), shells = await _shells_after_connect(agent_process, tokens.learner(1))
    agent_process.proc.send_signal(signal.SIGTERM)
    while (await ws.receive(timeout=10)).type not in (
        aiohttp.WSMsgType.CLOSE,
        aiohttp.WSMsgType.CLOSED,
        aiohttp.WSMsgType.CLOSING,
    ):
        pass
    assert ws.close_code == 1001
    await session.close()
    assert agent_process.proc.wait(timeout=15) == 0
    wait_for(lambda: _gone(shells), timeout=10, message="shells gone")


@pytest.mark.parametrize("agent_env", [BUFFERED])
async def test_buffered_without_holder_agent_crash_ends_the_shells_too(
    agent_process: AgentProcess, tokens: Tokens
) -> None:
    """``CLARATEACH_AGENT_SHELL_HOLDER=false``: nothing keeps the PTYs, the kernel hangs the
    shells up."""
    (session, _ws), shells = await _shells_after_connect(agent_process, tokens.learner(1))
    agent_process.proc.send_signal(signal.SIGKILL)
    agent_process.proc.wait(timeout=15)
    await session.close()
    wait_for(lambda: _gone(shells), timeout=10, message="shells hung up by the kernel")
