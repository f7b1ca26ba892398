"""App preview on the docker runtime: the preview connects from inside the container's
network namespace (``docker inspect -f {{.State.Pid}}``), found through the recording fake
``docker`` (tests/agent/fake_docker.py). The "container" is a real process in a network
namespace of its own (bubblewrap ``--unshare-net``), running the learner's server on its
loopback, which the machine cannot reach."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.agent import fake_docker
from tests.agent.conftest import AgentFactory, Tokens
from tests.support.net import free_port, port_open
from tests.support.wait import wait_for
from workspace_agent.preview import PREVIEW
from workspace_agent.settings import AgentSettings

SERVERS = Path(__file__).with_name("seat_servers.py")


@pytest.fixture
def docker_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    fake_docker.install(tmp_path / "bin", tmp_path / "docker-calls.jsonl")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    return tmp_path / "bin"


@pytest.fixture
def container(tmp_path: Path) -> Iterator[tuple[int, int]]:
    """(pid in the namespace, port its server listens on, on its own loopback)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        pytest.skip("bwrap is not installed")
    port, cwd = free_port(), tmp_path / "container"
    cwd.mkdir()
    argv = [bwrap, "--dev-bind", "/", "/", "--unshare-net", "--die-with-parent",
            sys.executable, str(SERVERS), str(port), "127.0.0.1"]  # fmt: skip
    proc = subprocess.Popen(argv, cwd=cwd)
    try:
        wait_for(lambda: (cwd / f"server-{port}.ready").exists(), timeout=20, message="server")
        server = wait_for(
            lambda: [
                c
                for c in psutil.Process(proc.pid).children(recursive=True)
                if "seat_servers.py" in " ".join(c.cmdline())
            ],
            timeout=10,
            message="the server process",
        )[0]
        yield server.pid, port
    finally:
        proc.kill()
        proc.wait()


async def test_preview_reaches_a_server_inside_the_seat_container(
    make_agent: AgentFactory, settings: AgentSettings, tokens: Tokens, docker_bin: Path,
    container: tuple[int, int],
) -> None:  # fmt: skip
    pid, port = container
    assert not port_open("127.0.0.1", port), "the container's loopback is the machine's"
    docker = dataclasses.replace(settings, runtime="docker", seats=(1, 2), seat_image="seat:t")
    client: Any = await make_agent(docker)
    fake_docker.set_pid(docker_bin, f"ct-{settings.workshop_id}-seat1", pid)
    auth = {"Authorization": f"Bearer {tokens.learner(1)}"}

    listed = await client.get("/seats/1/preview/ports", headers=auth)
    assert port in [p["port"] for p in (await listed.json())["ports"]]
    opened = await (await client.post(f"/seats/1/preview/ports/{port}/open", headers=auth)).json()
    host = client.server.app[PREVIEW].origins.host(1, port)
    path = opened["url"].split(host, 1)[1].split("/", 1)[1]
    exchange = await client.get("/" + path, headers={"Host": host}, allow_redirects=False)
    assert exchange.status == 303
    cookie = exchange.headers["Set-Cookie"].split(";", 1)[0]
    resp = await client.get("/headers", headers={"Host": host, "Cookie": cookie})
    assert resp.status == 200 and (await resp.json())["Host"] == host
    # Seat 2's container is not running: its previews say so instead of reaching anything.
    opened2 = await (
        await client.post(
            f"/seats/2/preview/ports/{port}/open",
            headers={"Authorization": f"Bearer {tokens.learner(2)}"},
        )
    ).json()
    host2 = client.server.app[PREVIEW].origins.host(2, port)
    path2 = opened2["url"].split(host2, 1)[1].split("/", 1)[1]
    exchange2 = await client.get("/" + path2, headers={"Host": host2}, allow_redirects=False)
    cookie2 = exchange2.headers["Set-Cookie"].split(";", 1)[0]
    resp2 = await client.get("/headers", headers={"Host": host2, "Cookie": cookie2})
    assert resp2.status == 502 and resp2.headers["X-ClaraTeach-Preview-Error"] == "no_shell"
