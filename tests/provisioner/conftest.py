"""Fixtures for the provisioner suites: a real SQLite store, local secrets, and compute adapters.

``compute_under_test`` is parametrised over both real compute adapters: ``GceCompute`` through
the real google-cloud-compute client against ``tests.support.fake_gce``, and ``LocalCompute``
running stand-in agent processes. Each reports how many times a host was *really* created.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from google.auth.credentials import AnonymousCredentials

from shared.adapters.gce_compute import GceCompute, GceHostConfig
from shared.adapters.local_compute import LocalCompute
from shared.adapters.local_secrets import LocalSecrets
from shared.adapters.sqlite_store import SqliteStore
from shared.bootstrap import Platform, bootstrap
from shared.domain.events import Event
from shared.domain.model import Workshop, WorkshopStatus, plan_hosts
from shared.ports.compute import Compute, HostSpec
from shared.ports.event_bus import EventBus
from shared.settings import Settings
from tests.support.fake_gce import FakeGce, running_fake_gce
from tests.support.wait import wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]
STANDIN_MODULE = "tests.provisioner.standin_agent"


class RecordingBus(EventBus):
    def __init__(self) -> None:
        self.published: list[Event] = []

    def publish(self, event: Event) -> str:
        self.published.append(event)
        return event.id


def fake_startup_script(*, workshop_id: str, host_index: int, agent_config: dict[str, str]) -> str:
    return f"#!/bin/bash\n# test bootstrap for {workshop_id} host {host_index}\n"


@dataclass
class ComputeUnderTest:
    kind: str
    compute: Compute
    created: Callable[[str], int]  # how many times the named host was really created
    fake_gce: FakeGce | None = None


def standin_compute(
    hosts_dir: Path,
    spawn_log: Path,
    mode: str = "never_ready",
    host_tokens: Callable[[HostSpec], str] | None = None,
) -> LocalCompute:
    return LocalCompute(
        hosts_dir,
        host_tokens=host_tokens,
        module=STANDIN_MODULE,
        stop_timeout=5.0,
        extra_env={
            "PYTHONPATH": str(REPO_ROOT),
            "CLARATEACH_STANDIN_MODE": mode,
            "CLARATEACH_STANDIN_SPAWN_LOG": str(spawn_log),
        },
    )


def spawned(spawn_log: Path, name: str) -> int:
    """Starts of host ``name`` (``ct-<workshop>-h<index>``) recorded by stand-in agents."""
    if not spawn_log.exists():
        return 0
    lines = [line.split() for line in spawn_log.read_text().splitlines()]
    return sum(1 for ws, index, *_ in lines if f"ct-{ws}-h{index}" == name)


@pytest.fixture(params=["gce", "local"])
def compute_under_test(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[ComputeUnderTest]:
    if request.param == "gce":
        with running_fake_gce() as fake:
            config = GceHostConfig(
                project="proj",
                zone="us-central1-a",
                machine_type="e2-standard-4",
                image="projects/proj/global/images/family/clarateach-host",
                service_account="host@proj.iam.gserviceaccount.com",
            )
            compute = GceCompute.for_endpoint(
                config, fake.url, AnonymousCredentials(), startup_script=fake_startup_script
            )
            yield ComputeUnderTest("gce", compute, fake.created_count, fake)
        return
    spawn_log = tmp_path / "spawns.log"
    local = standin_compute(tmp_path / "hosts", spawn_log)

    def created(name: str) -> int:
        # Agents log their start asynchronously: wait for every live one to have logged.
        info = local.get_host(name)
        expected = 1 if info is not None and info.state == "running" else 0
        wait_for(
            lambda: spawned(spawn_log, name) >= expected,
            timeout=20,
            message=f"stand-in agent {name} to log its start",
        )
        return spawned(spawn_log, name)

    try:
        yield ComputeUnderTest("local", local, created)
    finally:
        local.cleanup_orphans()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        mode="local",
        state_dir=tmp_path / "state",
        provisioner_url="http://127.0.0.1:9/",
        public_api_url="http://127.0.0.1:8/",
        allowed_origins=("http://localhost:5173",),
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    db = SqliteStore(tmp_path / "state.db")
    yield db
    db.close()


@pytest.fixture
def make_platform(
    settings: Settings, store: SqliteStore, tmp_path: Path
) -> Callable[[Compute], Platform]:
    def make(compute: Compute) -> Platform:
        return bootstrap(
            settings,
            store=store,
            bus=RecordingBus(),
            compute=compute,
            secrets=LocalSecrets(tmp_path / "secrets"),
        )

    return make


def new_workshop(
    platform: Platform,
    *,
    seats: int = 45,
    per_host: int = 10,
    start: bool = True,
    api_key: str | None = "sk-ant-api03-test-key-never-leaks",
) -> Workshop:
    """Create a workshop like the API does; with ``start``, move it to provisioning attempt 1."""
    workshop_id = uuid.uuid4().hex[:10]
    ref = platform.secrets.put(f"ws-{workshop_id}-key", api_key) if api_key else None
    workshop = platform.store.create_workshop(
        Workshop(
            id=workshop_id,
            name="Intro to Claude",
            code=f"CLAUDE-{workshop_id[:4].upper()}",
            seats=seats,
            seats_per_host=per_host,
            owner="teacher@example.com",
            api_key_ref=ref,
        ),
        new_code=lambda: f"CLAUDE-{os.urandom(2).hex().upper()}",
    )
    if start:
        workshop = platform.store.update_workshop(
            workshop.id,
            lambda w: replace(
                w, status=WorkshopStatus.PROVISIONING, attempt=w.attempt + 1, hosts=plan_hosts(w)
            ),
        )
    return workshop
