"""The ``provisioner`` and ``reconciler`` entry points, called through functions-framework.

Pub/Sub push envelopes are POSTed exactly as Pub/Sub (and the local bus) send them; the
framework converts them to CloudEvents whose id is the message id. 2xx acknowledges, anything
else makes the transport redeliver.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import functions_framework
import pytest

from functions.runtime import set_platform
from shared.adapters.local_bus import push_envelope
from shared.bootstrap import Platform
from shared.domain.events import WORKSHOP_START_REQUESTED, Event
from shared.domain.model import utcnow
from shared.ports.compute import Compute
from tests.provisioner.conftest import new_workshop
from tests.support.compute_doubles import FailingCompute, InMemoryCompute

SOURCE = str(Path(__file__).resolve().parents[2] / "functions" / "events.py")
MakePlatform = Callable[[Compute], Platform]


@pytest.fixture
def client() -> Iterator[Any]:
    app = functions_framework.create_app(
        target="provisioner", source=SOURCE, signature_type="cloudevent"
    )
    yield app.test_client()
    set_platform(None)


def push(client: Any, body: bytes) -> int:
    return client.post("/", data=body, content_type="application/json").status_code


def envelope_with_data(data: bytes) -> bytes:
    return json.dumps(
        {
            "message": {
                "data": base64.b64encode(data).decode(),
                "messageId": uuid.uuid4().hex,
                "attributes": {},
                "publishTime": "2026-01-01T00:00:00Z",
            },
            "subscription": "projects/local/subscriptions/provisioner",
        }
    ).encode()


def test_a_start_push_creates_hosts_and_its_redelivery_is_a_duplicate(
    client: Any, make_platform: MakePlatform
) -> None:
    compute = InMemoryCompute()
    platform = make_platform(compute)
    set_platform(platform)
    workshop = new_workshop(platform, seats=20, per_host=10)
    body = push_envelope(
        Event(WORKSHOP_START_REQUESTED, workshop.id, {"attempt": 1}), "message-1", utcnow()
    )

    assert push(client, body) == 200
    assert push(client, body) == 200

    assert sorted(compute.creations.values()) == [1, 1]
    assert platform.store.record_event("message-1") is False, "deduplicated on the messageId"


@pytest.mark.parametrize("data", [b"not json", b"\xff\xfe", b"{}", b'{"version": 1, "type": "x"}'])
def test_poison_messages_are_acknowledged(
    client: Any, make_platform: MakePlatform, data: bytes
) -> None:
    set_platform(make_platform(InMemoryCompute()))
    assert push(client, envelope_with_data(data)) == 200


def test_non_base64_data_is_acknowledged(client: Any, make_platform: MakePlatform) -> None:
    set_platform(make_platform(InMemoryCompute()))
    body = json.dumps(
        {
            "message": {"data": "%%%not-base64", "messageId": "m-9"},
            "subscription": "projects/local/subscriptions/provisioner",
        }
    ).encode()
    assert push(client, body) == 200


def test_event_for_an_unknown_workshop_is_acknowledged(
    client: Any, make_platform: MakePlatform
) -> None:
    set_platform(make_platform(InMemoryCompute()))
    event = Event(WORKSHOP_START_REQUESTED, "nosuchworkshop", {"attempt": 1})
    assert push(client, push_envelope(event, "m-2", utcnow())) == 200


def test_a_transient_failure_answers_an_error_so_the_message_is_redelivered(
    client: Any, make_platform: MakePlatform
) -> None:
    platform = make_platform(FailingCompute("unavailable"))
    set_platform(platform)
    workshop = new_workshop(platform, seats=10, per_host=10)
    event = Event(WORKSHOP_START_REQUESTED, workshop.id, {"attempt": 1})

    assert push(client, push_envelope(event, "m-3", utcnow())) == 500


def test_a_quota_failure_is_acknowledged_and_visible_on_the_workshop(
    client: Any, make_platform: MakePlatform
) -> None:
    platform = make_platform(FailingCompute("quota"))
    set_platform(platform)
    workshop = new_workshop(platform, seats=10, per_host=10)
    event = Event(WORKSHOP_START_REQUESTED, workshop.id, {"attempt": 1})

    assert push(client, push_envelope(event, "m-4", utcnow())) == 200

    failed = platform.store.get_workshop(workshop.id)
    assert failed is not None and failed.status == "failed"
    assert failed.error is not None and "out of quota" in failed.error


def test_reconciler_http_entry_point_runs_a_pass(make_platform: MakePlatform) -> None:
    compute = InMemoryCompute()
    platform = make_platform(compute)
    set_platform(platform)
    try:
        app = functions_framework.create_app(
            target="reconciler", source=SOURCE, signature_type="http"
        )
        response = app.test_client().post("/")
    finally:
        set_platform(None)
    assert response.status_code == 200
    assert response.get_json()["report"]["orphans_deleted"] == []
