"""One entry point's cold start, in a fresh interpreter, as Cloud Run starts a function.

Shared by ``tests/api/test_entrypoint_imports.py`` (which modules each function imports) and
``benchmarks/entrypoint_import_bench.py`` (how long that takes). The probe builds the
functions-framework app for ``FUNCTION_TARGET=<entry>`` from ``functions/main.py`` in GCP
mode, serves one first request (``FIRST_REQUESTS``) and prints, as JSON, the status, the
loaded modules and its own timings.

No request reaches Google: the credentials are a throw-away service-account key whose token
URL is a closed local port, the Firestore and Pub/Sub clients point at a closed local port
(``*_EMULATOR_HOST``), and every first request is answered before any adapter call (401, 400,
405 or health).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[2]
MAIN = ROOT / "functions" / "main.py"
PROJECT = "clarateach-test"

#: Entry point -> its first request (method, path at the function's URL, body) and the
#: status it answers without calling any cloud service.
FIRST_REQUESTS: dict[str, tuple[tuple[str, str, str], int]] = {
    "health": (("GET", "/", ""), 200),
    "jwks": (("POST", "/", ""), 405),  # a GET would read the signing key from Secret Manager
    "join_workshop": (("POST", "/", "{}"), 400),
    "workshops": (("GET", "/", ""), 401),
    "create_workshop": (("POST", "/", "{}"), 401),
    "start_workshop": (("POST", "/w1/start", ""), 401),
    "stop_workshop": (("POST", "/w1/stop", ""), 401),
    "control": (("POST", "/w1/broadcast", "{}"), 401),
    "hosts": (("POST", "/credentials", ""), 401),
    "api": (("GET", "/api/health", ""), 200),
}

PROBE = """
import json, sys, time
started = time.perf_counter()
import functions_framework
target, source, method, path, body = sys.argv[1:6]
app = functions_framework.create_app(target=target, source=source)
loaded = time.perf_counter()
status = None
if method:
    response = app.test_client().open(
        path, method=method, data=body.encode(), content_type="application/json"
    )
    status = response.status_code
served = time.perf_counter()
print(json.dumps({
    "status": status,
    "modules": sorted(sys.modules),
    "load_ms": (loaded - started) * 1000,
    "first_request_ms": (served - loaded) * 1000,
}))
"""


def fake_service_account(path: Path) -> Path:
    """A service-account key file google-auth accepts; its token URL is a closed port."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    info = {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "test",
        "private_key": pem,
        "client_email": f"fn@{PROJECT}.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": f"http://127.0.0.1:{free_port()}/token",
    }
    path.write_text(json.dumps(info))
    return path


def gcp_env(workdir: Path) -> dict[str, str]:
    """The environment of a GCP-mode function that can reach no Google service."""
    closed = f"127.0.0.1:{free_port()}"
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CLARATEACH_MODE": "gcp",
        "CLARATEACH_GCP_PROJECT": PROJECT,
        "CLARATEACH_GCE_ZONE": "europe-west1-b",
        "CLARATEACH_INSTRUCTOR_AUDIENCE": "https://api.example",
        "GOOGLE_APPLICATION_CREDENTIALS": str(fake_service_account(workdir / "sa.json")),
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "FIRESTORE_EMULATOR_HOST": closed,
        "PUBSUB_EMULATOR_HOST": closed,
    }


def probe_argv(target: str, *python_flags: str) -> list[str]:
    """The probe's command line; an entry point without a first request (the CloudEvent
    functions) is only loaded."""
    (method, path, body), _ = FIRST_REQUESTS.get(target, (("", "", ""), 0))
    return [sys.executable, *python_flags, "-c", PROBE, target, str(MAIN), method, path, body]


def start(target: str, env: dict[str, str], cwd: Path, *python_flags: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        probe_argv(target, *python_flags),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
    )


def result(process: subprocess.Popen[str], timeout: float) -> tuple[dict[str, Any], str]:
    """The probe's JSON report and its stderr (``-X importtime`` writes there)."""
    out, err = process.communicate(timeout=timeout)
    if process.returncode != 0:
        raise RuntimeError(f"cold-start probe failed ({process.returncode}): {err[-2000:]}")
    report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return report, err
