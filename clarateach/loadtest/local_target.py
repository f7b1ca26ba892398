"""``clarateach loadtest --local``: a private, throw-away local platform to rehearse against.

It runs ``clarateach local up --port 0`` as a child process with its own temporary state
directory (so it never touches the user's platform or its workshops), and a fake Anthropic
API (``fake_upstream.FakeAnthropic``) on a free loopback port that the platform's hosts use
as their model upstream (``CLARATEACH_MODEL_UPSTREAM``), so ``--model-requests`` costs
nothing. Closing it stops the platform (which stops every workshop, agent and shell it
started) and removes the state directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiohttp import web

from clarateach.credentials import read_server_record
from clarateach.loadtest.fake_upstream import FAKE_KEY, FakeAnthropic

STARTUP_TIMEOUT_S = 60.0
SHUTDOWN_TIMEOUT_S = 60.0


class LocalTargetError(Exception):
    pass


class FakeUpstream:
    """The fake Anthropic API on ``127.0.0.1:<free port>`` in the current event loop."""

    def __init__(self) -> None:
        self.fake = FakeAnthropic()
        self.received = _Discard()  # a long run must not keep every request body
        self.fake.requests = self.received
        self.url = ""
        self.key = FAKE_KEY
        self._runner: web.AppRunner | None = None

    async def start(self) -> FakeUpstream:
        self._runner = web.AppRunner(self.fake.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    @property
    def calls(self) -> int:
        """Requests the fake has answered (or refused) so far."""
        return self.received.received

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class _Discard(list):  # type: ignore[type-arg]
    """Keeps only the last request (``FakeAnthropic`` reads the body back from the list) and
    counts them all in ``received``."""

    received = 0

    def append(self, item: object) -> None:
        self.received += 1
        self[:] = [item]


class LocalPlatformProcess:
    """``clarateach local up`` in a private state directory, as a child process."""

    def __init__(self, upstream_url: str) -> None:
        self.state_dir = Path(tempfile.mkdtemp(prefix="clarateach-loadtest-"))
        self.url = ""
        self.token = ""
        env = {**os.environ, "CLARATEACH_MODEL_UPSTREAM": upstream_url, "PYTHONUNBUFFERED": "1"}
        for name in ("CLARATEACH_API_URL", "CLARATEACH_TOKEN", "ANTHROPIC_API_KEY"):
            env.pop(name, None)
        self._log = (self.state_dir / "loadtest-platform.out").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "clarateach.cli", "local", "up", "--port", "0",
             "--state-dir", str(self.state_dir)],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            env=env, start_new_session=True,
        )  # fmt: skip

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LocalTargetError(
                    f"the local platform exited ({self.process.returncode}); see {self.log_path}"
                )
            record = read_server_record(self.state_dir)
            token_file = self.state_dir / "admin-token"
            if record is not None and token_file.exists():
                self.url, self.token = record[0], token_file.read_text().strip()
                return
            time.sleep(0.1)  # the poll interval of a deadline-bounded wait
        raise LocalTargetError(f"the local platform did not start in {timeout:g} s")

    @property
    def log_path(self) -> Path:
        return self.state_dir / "loadtest-platform.out"

    def save_logs(self) -> Path:
        """Copy the platform's and every agent's log (no state, no secrets) to a new private
        directory that outlives ``stop``; return it."""
        target = Path(tempfile.mkdtemp(prefix="clarateach-loadtest-logs-"))
        logs = [self.log_path, *self.state_dir.glob("logs/*.log*")]
        logs += self.state_dir.glob("hosts/*/agent.log")
        for source in logs:
            name = (
                source.name
                if source.parent.name == "logs" or source == self.log_path
                else (f"{source.parent.name}.agent.log")
            )
            with contextlib.suppress(OSError):
                shutil.copyfile(source, target / name)
        return target

    def stop(self, *, remove: bool = True) -> None:
        """SIGTERM (graceful: workshops stopped, agents and shells ended), SIGKILL after a
        timeout; then the state directory is removed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=SHUTDOWN_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()
        if remove:
            shutil.rmtree(self.state_dir, ignore_errors=True)
