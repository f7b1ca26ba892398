"""The platform under test: ``clarateach local up`` as a real child process, plus a tiny
instructor client for setting up workshops through the public API.

Nothing here reaches into the platform's internals: the browser tests see exactly what a
person who ran the README's first command would see.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from tests.support.net import free_port
from tests.support.wait import wait_for

STARTUP_TIMEOUT = 60.0
WORKSHOP_READY_TIMEOUT = 90.0
SHUTDOWN_TIMEOUT = 40.0
#: Well-formed but fake: the e2e journey never talks to the model.
FAKE_API_KEY = "sk-ant-e2e-placeholder-0123456789abcdef"


class PlatformUnderTest(Protocol):
    """What the browser tests need from a platform: where the web client is served."""

    url: str


@dataclass
class RunningPlatform:
    url: str
    state_dir: Path
    admin_token: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def instructor(self) -> Instructor:
        return Instructor(self.url, self.admin_token, diagnostics=self.diagnostics)

    def diagnostics(self) -> str:
        """The tails of the platform's and every agent's log, for failure messages."""
        logs = [self.log_path, self.state_dir / "logs" / "platform.log"]
        logs += sorted((self.state_dir / "hosts").glob("*/agent.log"))
        return "\n".join(f"--- {path}\n{_tail(path)}" for path in logs)


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(missing)"


class Instructor:
    """The instructor API calls the tests need (docs/protocol.md §1)."""

    def __init__(self, url: str, token: str, diagnostics: Callable[[], str] = str) -> None:
        self._diagnostics = diagnostics
        self._client = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=15.0
        )

    def close(self) -> None:
        self._client.close()

    def create_workshop(
        self, name: str, seats: int, seats_per_host: int | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name, "seats": seats, "api_key": FAKE_API_KEY}
        if seats_per_host is not None:
            body["seats_per_host"] = seats_per_host
        response = self._client.post("/api/workshops", json=body)
        response.raise_for_status()
        return dict(response.json()["workshop"])

    def workshop(self, workshop_id: str) -> dict[str, Any]:
        response = self._client.get(f"/api/workshops/{workshop_id}")
        response.raise_for_status()
        return dict(response.json()["workshop"])

    def change_schedule(self, workshop_id: str, change: dict[str, Any]) -> dict[str, Any]:
        response = self._client.post(f"/api/workshops/{workshop_id}/schedule", json=change)
        response.raise_for_status()
        return dict(response.json()["workshop"])

    def start(self, workshop_id: str) -> dict[str, Any]:
        self._client.post(f"/api/workshops/{workshop_id}/start").raise_for_status()
        return self._wait_status(workshop_id, "running")

    def stop(self, workshop_id: str) -> dict[str, Any]:
        self._client.post(f"/api/workshops/{workshop_id}/stop").raise_for_status()
        return self._wait_status(workshop_id, "stopped")

    def running_workshop(
        self, name: str, seats: int, seats_per_host: int | None = None
    ) -> dict[str, Any]:
        return self.start(self.create_workshop(name, seats, seats_per_host)["id"])

    def _wait_status(self, workshop_id: str, status: str) -> dict[str, Any]:
        def settled() -> dict[str, Any]:
            workshop = self.workshop(workshop_id)
            return workshop if workshop["status"] in (status, "failed") else {}

        try:
            workshop = wait_for(
                settled, timeout=WORKSHOP_READY_TIMEOUT, interval=0.2, message=f"workshop {status}"
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self._diagnostics()}") from exc
        if workshop["status"] != status:
            raise AssertionError(f"workshop {workshop_id} failed: {workshop.get('error')}")
        return workshop


@contextmanager
def local_platform(
    state_dir: Path, web_dir: Path, env: dict[str, str] | None = None
) -> Iterator[RunningPlatform]:
    """Run ``clarateach local up`` on a free port until the block ends, then SIGTERM it.

    The child's output goes to a file (not a pipe nobody reads, which would block it).
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir / "local-up.out"
    argv = [
        sys.executable,
        "-m",
        "clarateach.cli",
        "local",
        "up",
        "--port",
        str(port),
        "--state-dir",
        str(state_dir),
        "--web-dir",
        str(web_dir),
        "--stop-workshops",  # the session's end stops its workshops, agents and shells
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    env.pop("ANTHROPIC_API_KEY", None)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        wait_for(
            lambda: process.poll() is not None or _healthy(url),
            timeout=STARTUP_TIMEOUT,
            interval=0.1,
            message=f"clarateach local up to answer on {url}",
        )
        if process.poll() is not None:
            raise AssertionError(f"local up exited early:\n{log_path.read_text(errors='replace')}")
        token_file = state_dir / "admin-token"
        token = wait_for(lambda: token_file.read_text().strip(), message="admin-token")
        yield RunningPlatform(url, state_dir, token, process, log_path)
    finally:
        _terminate(process)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _terminate(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the platform's clean shutdown stops workshops and agents); kill if it hangs."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=SHUTDOWN_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
