"""The provisioner endpoint is functions-framework's own CloudEvent app, fed Pub/Sub push,
and it hears only deliveries that carry the platform's push token."""

from __future__ import annotations

import json
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from clarateach.provisioner_server import FUNCTIONS_SOURCE, ProvisionerServer
from shared.adapters.local_bus import LocalBus, push_envelope
from shared.auth.platform_keys import PUSH_TOKEN_HEADER
from shared.domain.events import Event
from shared.domain.model import utcnow
from tests.support.net import port_open
from tests.support.wait import wait_for

RECORDER = """
import json, os
import functions_framework

@functions_framework.cloud_event
def provisioner(cloud_event):
    with open(os.environ["RECORD_TO"], "a") as out:
        out.write(json.dumps({"id": cloud_event["id"], "data": cloud_event.data}) + "\\n")
"""
TOKEN = "test-push-token-" + "0" * 48


@pytest.fixture
def recorder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[ProvisionerServer, Path]:
    source = tmp_path / "recorder_main.py"
    source.write_text(textwrap.dedent(RECORDER))
    record = tmp_path / "deliveries.jsonl"
    monkeypatch.setenv("RECORD_TO", str(record))
    server = ProvisionerServer(push_token=TOKEN, source=source).start()
    yield server, record
    server.stop()


def _post(url: str, body: bytes, token: str | None = TOKEN) -> int:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers[PUSH_TOKEN_HEADER] = token
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_a_push_envelope_arrives_as_a_cloudevent_keyed_by_message_id(recorder) -> None:
    server, record = recorder
    event = Event("workshop.stop_requested", "w123", {})
    assert _post(server.url, push_envelope(event, "msg-42", utcnow())) == 200
    delivered = [json.loads(line) for line in record.read_text().splitlines()]
    assert [d["id"] for d in delivered] == ["msg-42"]
    assert delivered[0]["data"]["message"]["attributes"]["workshop_id"] == "w123"


def test_the_local_bus_delivers_through_it(recorder) -> None:
    server, record = recorder
    bus = LocalBus(server.url, push_token=TOKEN)
    ids = [bus.publish(Event("workshop.stop_requested", f"w{i}", {})) for i in range(3)]
    assert bus.drain(timeout=10)
    delivered = {json.loads(line)["id"] for line in record.read_text().splitlines()}
    assert delivered == set(ids)
    bus.close()


@pytest.mark.parametrize("token", [None, "", "wrong", TOKEN[:-1], TOKEN + "0", TOKEN.upper()])
def test_a_delivery_without_the_push_token_is_refused_and_never_handled(
    recorder, token: str | None
) -> None:
    """Anything on the machine can reach the loopback port (a learner's shell too): only the
    platform's own bus, which holds the token, is heard."""
    server, record = recorder
    body = push_envelope(Event("host.ready", "w123", {"host_index": 0}), "forged", utcnow())
    assert _post(server.url, body, token=token) == 401
    assert not record.exists()


def test_the_local_bus_without_the_token_is_not_heard(recorder) -> None:
    server, record = recorder
    bus = LocalBus(server.url, push_token="not-the-token", max_attempts=2, initial_backoff=0.01)
    bus.publish(Event("workshop.stop_requested", "w1", {}))
    assert bus.drain(timeout=10)
    assert len(bus.dropped) == 1 and not record.exists()
    bus.close()


def test_a_server_without_a_token_cannot_be_built() -> None:
    with pytest.raises(ValueError, match="push token"):
        ProvisionerServer(push_token="")


def test_a_body_that_is_not_an_event_is_refused(recorder) -> None:
    server, _ = recorder
    assert _post(server.url, b"not json") == 400


def test_stop_releases_the_port(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "recorder_main.py"
    source.write_text(textwrap.dedent(RECORDER))
    server = ProvisionerServer(push_token=TOKEN, source=source).start()
    port = int(server.url.rsplit(":", 1)[1].strip("/"))
    assert port_open("127.0.0.1", port)
    server.stop()
    wait_for(lambda: not port_open("127.0.0.1", port), timeout=5, message="port closed")


def test_the_default_source_is_the_deployed_main_module() -> None:
    assert FUNCTIONS_SOURCE.name == "main.py" and FUNCTIONS_SOURCE.parent.name == "functions"
    assert "provisioner" in FUNCTIONS_SOURCE.read_text()
