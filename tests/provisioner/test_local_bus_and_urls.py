"""LocalBus lanes and the adapter-URL helpers agents are configured with."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from shared.adapters.host_credentials import HostCredentialSecrets
from shared.adapters.local_bus import LocalBus
from shared.adapters.local_secrets import LocalSecrets
from shared.adapters.pubsub_bus import PubSubBus
from shared.adapters.urls import bus_from_url, events_url_for, secrets_from_url, secrets_url_for
from shared.domain.errors import TransientError
from shared.domain.events import HOST_USAGE, Event
from shared.settings import Settings
from tests.support.wait import wait_for


class _Endpoint(BaseHTTPRequestHandler):
    """Refuses every delivery for workshop ``blocked``; accepts the rest."""

    accepted: list[bytes] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        blocked = b'"workshop_id":"blocked"' in body
        if not blocked:
            self.accepted.append(body)
        self.send_response(503 if blocked else 204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[str]:
    _Endpoint.accepted = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Endpoint)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    thread.join(timeout=5)


def test_a_failing_workshop_does_not_hold_up_other_workshops(endpoint: str) -> None:
    bus = LocalBus(push_url=endpoint, initial_backoff=0.05, max_backoff=0.05, max_attempts=1000)
    bus.publish(Event(HOST_USAGE, "blocked", {}))
    bus.publish(Event(HOST_USAGE, "healthy", {}))

    wait_for(lambda: len(_Endpoint.accepted) == 1, timeout=10, message="healthy event delivered")
    assert bus.drain(timeout=0) is False, "the blocked lane is still retrying"
    bus._closed.set()
    assert bus.drain(timeout=10)


def test_publish_without_a_push_url_is_a_transient_error() -> None:
    with pytest.raises(TransientError):
        LocalBus(push_url="").publish(Event(HOST_USAGE, "w", {}))


def test_a_non_http_push_url_is_refused() -> None:
    with pytest.raises(ValueError):
        LocalBus(push_url="file:///etc/passwd")


def test_bus_from_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", "127.0.0.1:1")  # no credentials needed
    local = bus_from_url("local:http://127.0.0.1:5000/")
    assert isinstance(local, LocalBus) and local.push_url == "http://127.0.0.1:5000/"
    pubsub = bus_from_url("pubsub:proj/workshop-events")
    assert isinstance(pubsub, PubSubBus)
    assert pubsub.topic_path == "projects/proj/topics/workshop-events"
    pubsub.close()


@pytest.mark.parametrize(
    "url", ["", "local:", "pubsub:proj", "pubsub:/t", "pubsub:a/b/c", "kafka:x"]
)
def test_bad_bus_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        bus_from_url(url)


def test_secrets_from_url(tmp_path: Path) -> None:
    local = secrets_from_url(f"local:{tmp_path}")
    assert isinstance(local, LocalSecrets) and local.directory == tmp_path
    host = secrets_from_url("hostcred:https://api.example.com/")
    assert isinstance(host, HostCredentialSecrets)
    assert host.api_base_url == "https://api.example.com"
    for bad in ("", "local:", "gcp:", "gcp:a/b", "vault:x", "hostcred:", "hostcred:ftp://x"):
        with pytest.raises(ValueError):
            secrets_from_url(bad)


def test_urls_for_settings_round_trip(tmp_path: Path) -> None:
    local = Settings(
        mode="local",
        state_dir=tmp_path,
        provisioner_url="http://127.0.0.1:7/",
        public_api_url="http://127.0.0.1:8/",
    )
    # Hosts report to the API, never to the push endpoint or the topic.
    assert events_url_for(local) == "hostapi:http://127.0.0.1:8"
    assert secrets_url_for(local) == f"local:{tmp_path / 'secrets'}"
    gcp = Settings(
        mode="gcp", gcp_project="proj", events_topic="events", public_api_url="https://a.x/"
    )
    assert events_url_for(gcp) == "hostapi:https://a.x"
    assert secrets_url_for(gcp) == "hostcred:https://a.x"
    join_url = replace(gcp, host_credentials_url="https://join.x")
    assert secrets_url_for(join_url) == "hostcred:https://join.x"
