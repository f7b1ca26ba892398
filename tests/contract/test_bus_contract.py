"""One contract for the event-bus port, against the local bus and the real Pub/Sub emulator.

Delivery goes the production way on both: the Pub/Sub push format POSTed to a
functions-framework CloudEvent function served over HTTP (the emulator uses a real push
subscription). The function must receive a CloudEvent whose id is the message id, whose data
carries the message and its attributes, in publish order per workshop, and a non-2xx answer
must cause a redelivery.
"""

from __future__ import annotations

import base64
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import functions_framework
import pytest

from shared.adapters.local_bus import LocalBus
from shared.domain.events import HOST_READY, HOST_USAGE, WORKSHOP_START_REQUESTED, Event
from shared.ports.event_bus import EventBus
from tests.support.emulators import Emulator
from tests.support.net import serve_wsgi
from tests.support.wait import wait_for

RECORDER = Path(__file__).resolve().parents[1] / "provisioner" / "bus_recorder.py"


@dataclass
class Endpoint:
    url: str
    received: list[Any]


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    """The recording CloudEvent function, served by functions-framework on a free port."""
    app = functions_framework.create_app(
        target="record", source=str(RECORDER), signature_type="cloudevent"
    )
    module = sys.modules["bus_recorder"]  # the instance functions-framework just loaded
    with serve_wsgi(app) as url:
        yield Endpoint(url + "/", module.RECEIVED)


def local_bus(endpoint: Endpoint) -> Iterator[EventBus]:
    bus = LocalBus(push_url=endpoint.url, initial_backoff=0.01)
    yield bus
    assert bus.drain(timeout=10)
    assert bus.dropped == []
    bus.close()


def pubsub_bus(endpoint: Endpoint, emulator: Emulator) -> Iterator[EventBus]:
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    from shared.adapters.pubsub_bus import PubSubBus

    topic = f"events-{uuid.uuid4().hex[:8]}"
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    topic_path = publisher.topic_path(emulator.project, topic)
    publisher.create_topic(name=topic_path)
    subscription = subscriber.subscription_path(emulator.project, f"push-{topic}")
    subscriber.create_subscription(
        request={
            "name": subscription,
            "topic": topic_path,
            "enable_message_ordering": True,
            "push_config": {"push_endpoint": endpoint.url},
            "ack_deadline_seconds": 10,
            "retry_policy": {"minimum_backoff": {"seconds": 0}, "maximum_backoff": {"seconds": 1}},
        }
    )
    bus = PubSubBus(project=emulator.project, topic=topic)
    try:
        yield bus
    finally:
        bus.close()
        subscriber.delete_subscription(subscription=subscription)
        publisher.delete_topic(topic=topic_path)
        subscriber.close()


@pytest.fixture(params=["local", pytest.param("pubsub", marks=pytest.mark.emulator)])
def bus(request: pytest.FixtureRequest, endpoint: Endpoint) -> Iterator[EventBus]:
    if request.param == "local":
        yield from local_bus(endpoint)
    else:
        yield from pubsub_bus(endpoint, request.getfixturevalue("pubsub_emulator"))


def deliveries(endpoint: Endpoint, message_id: str, count: int = 1) -> list[Any]:
    def found() -> list[Any]:
        hits = [e for e in list(endpoint.received) if e["id"] == message_id]
        return hits if len(hits) >= count else []

    return wait_for(found, timeout=30, message=f"{count} deliveries of {message_id}")


def test_a_published_event_arrives_as_a_cloudevent_with_the_message(
    bus: EventBus, endpoint: Endpoint
) -> None:
    event = Event(WORKSHOP_START_REQUESTED, "wsbus0001", {"attempt": 3})

    message_id = bus.publish(event)

    [cloud_event] = deliveries(endpoint, message_id)
    message = cloud_event.data["message"]
    assert message["messageId"] == message_id
    assert message["attributes"] == {"type": WORKSHOP_START_REQUESTED, "workshop_id": "wsbus0001"}
    received = Event.from_message(base64.b64decode(message["data"]))
    assert received == event
    assert cloud_event["type"] == "google.cloud.pubsub.topic.v1.messagePublished"


def test_events_of_one_workshop_arrive_in_publish_order(bus: EventBus, endpoint: Endpoint) -> None:
    ids = [bus.publish(Event(HOST_READY, "wsorder01", {"host_index": n})) for n in range(5)]

    deliveries(endpoint, ids[-1])
    wait_for(
        lambda: all(any(e["id"] == i for e in endpoint.received) for i in ids),
        timeout=30,
        message="all five events",
    )
    order = [e["id"] for e in endpoint.received if e["id"] in ids]
    assert order == ids


def test_lifecycle_events_do_not_queue_behind_usage_reports(
    bus: EventBus, endpoint: Endpoint
) -> None:
    """On a subscription with message ordering, Pub/Sub delivers the next message of an
    ordering key only after the previous one is acknowledged, redeliveries included
    (https://cloud.google.com/pubsub/docs/ordering). ``host.usage`` is published without a
    key, so a usage report the provisioner keeps refusing does not hold back the workshop's
    ``host.ready``. Fails before the fix: every event carried the workshop id as key."""
    usage = bus.publish(Event(HOST_USAGE, "wsqueue01", {"fail_times": 3}))
    ready = bus.publish(Event(HOST_READY, "wsqueue01", {"host_index": 0}))

    deliveries(endpoint, ready)
    deliveries(endpoint, usage, count=4)
    order = [e["id"] for e in list(endpoint.received) if e["id"] in (usage, ready)]
    assert order.index(ready) < len(order) - 1 - order[::-1].index(usage)


def test_a_refused_delivery_is_redelivered(bus: EventBus, endpoint: Endpoint) -> None:
    message_id = bus.publish(Event(HOST_USAGE, "wsretry01", {"fail_times": 1}))

    first, second = deliveries(endpoint, message_id, count=2)[:2]
    assert first.data["message"]["data"] == second.data["message"]["data"]


def test_publish_returns_before_the_consumer_finishes(endpoint: Endpoint) -> None:
    """The local bus hands off to its worker: a consumer that keeps failing does not block."""
    bus = LocalBus(push_url=endpoint.url, initial_backoff=0.01, max_attempts=3)
    message_id = bus.publish(Event(HOST_USAGE, "wsslow001", {"fail_times": 99}))
    assert message_id
    assert bus.drain(timeout=10)
    assert bus.dropped == [message_id]
    assert len([e for e in endpoint.received if e["id"] == message_id]) == 3
