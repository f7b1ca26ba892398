"""The GCP event bus: Google Cloud Pub/Sub with message ordering by workshop id.

Lifecycle events carry the workshop id as ordering key; ``host.usage`` carries none
(``shared.domain.events.UNORDERED_EVENT_TYPES``), so usage never queues ahead of them.

Works against the emulator when ``PUBSUB_EMULATOR_HOST`` is set (the client library reads it).
Publishing waits for the server's acknowledgement (bounded by ``publish_timeout``) so a
returned message id means Pub/Sub has the event; any failure becomes ``TransientError``.
"""

from __future__ import annotations

import logging
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1  # type: ignore[attr-defined]
from google.cloud.pubsub_v1.publisher import exceptions as publish_errors

from shared.domain.errors import TransientError
from shared.domain.events import Event
from shared.ports.event_bus import EventBus

log = logging.getLogger(__name__)


class PubSubBus(EventBus):
    def __init__(
        self,
        project: str,
        topic: str,
        *,
        publisher: Any | None = None,
        publish_timeout: float = 30.0,
    ) -> None:
        if not project or not topic:
            raise ValueError("PubSubBus needs a project and a topic")
        self._publisher = publisher or pubsub_v1.PublisherClient(
            publisher_options=pubsub_v1.types.PublisherOptions(enable_message_ordering=True)
        )
        self.topic_path = self._publisher.topic_path(project, topic)
        self._timeout = publish_timeout

    def publish(self, event: Event) -> str:
        data, attributes, ordering_key = event.to_message()
        try:
            future = self._publisher.publish(
                self.topic_path, data, ordering_key=ordering_key, **attributes
            )
            return str(future.result(timeout=self._timeout))
        except (
            gexc.GoogleAPIError,
            TimeoutError,
            publish_errors.PublishToPausedOrderingKeyException,
        ) as exc:
            # A failed publish pauses its ordering key; resume so later events can go out.
            if ordering_key:
                self._publisher.resume_publish(self.topic_path, ordering_key)
            log.warning(
                "publish failed", extra={"workshop_id": event.workshop_id, "event_type": event.type}
            )
            raise TransientError(f"could not publish {event.type}: {type(exc).__name__}") from exc

    def close(self) -> None:
        self._publisher.stop()
