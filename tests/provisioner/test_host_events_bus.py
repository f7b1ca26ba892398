"""``hostapi:`` on a GCE host: the agent's bus fetches an instance identity token from the
metadata server (``audience`` = the API URL, ``format=full``, header ``Metadata-Flavor: Google``,
as https://cloud.google.com/compute/docs/instances/verifying-instance-identity documents) and
POSTs its event to the real ``join`` function, which publishes it only for that VM's own host.
Locally the same bus presents the host events token instead."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.adapters.host_events_bus import HostEventsBus
from shared.adapters.urls import bus_from_url
from shared.domain.errors import PermanentError, TransientError
from shared.domain.events import HOST_READY, Event
from tests.support.fakes import RecordingBus
from tests.support.host_identity import CredentialsApi, credentials_api, fake_metadata_server

KEY = "sk-ant-api03-" + "k" * 40


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CredentialsApi]:
    with credentials_api(tmp_path / "state", KEY, monkeypatch) as served:
        yield served


def ready(api: CredentialsApi, index: int) -> Event:
    data = {"host_index": index, "attempt": api.workshop.attempt, "endpoint": "https://h.example"}
    return Event(HOST_READY, api.workshop.id, {**data, "timings": {}})


def test_a_gce_host_reports_with_its_identity_token(api: CredentialsApi) -> None:
    with fake_metadata_server(api.tokens, api.instance(1)) as metadata:
        bus = bus_from_url(f"hostapi:{api.url}")
        assert isinstance(bus, HostEventsBus)
        bus.metadata_base = metadata.url
        message_id = bus.publish(ready(api, 1))

    published = api.platform.bus
    assert isinstance(published, RecordingBus)
    assert message_id and [(e.type, e.data["host_index"]) for e in published.events] == [
        (HOST_READY, 1)
    ]
    [request] = metadata.requests
    assert request["query"] == {"audience": api.url, "format": "full"}
    assert request["flavor"] == "Google"


def test_a_gce_host_cannot_report_for_another_host(api: CredentialsApi) -> None:
    with fake_metadata_server(api.tokens, api.instance(0)) as metadata:
        bus = HostEventsBus(api.url, metadata_base=metadata.url)
        with pytest.raises(PermanentError, match="HTTP 403"):
            bus.publish(ready(api, 1))
    assert api.platform.bus.events == []  # type: ignore[attr-defined]


def test_an_unreachable_api_is_transient() -> None:
    bus = HostEventsBus("http://127.0.0.1:9", token="t")
    with pytest.raises(TransientError):
        bus.publish(Event(HOST_READY, "w", {"host_index": 0, "attempt": 0}))


@pytest.mark.parametrize("url", ["http://api.example.com", "ftp://127.0.0.1", "hostapi"])
def test_only_https_or_loopback_http_is_accepted(url: str) -> None:
    with pytest.raises(ValueError):
        HostEventsBus(url)
