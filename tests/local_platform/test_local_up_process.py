"""``clarateach local up`` as a user runs it: demo workshop, join, and a clean stop on signals."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import psutil
import pytest

from tests.agent.terminal_client import Terminal
from tests.local_platform.process import (
    JOIN_CODE_RE,
    URL_RE,
    LocalUp,
    alive,
    processes_using,
)
from tests.support.net import free_port
from tests.support.wait import wait_for

pytestmark = pytest.mark.slow
DEMO_TIMEOUT = 90


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def started(state_dir: Path) -> Iterator[list[LocalUp]]:
    runs: list[LocalUp] = []
    yield runs
    for run in runs:
        run.kill_group()
    # Workshops outlive a platform started without --stop-workshops: end what a test left.
    for proc in processes_using(state_dir):
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()


def _post_json(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _agents_and_seats(state_dir: Path) -> tuple[list[psutil.Process], list[psutil.Process]]:
    """(agent processes, the other processes of the local hosts: terminal holders, seat
    shells, their jobs)."""
    procs = processes_using(state_dir / "hosts")  # not the platform: its argv names state_dir
    agents = [p for p in procs if _runs_module(p, "workspace_agent")]
    return agents, [p for p in procs if p not in agents]


def _runs_module(proc: psutil.Process, module: str) -> bool:
    """``proc`` is ``python -m <module>`` itself (not its terminal holder or a seat launcher,
    which run modules inside that package)."""
    argv = proc.cmdline()
    return any(a == "-m" and b == module for a, b in itertools.pairwise(argv))


def _leave_a_job_running(grant: dict) -> None:
    """Open the learner's terminal, start a background job, and close the socket."""

    async def run() -> None:
        async with aiohttp.ClientSession() as session:
            term = await Terminal.open_url(
                session, grant["endpoint"], grant["seat"], grant["token"]
            )
            await term.type("sleep 1000 & echo started-$((6*7))\r")
            await term.read_until("started-42", timeout=20)
            await term.close()

    asyncio.run(run())


@pytest.mark.parametrize(
    "sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP], ids=["SIGTERM", "SIGINT", "SIGHUP"]
)
def test_demo_comes_up_and_a_signal_leaves_nothing_behind(
    state_dir: Path, started: list[LocalUp], sig: signal.Signals
) -> None:
    port = free_port()
    run = LocalUp(state_dir, "--demo", "--port", str(port), "--stop-workshops")
    started.append(run)
    url = run.wait_for_line(URL_RE, timeout=30).group(1)
    assert url == f"http://127.0.0.1:{port}"
    code = run.wait_for_line(JOIN_CODE_RE, timeout=DEMO_TIMEOUT).group(1)
    run.wait_for_line(re.compile(re.escape(f"Join link:  {url}/?code={code}")), timeout=5)
    token = (state_dir / "admin-token").read_text().strip()
    assert token in run.output  # the instructor token is shown to its owner

    # The demo is really live: a learner can join and is pointed at a local agent.
    grant = _post_json(f"{url}/api/join", {"code": code})
    assert grant["seat"] == 1 and grant["endpoint"].startswith("http://127.0.0.1:")

    _leave_a_job_running(grant)
    agents, seat_processes = wait_for(
        lambda: (found := _agents_and_seats(state_dir)) and all(found) and found,
        timeout=20,
        message="an agent process and the seat's shell",
    )
    assert any(p.name() == "sleep" for p in seat_processes), seat_processes
    if shutil.which("bwrap"):  # installed by ./dev test: local seats are sandboxed
        assert any(p.name() == "bwrap" for p in seat_processes), seat_processes
    descendants = psutil.Process(run.proc.pid).children(recursive=True)
    assert {a.pid for a in agents} <= {d.pid for d in descendants}

    assert run.finish(sig) == 0, run.output
    assert "Stopped. No agents are left running." in run.output
    assert "Traceback" not in run.output
    assert alive(descendants) == []
    assert alive(agents + seat_processes) == []
    assert processes_using(state_dir) == []
    assert not (state_dir / "local-server.json").exists()


def test_a_busy_port_is_a_clear_error(state_dir: Path, started: list[LocalUp]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        run = LocalUp(state_dir, "--port", str(port))
        started.append(run)
        assert run.proc.wait(timeout=30) == 1
        run.wait_for_line(re.compile(r"already in use"), timeout=5)
        assert "--port" in run.output and "Traceback" not in run.output


def test_with_stop_workshops_agents_left_by_a_killed_platform_are_cleaned_up_on_start(
    state_dir: Path, started: list[LocalUp]
) -> None:
    crashed = LocalUp(state_dir, "--demo", "--port", "0")
    started.append(crashed)
    code = crashed.wait_for_line(JOIN_CODE_RE, timeout=DEMO_TIMEOUT).group(1)
    orphans = [p for p in processes_using(state_dir) if p.pid != crashed.proc.pid]
    assert orphans, "the demo host should be running"
    crashed.proc.kill()  # SIGKILL: no chance to clean up; the agent (own session) survives
    crashed.proc.wait(timeout=10)
    assert alive(orphans), "the agent outlives a SIGKILLed platform"

    restarted = LocalUp(state_dir, "--port", "0", "--stop-workshops")
    started.append(restarted)
    url = restarted.wait_for_line(URL_RE, timeout=30).group(1)
    assert "left over from a previous run" in restarted.output
    assert alive(orphans) == []
    # The workshop the crashed run served is stopped, so its code no longer admits anyone.
    with pytest.raises(urllib.error.HTTPError) as refused:
        _post_json(f"{url}/api/join", {"code": code})
    assert refused.value.code == 404
    assert restarted.finish(signal.SIGTERM) == 0
    assert processes_using(state_dir) == []


def _cli(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``clarateach <args>`` as a user types it: no URL, no token (found via the state dir)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLARATEACH_")}
    env.update({"CLARATEACH_STATE_DIR": str(state_dir), "COLUMNS": "200"})
    return subprocess.run(
        [sys.executable, "-m", "clarateach.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_the_cli_drives_a_running_platform_end_to_end(
    state_dir: Path, started: list[LocalUp], tmp_path: Path
) -> None:
    run = LocalUp(state_dir, "--port", "0")
    started.append(run)
    run.wait_for_line(URL_RE, timeout=30)
    key = tmp_path / "key"
    key.write_text("sk-ant-api03-" + "x" * 40)
    key.chmod(0o600)

    created = _cli(
        state_dir,
        "workshop",
        "create",
        "-n",
        "CLI e2e",
        "-s",
        "3",
        "--api-key-file",
        str(key),
        "--json",
    )
    assert created.returncode == 0, created.stderr
    workshop_id = json.loads(created.stdout)["workshop"]["id"]

    started_ws = _cli(state_dir, "workshop", "start", workshop_id, "--wait", "--json")
    assert started_ws.returncode == 0, started_ws.stderr
    running = json.loads(started_ws.stdout)["workshop"]
    assert running["status"] == "running"
    assert running["hosts"][0]["endpoint"].startswith("http://127.0.0.1:")
    assert _agents_and_seats(state_dir)[0], "the workshop's agent is running"

    stopped = _cli(state_dir, "workshop", "stop", workshop_id)
    assert stopped.returncode == 0, stopped.stderr
    wait_for(
        lambda: (
            json.loads(_cli(state_dir, "workshop", "info", workshop_id, "--json").stdout)[
                "workshop"
            ]["status"]
            == "stopped"
        ),
        timeout=30,
        message="workshop stopped",
    )
    wait_for(lambda: _agents_and_seats(state_dir) == ([], []), timeout=10, message="agent gone")
    assert run.finish(signal.SIGTERM) == 0


def test_a_second_platform_on_the_same_state_dir_is_refused(
    state_dir: Path, started: list[LocalUp]
) -> None:
    first = LocalUp(state_dir, "--demo", "--port", "0")
    started.append(first)
    url = first.wait_for_line(URL_RE, timeout=30).group(1)
    first.wait_for_line(JOIN_CODE_RE, timeout=DEMO_TIMEOUT)
    agents_before = _agents_and_seats(state_dir)[0]

    second = LocalUp(state_dir, "--port", "0")
    started.append(second)
    assert second.proc.wait(timeout=30) == 1
    second.wait_for_line(re.compile(re.escape(f"already running at {url}")), timeout=5)
    assert alive(agents_before) == agents_before  # the first platform's agents untouched
    assert first.finish(signal.SIGTERM) == 0


def _terminal_state(grant: dict, command: str, pattern: str) -> tuple[str, int]:
    """Type ``command`` into the learner's terminal; (everything shown, the shell's $$)."""

    async def run() -> tuple[str, int]:
        async with aiohttp.ClientSession() as session:
            term = await Terminal.open_url(
                session, grant["endpoint"], grant["seat"], grant["token"]
            )
            await term.type(command + "; echo PID-$$-END\r")
            found = await term.read_until(pattern + r"[\s\S]*PID-(\d+)-END", timeout=30)
            await term.close()
            return term.text, int(found.group(1))

    return asyncio.run(run())


def test_a_restart_keeps_running_workshops_codes_seats_files_and_shells(
    state_dir: Path, started: list[LocalUp]
) -> None:
    port = free_port()
    first = LocalUp(state_dir, "--demo", "--port", str(port))
    started.append(first)
    url = first.wait_for_line(URL_RE, timeout=30).group(1)
    code = first.wait_for_line(JOIN_CODE_RE, timeout=DEMO_TIMEOUT).group(1)
    nonce = "restart-test-nonce-0123456789"
    grant = _post_json(f"{url}/api/join", {"code": code, "client_nonce": nonce})
    _, shell = _terminal_state(grant, "export KEPT=yes-$((20+1)); echo kept > notes.txt", "")
    agents, _ = _agents_and_seats(state_dir)
    assert first.finish(signal.SIGTERM) == 0, first.output
    assert "keep running" in first.output
    assert alive(agents) == agents  # the agents (and with them the shells) keep running

    second = LocalUp(state_dir, "--port", str(port))
    started.append(second)
    second.wait_for_line(re.compile(r"Adopted 1 running workshop"), timeout=60)
    again = _post_json(f"{url}/api/join", {"code": code, "client_nonce": nonce})
    assert (again["seat"], again["endpoint"], again["reconnect_code"]) == (
        grant["seat"],
        grant["endpoint"],
        grant["reconnect_code"],
    )
    by_code = _post_json(
        f"{url}/api/join", {"code": code, "reconnect_code": grant["reconnect_code"]}
    )
    assert by_code["seat"] == grant["seat"]
    screen, same_shell = _terminal_state(
        again, 'echo "[$KEPT|$(cat notes.txt)]"', r"\[yes-21\|kept\]"
    )
    assert same_shell == shell
    assert "export KEPT" in screen  # the replayed screen from before the restart
    assert second.finish(signal.SIGTERM) == 0

    # --stop-workshops is the old clean slate: agents, holders and shells all end.
    third = LocalUp(state_dir, "--port", str(port), "--stop-workshops")
    started.append(third)
    third.wait_for_line(URL_RE, timeout=30)
    wait_for(lambda: alive(agents) == [], timeout=30, message="agents stopped")
    assert third.finish(signal.SIGTERM) == 0
    assert processes_using(state_dir) == []
