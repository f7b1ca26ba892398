"""Fixtures for the HTTP API tests: a platform on a real SQLite store in ``tmp_path``, a
recording bus, in-memory secrets, and a client that drives ``functions.http.handle``."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from functions.http import handle
from functions.wire import ApiRequest, ApiResponse
from shared import logs
from shared.adapters.sqlite_store import SqliteStore
from shared.auth.instructor import IdTokenVerifier, ensure_admin_token
from shared.bootstrap import Platform, bootstrap
from shared.domain.model import HostStatus, Workshop, WorkshopStatus
from shared.services.ratelimit import JoinLimiter, install_limiter
from shared.settings import Settings
from tests.support.fakes import FakeClock, MemorySecrets, NullCompute, RecordingBus

ORIGIN = "https://teach.example.org"
API_KEY = "sk-ant-api03-" + "Ab1_-" * 8 + "XYZ"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        mode="local",
        state_dir=tmp_path / "state",
        allowed_origins=(ORIGIN,),
        jwt_issuer="clarateach-test",
        public_api_url="http://127.0.0.1:1",
    )


@pytest.fixture
def bus() -> RecordingBus:
    return RecordingBus()


@pytest.fixture
def secrets() -> MemorySecrets:
    return MemorySecrets()


@pytest.fixture
def platform(settings: Settings, bus: RecordingBus, secrets: MemorySecrets) -> Iterator[Platform]:
    store = SqliteStore(settings.state_dir / "state.db")
    built = bootstrap(settings, store=store, bus=bus, compute=NullCompute(), secrets=secrets)
    yield built
    store.close()


@pytest.fixture
def clock(platform: Platform) -> FakeClock:
    """A fake clock driving this platform's join rate limiter."""
    fake = FakeClock()
    install_limiter(platform.store, JoinLimiter(clock=fake))
    return fake


@pytest.fixture
def admin_token(settings: Settings) -> str:
    return ensure_admin_token(settings)


@dataclass
class Api:
    """Calls the router the way an entry point does. ``token=None`` sends no Authorization."""

    platform: Platform
    token: str | None = None
    verify_id_token: IdTokenVerifier | None = None

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
        ip: str = "203.0.113.7",
    ) -> ApiResponse:
        all_headers = dict(headers or {})
        if self.token is not None:
            all_headers.setdefault("Authorization", f"Bearer {self.token}")
        payload = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        request = ApiRequest(method, path, all_headers, query or {}, payload, ip)
        return handle(self.platform, request, verify_id_token=self.verify_id_token)

    def as_(self, token: str | None) -> Api:
        return replace(self, token=token)

    def create(self, **fields: Any) -> dict[str, Any]:
        body = {"name": "Intro to Claude Code", "seats": 10, "api_key": API_KEY, **fields}
        response = self.call("POST", "/api/workshops", body)
        assert response.status == 201, response.json()
        return response.json()["workshop"]

    def join(self, code: str, ip: str = "198.51.100.1", **fields: Any) -> ApiResponse:
        return self.call("POST", "/api/join", {"code": code, **fields}, ip=ip)


@pytest.fixture
def api(platform: Platform, admin_token: str) -> Api:
    return Api(platform, token=admin_token)


def force_running(platform: Platform, workshop_id: str, base_port: int = 9100) -> Workshop:
    """Pretend provisioning finished: every planned host ready with a fake endpoint."""
    from shared.domain.model import plan_hosts

    def run(current: Workshop) -> Workshop:
        hosts = tuple(
            replace(h, status=HostStatus.READY, endpoint=f"http://127.0.0.1:{base_port + h.index}")
            for h in (current.hosts or plan_hosts(current))
        )
        return replace(current, status=WorkshopStatus.RUNNING, hosts=hosts)

    return platform.store.update_workshop(workshop_id, run)


def set_status(platform: Platform, workshop_id: str, status: WorkshopStatus) -> Workshop:
    return platform.store.update_workshop(workshop_id, lambda w: replace(w, status=status))


@pytest.fixture
def running(api: Api, platform: Platform) -> dict[str, Any]:
    """A running 10-seat workshop (two hosts of 5) owned by the local admin."""
    created = api.create(seats=10, seats_per_host=5)
    force_running(platform, created["id"])
    return created


@pytest.fixture
def captured_logs() -> Iterator[list[str]]:
    """Everything logged, through the production JSON + redaction handler."""
    lines: list[str] = []

    class Sink:
        def write(self, text: str) -> None:
            lines.append(text)

        def flush(self) -> None:
            pass

    handler = logs.make_handler(Sink())  # type: ignore[arg-type]
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield lines
    root.removeHandler(handler)
    root.setLevel(previous)
