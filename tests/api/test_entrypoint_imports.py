"""Cold starts: each split function imports only what its own routes need (issue 23).

Each entry point runs in a fresh interpreter the way Cloud Run's functions-framework starts it
with ``FUNCTION_TARGET=<entry>``: it builds the app from ``functions/main.py`` in GCP mode and
serves one first request. The test then reads that process's ``sys.modules``: the heavy client
libraries and the services of *other* routes must be absent, and the function's own handler
must be present (so the request really went through it).

No request reaches Google (``tests.support.coldstart``). Timing is measured in
``benchmarks/entrypoint_import_bench.py``, never here.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from functions import package
from functions.entrypoints import SPLIT
from shared.bootstrap import Platform, bootstrap
from shared.services.errors import Unavailable
from shared.settings import Settings
from tests.support import coldstart
from tests.support.coldstart import FIRST_REQUESTS

FIRESTORE = "google.cloud.firestore"
PUBSUB = "google.cloud.pubsub_v1"
COMPUTE = "google.cloud.compute_v1"
SECRET_MANAGER = "google.cloud.secretmanager"
STORAGE = "google.cloud.storage"  # the content packs' bucket
CLOUD_CLIENTS = (FIRESTORE, PUBSUB, COMPUTE, SECRET_MANAGER, STORAGE)
ACME = ("acme", "shared.adapters.acme_ca")  # only the certificates function talks to the CA
CONTENT = "shared.services.content"
HOST_CALLS = "httpx"  # the instructor actions that call host agents
WORKSHOP_SERVICE = "shared.services.workshops"
CONTROL = (
    "shared.services.broadcast",
    "shared.services.seat_actions",
    "shared.services.schedule",
    "shared.services.workshop_delete",
    "functions.handlers.control",
)
HOST_SERVICES = ("shared.services.host_credentials", "shared.services.host_events")


@dataclass(frozen=True)
class Case:
    #: Imported by serving it (the function's own code).
    needs: tuple[str, ...]
    #: Never imported by this function.
    never: tuple[str, ...]


CASES: dict[str, Case] = {
    "health": Case(
        ("functions.handlers.public",),
        (*CLOUD_CLIENTS, "pydantic", "jwt", HOST_CALLS, WORKSHOP_SERVICE, CONTENT, *ACME),
    ),
    "jwks": Case(
        ("functions.handlers.jwks", "jwt"),
        (FIRESTORE, PUBSUB, COMPUTE, STORAGE, "pydantic", HOST_CALLS, WORKSHOP_SERVICE, CONTENT,
         *ACME),
    ),
    # Reads state and the signing key (Secret Manager), claims seats; never publishes,
    # never touches VMs, never reads API keys or calls hosts.
    "join_workshop": Case(
        ("functions.handlers.join", "shared.services.join", "jwt"),
        (PUBSUB, COMPUTE, STORAGE, HOST_CALLS, WORKSHOP_SERVICE, *HOST_SERVICES, *CONTROL,
         CONTENT, *ACME,
         "functions.schemas", "shared.domain.model_policy"),  # other routes' models
    ),
    # Read-only: no publisher, no secrets, no VMs, none of the write handlers. Its progress
    # route reads content packs (the content service, whose bucket is built on first use).
    "workshops": Case(
        ("functions.handlers.reads", CONTENT),
        (PUBSUB, COMPUTE, SECRET_MANAGER, STORAGE, HOST_CALLS, *CONTROL, *ACME,
         "functions.handlers.create", "functions.handlers.lifecycle",
         "functions.handlers.content"),
    ),
    # Also uploads content packs (put_content). Its service module, shared.services.content,
    # shares the host content route's rate limiter with shared.services.host_credentials, so
    # that one module is imported here (no client library comes with it); the host events
    # service never is.
    "create_workshop": Case(
        ("functions.handlers.create", "functions.handlers.content", CONTENT),
        (PUBSUB, COMPUTE, STORAGE, HOST_CALLS, *CONTROL, "shared.services.host_events",
         "functions.handlers.hosts", "shared.services.join", *ACME),
    ),
    "start_workshop": Case(
        ("functions.handlers.lifecycle",),
        (SECRET_MANAGER, COMPUTE, STORAGE, HOST_CALLS, *CONTROL, *HOST_SERVICES,
         "shared.services.join", CONTENT, *ACME),
    ),
    "stop_workshop": Case(
        ("functions.handlers.lifecycle",),
        (SECRET_MANAGER, COMPUTE, STORAGE, HOST_CALLS, *CONTROL, *HOST_SERVICES,
         "shared.services.join", CONTENT, *ACME),
    ),
    "control": Case(
        CONTROL,
        (COMPUTE, STORAGE, *HOST_SERVICES, "shared.services.join", "functions.handlers.create",
         CONTENT, *ACME),
    ),
    # Hosts fetch their workshop's content pack here too: the content service module holds
    # the instructor's upload and progress next to it, so the workshop service (owner
    # checks, no client library) comes along; the deployment certificate is read from Secret
    # Manager, never requested from the CA.
    "hosts": Case(
        ("functions.handlers.hosts", *HOST_SERVICES, CONTENT),
        (COMPUTE, STORAGE, *CONTROL, "shared.services.join", "functions.handlers.content",
         *ACME),
    ),
    # The all-in-one API imports a route's handler when that route is first called.
    "api": Case(
        ("functions.handlers.public",),
        (*CLOUD_CLIENTS, "pydantic", HOST_CALLS, WORKSHOP_SERVICE, "functions.handlers.join",
         CONTENT, *ACME),
    ),
    # CloudEvent and scheduled functions (loaded only, no request): never the HTTP router or
    # its handlers; the certificates function imports its ACME client only when it runs.
    "provisioner": Case(("functions.events",), ("functions.http", "functions.handlers.call")),
    "reconciler": Case(("functions.events",), ("functions.http", "functions.handlers.call")),
    "certificates": Case(
        ("functions.events",), ("functions.http", "functions.handlers.call", *ACME)
    ),
}  # fmt: skip


@pytest.fixture(scope="module")
def first_requests(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Every entry point's fresh process, started together, with its status and modules."""
    tmp = tmp_path_factory.mktemp("coldstart")
    env = coldstart.gcp_env(tmp)
    processes: dict[str, subprocess.Popen[str]] = {}
    try:
        for name in CASES:
            processes[name] = coldstart.start(name, env, tmp)
        yield {name: coldstart.result(p, timeout=300)[0] for name, p in processes.items()}
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()


def test_every_entry_point_has_an_import_budget() -> None:
    http = set(package.ENTRY_POINTS) - {"provisioner", "reconciler", "certificates"}
    assert set(FIRST_REQUESTS) == http == set(SPLIT) | {"api"}
    assert set(CASES) == set(package.ENTRY_POINTS)


@pytest.mark.parametrize("name", list(CASES))
def test_a_function_imports_only_what_its_routes_need(
    first_requests: dict[str, Any], name: str
) -> None:
    case, result = CASES[name], first_requests[name]
    assert result["status"] == (FIRST_REQUESTS[name][1] if name in FIRST_REQUESTS else None)
    modules = set(result["modules"])
    loaded = sorted(m for m in case.never if m in modules)
    assert not loaded, f"{name} imported what its routes never need: {loaded}"
    missing = [m for m in case.needs if m not in modules]
    assert not missing, f"{name} did not run its own code: {missing}"


# ------------------------------------------------------- adapters are built when first used
class _Closing:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_a_bootstrapped_platform_builds_each_adapter_on_first_use(tmp_path: Path) -> None:
    platform = bootstrap(Settings(mode="local", state_dir=tmp_path / "state"))
    try:
        assert platform.built() == frozenset()
        store = platform.store
        assert platform.built() == {"store"} and platform.store is store
        assert platform.secrets.ref_for("probe")
        assert platform.built() == {"store", "secrets"}  # no bus, compute or DNS yet
    finally:
        platform.close()


def test_closing_a_platform_closes_only_what_was_built(tmp_path: Path) -> None:
    bus = _Closing()
    built: list[str] = []
    platform = Platform(
        Settings(mode="local", state_dir=tmp_path),
        bus=bus,  # type: ignore[arg-type]
        builders={"store": lambda p: built.append("store") or _Closing()},
    )
    platform.close()
    assert bus.closed and built == []
    with pytest.raises(AttributeError, match="no compute adapter"):
        _ = platform.compute


def test_the_host_events_route_is_the_path_hosts_post_to() -> None:
    from functions.http import ROUTES
    from shared.adapters.host_events_bus import EVENTS_PATH as HOST_SIDE
    from shared.services.host_events import EVENTS_PATH

    (route,) = [r for r in ROUTES if r.name == "host_events"]
    assert route.template == EVENTS_PATH == HOST_SIDE


def test_the_host_content_route_is_the_path_hosts_fetch() -> None:
    from functions.http import ROUTES
    from shared.services.content import HOST_CONTENT_PATH

    (route,) = [r for r in ROUTES if r.name == "host_content"]
    assert route.template == HOST_CONTENT_PATH


def test_a_gcp_platform_without_a_content_bucket_fails_only_when_content_is_used(
    tmp_path: Path,
) -> None:
    """Bootstrapping (every function's first request) never builds the content store, so a
    deployment without ``CLARATEACH_CONTENT_BUCKET`` serves every other route; the content
    routes get the configuration error on first use."""
    settings = Settings(mode="gcp", gcp_project=coldstart.PROJECT, content_bucket="")
    platform = bootstrap(settings)
    assert "content" not in platform.built()
    with pytest.raises(Unavailable, match="CLARATEACH_CONTENT_BUCKET"):
        _ = platform.content
    assert "content" not in platform.built()


def test_a_hand_built_platform_builds_its_content_store_on_first_use(tmp_path: Path) -> None:
    platform = Platform(Settings(mode="local", state_dir=tmp_path))
    assert "content" not in platform.built()
    store = platform.content
    assert platform.content is store and "content" in platform.built()


def test_the_content_upload_route_keeps_its_larger_body_limit() -> None:
    from functions.http import body_limit
    from functions.wire import MAX_BODY_BYTES, MAX_CONTENT_BYTES

    assert body_limit("PUT", "/api/workshops/w1/content") == MAX_CONTENT_BYTES
    assert body_limit("PUT", "/api/workshops/w1/content/") == MAX_CONTENT_BYTES
    assert body_limit("POST", "/api/workshops/w1/broadcast") == MAX_BODY_BYTES
    assert body_limit("POST", "/api/workshops/w1/content") == MAX_BODY_BYTES
