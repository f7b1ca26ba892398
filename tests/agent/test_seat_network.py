"""The network of a sandboxed local seat (``CLARATEACH_AGENT_SEAT_NETWORK``,
``workspace_agent/runtimes/seat_network.py``), tested from inside a real seat.

A whole agent (gateway on, real bubblewrap, real pasta) serves two seats beside the
listeners a local platform has on the same machine: a provisioner push endpoint, the fake
Anthropic upstream, a sibling agent on the IPv6 wildcard, and seat 2's own listener inside
its sandbox. Seat 1's shell then does what a curious learner does: lists every listening
port of the machine (the test hands it the host's ``/proc/net/tcp{,6}``, which it could not
read itself), connects to each over 127.0.0.1 and ::1, reads its own ``/proc/net/tcp``,
calls the gateway with its token, and calls the agent's other routes without one.

Expected: only the agent's port answers (the gateway works; every other route refuses
without credentials); every other port is refused; nothing a seat listens on is reachable
from the host or from another seat; outbound traffic leaves the sandbox: a name resolves and
a TCP connection to it opens (``pypi.org:443``, which the test machine reaches for package
installs; that part is skipped where the machine itself cannot reach it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest
from aiohttp import web

from shared.adapters.local_secrets import LocalSecrets
from shared.auth.tokens import SigningKey
from tests.agent.terminal_client import Terminal
from tests.gateway.conftest import ISSUER, WORKSHOP, learner_token
from tests.gateway.fake_upstream import FAKE_KEY, FakeAnthropic
from tests.support.net import free_port, port_open
from tests.support.wait import async_wait_for
from workspace_agent.app import CONTEXT, create_app
from workspace_agent.runtimes import seat_network
from workspace_agent.runtimes.local import LocalRuntime
from workspace_agent.runtimes.sandbox import sandbox_argv
from workspace_agent.runtimes.seat_network import SeatNetwork, choose_seat_network
from workspace_agent.settings import AgentSettings
from workspace_agent.terminal.holder_client import stop_holder

PROBE = Path(__file__).with_name("seat_probe.py")


def _require(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        message = f"{tool} is not installed (apt-get install {package})"
        if os.environ.get("CI") == "true":
            pytest.fail(message)  # CI installs it: a missing sandbox is a failure, not a skip
        pytest.skip(message)
    return path


@pytest.fixture(scope="module")
def tools() -> tuple[str, str]:
    return _require("bwrap", "bubblewrap"), _require("pasta", "passt")


def host_listening_ports() -> set[int]:
    """Every TCP port something listens on, on this machine (what /proc/net/tcp shows)."""
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


OUTSIDE = ("pypi.org", 443)


def reachable_from_here(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError:
        return False
    return True


@contextlib.contextmanager
def listener(family: int, address: tuple[Any, ...]) -> Iterator[int]:
    """A bare listening socket (connections wait in its backlog); yields its port."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if family == socket.AF_INET6 and address[0] == "::":
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(address)
        sock.listen(16)
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


@pytest.fixture
async def upstream_url(aiohttp_server: Any) -> str:
    """The fake Anthropic API the gateway forwards to (one more loopback listener)."""
    server = await aiohttp_server(FakeAnthropic().app(), host="127.0.0.1")
    return str(server.make_url("")).rstrip("/")


@dataclass
class Seats:
    url: str
    port: int
    settings: AgentSettings
    session: aiohttp.ClientSession
    key: SigningKey
    runner: web.AppRunner
    stopped: bool = False

    async def stop(self) -> None:
        """The host's final stop: the agent, then its terminal holder (which keeps buffered
        shells across agent restarts) with every shell it holds."""
        if not self.stopped:
            self.stopped = True
            await self.runner.cleanup()
            await asyncio.to_thread(stop_holder, self.settings.state_dir)

    def processes(self) -> list[psutil.Process]:
        """What this agent started: its children, and its terminal holder's (seat shells)."""
        found = psutil.Process().children(recursive=True)
        with contextlib.suppress(OSError, ValueError, psutil.Error):
            pid_file = self.settings.state_dir / "terminal-holder" / "holder.pid"
            holder = psutil.Process(int(pid_file.read_text()))
            found += [holder, *holder.children(recursive=True)]
        return found

    async def terminal(self, seat: int) -> Terminal:
        token = learner_token(self.key, seat)
        term = await Terminal.open_url(self.session, self.url, seat, token)
        await term.resize(300, 40)
        return term


@pytest.fixture(params=["buffered", "tmux"])
async def seats(
    request: pytest.FixtureRequest,
    tools: tuple[str, str],
    tmp_path: Path,
    upstream_url: str,
    signing_key: SigningKey,
) -> AsyncIterator[Seats]:
    state_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"ctnet-{os.getpid()}-{id(tmp_path)}"
    state_dir.mkdir(mode=0o700)
    secrets_dir = tmp_path / "secrets"
    key_ref = LocalSecrets(secrets_dir).put("ws-gw-key", FAKE_KEY)
    sock = socket.create_server(("127.0.0.1", 0))
    sock.setblocking(False)
    port = sock.getsockname()[1]
    settings = AgentSettings(
        workshop_id=WORKSHOP, host_index=0, seats=(1, 2), issuer=ISSUER, state_dir=state_dir,
        port=port, public_url=f"http://127.0.0.1:{port}", secrets_url=f"local:{secrets_dir}",
        api_key_ref=key_ref, model_upstream=upstream_url, gateway=True, bwrap=True,
        seat_network="isolated", terminal_backend=request.param,
    )  # fmt: skip
    app = create_app(settings, keys={signing_key.kid: signing_key.public_key})
    runner = web.AppRunner(app)
    await runner.setup()
    seats = None
    try:
        await web.SockSite(runner, sock).start()
        ctx = app[CONTEXT]
        await async_wait_for(lambda: ctx.readiness.ready, timeout=30, message="seats ready")
        async with aiohttp.ClientSession() as session:
            seats = Seats(f"http://127.0.0.1:{port}", port, settings, session, signing_key, runner)
            yield seats
    finally:
        if seats is None or not seats.stopped:
            await runner.cleanup()
        await asyncio.to_thread(stop_holder, state_dir)
        shutil.rmtree(state_dir, ignore_errors=True)


async def push_endpoint(aiohttp_server: Any) -> int:
    """Stands in for the local provisioner's push endpoint: accepts any POST."""

    async def accept(request: web.Request) -> web.Response:
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/{tail:.*}", accept)
    server = await aiohttp_server(app, host="127.0.0.1")
    return int(server.port)


SEAT2_LISTENER = (
    'python3 -c \'import socket,sys; s=socket.create_server(("0.0.0.0",{port}));'
    ' socket.create_connection(("127.0.0.1",{port})).close();'
    ' open("listening","w").write("ok"); [s.accept() for _ in iter(int,1)]\' &'
)


async def test_a_seat_reaches_its_gateway_and_the_outside_but_no_other_port_of_the_machine(
    seats: Seats, aiohttp_server: Any, upstream_url: str
) -> None:
    push_port = await push_endpoint(aiohttp_server)
    upstream_port = int(upstream_url.rsplit(":", 1)[1])
    seat2_port = free_port()
    work1, work2 = seats.settings.workspace(1), seats.settings.workspace(2)

    # Seat 2 listens (inside its sandbox) on every address, and checks it can reach itself.
    seat2 = await seats.terminal(2)
    await seat2.type(SEAT2_LISTENER.format(port=seat2_port) + "\r")
    await async_wait_for(
        lambda: (work2 / "listening").exists(), timeout=20, message="seat 2's listener"
    )
    assert not port_open("127.0.0.1", seat2_port), "a seat's listener is published on the host"

    outside = reachable_from_here(*OUTSIDE)
    with contextlib.ExitStack() as stack:
        sibling = stack.enter_context(listener(socket.AF_INET6, ("::", 0)))
        targets: dict[str, Any] = {}
        if outside:
            targets["outside"] = {"host": OUTSIDE[0], "port": OUTSIDE[1]}
        ports = host_listening_ports() | {seat2_port}
        assert {seats.port, push_port, upstream_port, sibling} <= ports
        targets["ports"] = sorted(ports)
        (work1 / "targets.json").write_text(json.dumps(targets))
        shutil.copy(PROBE, work1 / "probe.py")

        seat1 = await seats.terminal(1)
        await seat1.type("python3 probe.py targets.json result.json\r")
        result_file = work1 / "result.json"
        await async_wait_for(result_file.exists, timeout=60, message="the probe in seat 1")
    result = json.loads(result_file.read_text())

    reached = {int(p) for family in ("v4", "v6") for p, r in result[family].items()
               if r == "connected"}  # fmt: skip
    assert reached == {seats.port}, f"seat 1 reached {reached - {seats.port}}: {result}"
    assert set(result["own_listeners"]) == {seats.port}, result  # pasta's forward, nothing else
    assert result["gateway"] == 200, result
    assert all(status in (401, 403) for status in result["agent_unauthenticated"].values()), result
    if outside:
        assert result["outside"] == "connected", result


async def test_the_seat_network_does_not_outlive_the_shell(seats: Seats) -> None:
    """pasta is the launcher's child: when the shell exits, its network helper goes too."""
    term = await seats.terminal(1)
    await term.type("echo up-$((1+1))\r")
    await term.read_until(r"up-2", timeout=20)

    work = str(seats.settings.workspace(1).resolve())

    def pastas() -> list[psutil.Process]:
        """Seat 1's pasta: its parent, the launcher, runs the sandbox of seat 1's workspace."""
        found = []
        for proc in seats.processes():
            with contextlib.suppress(psutil.Error):
                if proc.name().startswith(("pasta", "passt")):  # or *.avx2
                    parent = proc.parent()
                    if parent is not None and work in parent.cmdline():
                        found.append(proc)
        return found

    assert len(await async_wait_for(pastas, timeout=10, message="seat 1's pasta")) == 1
    await term.type("exit\r")
    await async_wait_for(lambda: not pastas(), timeout=20, message="pasta to end with the shell")


async def test_stopping_the_agent_leaves_no_sandbox_shell_or_pasta_behind(seats: Seats) -> None:
    for seat in (1, 2):
        term = await seats.terminal(seat)
        await term.type(f"echo up-$(({seat}+40))\r")
        await term.read_until(rf"up-{seat + 40}", timeout=20)
    started = seats.processes()
    kinds = {p.name() for p in started}
    assert {"bwrap", "bash"} <= kinds and any(k.startswith(("pasta", "passt")) for k in kinds)

    await seats.stop()

    def alive() -> list[psutil.Process]:
        return [p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]

    await async_wait_for(lambda: not alive(), timeout=20, message="every seat process to end")


def test_auto_falls_back_to_the_machine_network_with_a_warning(
    tools: tuple[str, str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    bwrap, _ = tools
    monkeypatch.setattr(seat_network.shutil, "which", lambda name: None)  # no pasta here
    with caplog.at_level("WARNING", logger="workspace_agent.runtime.network"):
        assert choose_seat_network("auto", bwrap, [8080]) == SeatNetwork()
    (record,) = [r for r in caplog.records if r.getMessage() == "seat_network"]
    assert record.fields == {  # type: ignore[attr-defined]
        "network": "host",
        "reason": "pasta is not installed (apt-get install passt)",
    }
    with pytest.raises(RuntimeError, match="SEAT_NETWORK=isolated: pasta is not installed"):
        choose_seat_network("isolated", bwrap, [8080])


def test_auto_falls_back_where_pasta_cannot_attach(
    tools: tuple[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bwrap, _ = tools
    broken = tmp_path / "pasta"
    broken.write_text("#!/bin/sh\necho 'pasta: Couldn'\\''t open network namespace' >&2\nexit 1\n")
    broken.chmod(0o755)
    assert seat_network.isolation_works(bwrap, str(broken)) is False
    # And the shell never starts without its network: nothing runs in the sandbox.
    marker = tmp_path / "ran"
    argv = SeatNetwork(str(broken)).wrap(sandbox_argv(bwrap, tmp_path, "/bin/true"))
    argv[-2:] = ["/bin/sh", "-c", f"touch {marker}"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1 and "seat network could not be set up" in done.stderr
    assert not marker.exists()


def test_auto_isolates_where_pasta_works(tools: tuple[str, str], tmp_path: Path) -> None:
    bwrap, pasta = tools
    assert seat_network.isolation_works(bwrap, pasta) is True
    settings = AgentSettings(state_dir=tmp_path, bwrap=None, port=4242)
    argv = LocalRuntime(settings).shell_command(1).argv
    assert argv[argv.index("--pasta") + 1] == pasta
    assert argv[argv.index("--forward") + 1] == "4242"
    assert argv[argv.index("--") + 1] == bwrap
    host = LocalRuntime(replace(settings, seat_network="host")).shell_command(1).argv
    assert host[0] == bwrap and "--pasta" not in host


def test_the_setting_takes_only_its_three_values() -> None:
    assert AgentSettings.from_env({}).seat_network == "auto"
    for value in ("auto", "isolated", "host"):
        env = {"CLARATEACH_AGENT_SEAT_NETWORK": value}
        assert AgentSettings.from_env(env).seat_network == value
    with pytest.raises(ValueError, match="CLARATEACH_AGENT_SEAT_NETWORK"):
        AgentSettings.from_env({"CLARATEACH_AGENT_SEAT_NETWORK": "none"})
