"""Stand-ins for GCE instance identity: Google's token verifier, the metadata server, and the
real API (functions-framework ``join`` app) served over loopback.

``IdentityTokens`` mints opaque tokens and verifies them like google-auth does (unknown token:
bad signature; other audience: refused), returning the ``format=full`` claims a GCE VM gets.
Tokens are deliberately not JWT-shaped, so a test that finds one in a log proves it was logged
(the log redactor would hide a JWT and mask the leak).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import functions_framework
import pytest

from functions import runtime
from shared.adapters.sqlite_store import SqliteStore
from shared.auth.instructor import Instructor
from shared.bootstrap import Platform, bootstrap
from shared.domain.model import Workshop, WorkshopStatus, host_name, plan_hosts
from shared.services.workshops import create_workshop
from shared.settings import Settings
from tests.support.fakes import MemorySecrets, NullCompute, RecordingBus
from tests.support.net import serve_wsgi

PROJECT = "proj-test"
ZONE = "europe-west1-b"
HOST_ACCOUNT = "ct-host@proj-test.iam.gserviceaccount.com"
MAIN = str(Path(__file__).resolve().parents[2] / "functions" / "main.py")


def identity_claims(instance_name: str, audience: str, **changes: Any) -> dict[str, Any]:
    """The claims of a ``format=full`` identity token; ``changes`` override top-level claims,
    ``project_id``/``zone``/``instance_name`` override the compute_engine ones."""
    compute = {
        "instance_creation_timestamp": 1764000000,
        "instance_id": "1234567890123456789",
        "instance_name": instance_name,
        "project_id": PROJECT,
        "project_number": 123456789012,
        "zone": ZONE,
    }
    for key in ("project_id", "zone", "instance_name"):
        if key in changes:
            compute[key] = changes.pop(key)
    claims: dict[str, Any] = {
        "iss": "https://accounts.google.com",
        "aud": audience,
        "azp": "112233445566778899",
        "sub": "112233445566778899",
        "email": HOST_ACCOUNT,
        "email_verified": True,
        "iat": 1764000000,
        "exp": 1764003600,
        "google": {"compute_engine": compute},
    }
    claims.update(changes)
    return claims


@dataclass
class IdentityTokens:
    """Minted tokens and their claims; ``verify`` has the ``IdTokenVerifier`` signature."""

    claims: dict[str, dict[str, Any]] = field(default_factory=dict)
    verified: list[str] = field(default_factory=list)

    def mint(self, claims: dict[str, Any]) -> str:
        token = "host-identity-" + secrets.token_hex(24)
        self.claims[token] = claims
        return token

    def verify(self, token: str, audience: str) -> Mapping[str, Any]:
        self.verified.append(token)
        claims = self.claims.get(token)
        if claims is None:
            raise ValueError("Could not verify token signature")
        if claims.get("aud") != audience:
            raise ValueError("Token has wrong audience")
        return claims


@dataclass
class FakeMetadataServer:
    """``GET /computeMetadata/v1/instance/service-accounts/default/identity`` for one VM."""

    url: str
    tokens: IdentityTokens
    instance_name: str
    requests: list[dict[str, Any]]


@contextmanager
def fake_metadata_server(
    tokens: IdentityTokens, instance_name: str
) -> Iterator[FakeMetadataServer]:
    requests: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            requests.append(
                {"path": parts.path, "query": query, "flavor": self.headers.get("Metadata-Flavor")}
            )
            wanted = "/computeMetadata/v1/instance/service-accounts/default/identity"
            if parts.path != wanted or self.headers.get("Metadata-Flavor") != "Google":
                self._reply(403 if parts.path == wanted else 404, b"refused")
                return
            if query.get("format") != "full" or not query.get("audience"):
                self._reply(400, b"audience and format=full are required by these tests")
                return
            token = tokens.mint(identity_claims(instance_name, query["audience"]))
            self._reply(200, token.encode())

        def _reply(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/text")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield FakeMetadataServer(
            f"http://127.0.0.1:{server.server_address[1]}", tokens, instance_name, requests
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass
class CredentialsApi:
    """The real ``join`` function over loopback in GCP mode, with one running workshop."""

    url: str
    platform: Platform
    workshop: Workshop
    tokens: IdentityTokens

    def instance(self, index: int) -> str:
        return host_name(self.workshop.id, index)


@contextmanager
def credentials_api(
    state_dir: Path, api_key: str, monkeypatch: pytest.MonkeyPatch, *, seats: int = 4
) -> Iterator[CredentialsApi]:
    """Serve ``POST /api/hosts/credentials`` for a running ``seats``-seat workshop (one host
    per 2 seats) whose key is ``api_key``. Google's verifier is replaced by ``IdentityTokens``;
    everything else (framework app, router, service, SQLite store) is the production code."""
    tokens = IdentityTokens()
    monkeypatch.setattr("shared.auth.host.google_id_token_verifier", lambda: tokens.verify)
    settings = Settings(mode="local", state_dir=state_dir)
    store = SqliteStore(settings.database_path)
    platform = bootstrap(
        settings, store=store, bus=RecordingBus(), compute=NullCompute(), secrets=MemorySecrets()
    )
    created = create_workshop(
        platform, Instructor("t@example.org"), name="w", seats=seats, api_key=api_key,
        seats_per_host=2,
    )  # fmt: skip
    workshop = store.update_workshop(
        created.id, lambda w: replace(w, status=WorkshopStatus.RUNNING, hosts=plan_hosts(w))
    )
    try:
        with served_function(platform, "hosts") as url:
            platform.settings = replace(
                settings,
                mode="gcp",
                gcp_project=PROJECT,
                gce_zone=ZONE,
                host_service_account=HOST_ACCOUNT,
                host_credentials_url=url,
            )
            yield CredentialsApi(url, platform, workshop, tokens)
    finally:
        store.close()


@contextmanager
def served_function(platform: Platform, target: str = "hosts") -> Iterator[str]:
    """The real functions-framework ``target`` app for ``platform``, on a loopback port."""
    runtime.set_platform(platform)
    app = functions_framework.create_app(target=target, source=MAIN)
    try:
        with serve_wsgi(app) as url:
            yield url
    finally:
        runtime.set_platform(None)
