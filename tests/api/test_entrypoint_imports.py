"""Cold starts: each split function imports only what its own routes need (issue 23).

Each entry point runs in a fresh interpreter the way Cloud Run's functions-framework starts it
with ``FUNCTION_TARGET=<entry>``: it builds the app from ``functions/main.py`` in GCP mode and
serves one first request. The test then reads that process's ``sys.modules``: the heavy client
libraries and the services of *other* routes must be absent, and the function's own handler
must be present (so the request really went through it).

No request reaches Google: the credentials are a throw-away service-account key whose token
URL is a closed local port, the Firestore and Pub/Sub clients point at a closed local port
(``*_EMULATOR_HOST``), and every first request is answered before any adapter call (401, 400,
405 or health). Timing is measured in ``benchmarks/entrypoint_import_bench.py``, never here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from functions import package
from functions.entrypoints import SPLIT
from shared.bootstrap import Platform, bootstrap
from shared.settings import Settings
from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[2]
MAIN = ROOT / "functions" / "main.py"

FIRESTORE = "google.cloud.firestore"
PUBSUB = "google.cloud.pubsub_v1"
COMPUTE = "google.cloud.compute_v1"
SECRET_MANAGER = "google.cloud.secretmanager"
CLOUD_CLIENTS = (FIRESTORE, PUBSUB, COMPUTE, SECRET_MANAGER)
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

PROBE = """
import json, sys, functions_framework
target, source, method, path, body = sys.argv[1:6]
app = functions_framework.create_app(target=target, source=source)
response = app.test_client().open(
    path, method=method, data=body.encode(), content_type="application/json"
)
print(json.dumps({"status": response.status_code, "modules": sorted(sys.modules)}))
"""


@dataclass(frozen=True)
class Case:
    #: The first request: method, path at the function's URL, body.
    request: tuple[str, str, str]
    status: int
    #: Imported by serving it (the function's own code).
    needs: tuple[str, ...]
    #: Never imported by this function.
    never: tuple[str, ...]


CASES: dict[str, Case] = {
    "health": Case(
        ("GET", "/", ""), 200, ("functions.handlers.public",),
        (*CLOUD_CLIENTS, "pydantic", "jwt", HOST_CALLS, WORKSHOP_SERVICE),
    ),
    "jwks": Case(
        ("POST", "/", ""), 405, ("functions.handlers.jwks", "jwt"),
        (FIRESTORE, PUBSUB, COMPUTE, "pydantic", HOST_CALLS, WORKSHOP_SERVICE),
    ),
    # Reads state and the signing key (Secret Manager), claims seats; never publishes,
    # never touches VMs, never reads API keys or calls hosts.
    "join_workshop": Case(
        ("POST", "/", "{}"), 400, ("functions.handlers.join", "shared.services.join", "jwt"),
        (PUBSUB, COMPUTE, HOST_CALLS, WORKSHOP_SERVICE, *HOST_SERVICES, *CONTROL),
    ),
    # Read-only: no publisher, no secrets, no VMs, none of the write handlers.
    "workshops": Case(
        ("GET", "/", ""), 401, ("functions.handlers.reads",),
        (PUBSUB, COMPUTE, SECRET_MANAGER, HOST_CALLS, *CONTROL,
         "functions.handlers.create", "functions.handlers.lifecycle"),
    ),
    "create_workshop": Case(
        ("POST", "/", "{}"), 401, ("functions.handlers.create",),
        (PUBSUB, COMPUTE, HOST_CALLS, *CONTROL, *HOST_SERVICES, "shared.services.join"),
    ),
    "start_workshop": Case(
        ("POST", "/w1/start", ""), 401, ("functions.handlers.lifecycle",),
        (SECRET_MANAGER, COMPUTE, HOST_CALLS, *CONTROL, *HOST_SERVICES, "shared.services.join"),
    ),
    "stop_workshop": Case(
        ("POST", "/w1/stop", ""), 401, ("functions.handlers.lifecycle",),
        (SECRET_MANAGER, COMPUTE, HOST_CALLS, *CONTROL, *HOST_SERVICES, "shared.services.join"),
    ),
    "control": Case(
        ("POST", "/w1/broadcast", "{}"), 401, CONTROL,
        (COMPUTE, *HOST_SERVICES, "shared.services.join", "functions.handlers.create"),
    ),
    "hosts": Case(
        ("POST", "/credentials", ""), 401, ("functions.handlers.hosts", *HOST_SERVICES),
        (COMPUTE, WORKSHOP_SERVICE, *CONTROL, "shared.services.join"),
    ),
    # The all-in-one API imports a route's handler when that route is first called.
    "api": Case(
        ("GET", "/api/health", ""), 200, ("functions.handlers.public",),
        (*CLOUD_CLIENTS, "pydantic", HOST_CALLS, WORKSHOP_SERVICE, "functions.handlers.join"),
    ),
}  # fmt: skip


def _fake_service_account(path: Path) -> Path:
    """A service-account key file google-auth accepts; its token URL is a closed port."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": "clarateach-test",
        "private_key_id": "test",
        "private_key": pem,
        "client_email": "fn@clarateach-test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": f"http://127.0.0.1:{free_port()}/token",
    }
    path.write_text(json.dumps(info))
    return path


@pytest.fixture(scope="module")
def first_requests(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Every entry point's fresh process, started together, with its status and modules."""
    tmp = tmp_path_factory.mktemp("coldstart")
    closed = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CLARATEACH_MODE": "gcp",
        "CLARATEACH_GCP_PROJECT": "clarateach-test",
        "CLARATEACH_GCE_ZONE": "europe-west1-b",
        "CLARATEACH_INSTRUCTOR_AUDIENCE": "https://api.example",
        "GOOGLE_APPLICATION_CREDENTIALS": str(_fake_service_account(tmp / "sa.json")),
        "FIRESTORE_EMULATOR_HOST": closed,
        "PUBSUB_EMULATOR_HOST": closed,
        "GOOGLE_CLOUD_PROJECT": "clarateach-test",
    }
    processes = {
        name: subprocess.Popen(
            [sys.executable, "-c", PROBE, name, str(MAIN), *case.request],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tmp,
        )
        for name, case in CASES.items()
    }
    results: dict[str, Any] = {}
    try:
        for name, process in processes.items():
            out, err = process.communicate(timeout=300)  # a loaded CI machine
            assert process.returncode == 0, f"{name}: {err[-2000:]}"
            results[name] = json.loads(out.strip().splitlines()[-1])
        yield results
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()


def test_every_http_entry_point_has_an_import_budget() -> None:
    http = set(package.ENTRY_POINTS) - {"provisioner", "reconciler"}
    assert set(CASES) == http == set(SPLIT) | {"api"}


@pytest.mark.parametrize("name", list(CASES))
def test_a_function_imports_only_what_its_routes_need(
    first_requests: dict[str, Any], name: str
) -> None:
    case, result = CASES[name], first_requests[name]
    assert result["status"] == case.status
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
