"""Start and stop the official Google Cloud emulators (Firestore, Pub/Sub) on free ports.

In CI (``CI=true``) an emulator that cannot start is a test *failure*, never a skip.
Locally, a missing gcloud skips the emulator-backed tests with a clear reason.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.net import free_port
from tests.support.wait import wait_for

START_TIMEOUT = 90.0


@dataclass(frozen=True)
class Emulator:
    name: str
    host_port: str  # "127.0.0.1:PORT"
    project: str

    @property
    def url(self) -> str:
        return f"http://{self.host_port}"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"emulator unavailable in CI: {reason}")
    pytest.skip(reason)


def _responds(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            return resp.status == 200
    except OSError:
        return False


@contextmanager
def run_emulator(kind: str, project: str = "clarateach-test") -> Iterator[Emulator]:
    """Run ``gcloud [beta] emulators <kind> start`` and yield once it answers HTTP."""
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        _unavailable("gcloud is not installed")
    port = free_port()
    host_port = f"127.0.0.1:{port}"
    if kind == "firestore":
        argv = [gcloud, "emulators", "firestore", "start", f"--host-port={host_port}"]
    elif kind == "pubsub":
        argv = [
            gcloud,
            "beta",
            "emulators",
            "pubsub",
            "start",
            f"--host-port={host_port}",
            f"--project={project}",
        ]
    else:
        raise ValueError(kind)
    log_dir = Path(tempfile.mkdtemp(prefix=f"emu-{kind}-"))
    log = (log_dir / "emulator.log").open("wb")
    env = {**os.environ, "CLOUDSDK_CORE_DISABLE_PROMPTS": "1"}
    proc = subprocess.Popen(
        [str(a) for a in argv],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,  # own process group: gcloud forks java, we stop both
    )
    try:
        try:
            wait_for(
                lambda: proc.poll() is not None or _responds(f"http://{host_port}/"),
                timeout=START_TIMEOUT,
                message=f"{kind} emulator on {host_port}",
            )
        except AssertionError:
            _unavailable(
                f"{kind} emulator did not start: {(log_dir / 'emulator.log').read_text()[-2000:]}"
            )
        if proc.poll() is not None:
            _unavailable(
                f"{kind} emulator exited: {(log_dir / 'emulator.log').read_text()[-2000:]}"
            )
        yield Emulator(kind, host_port, project)
    finally:
        _stop_group(proc)
        log.close()


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
