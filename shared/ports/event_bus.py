"""The event bus port: publish workshop and host events.

Adapters: ``shared.adapters.pubsub_bus.PubSubBus`` (GCP) and
``shared.adapters.local_bus.LocalBus`` (embedded; POSTs the Pub/Sub push envelope to the
provisioner endpoint with retry and backoff). Delivery is at least once on both: consumers
must be idempotent. Events for one workshop are delivered in publish order where the
transport allows it (Pub/Sub ordering key = workshop id); consumers must still tolerate
reordering.
"""

from __future__ import annotations

import abc

from shared.domain.events import Event


class EventBus(abc.ABC):
    @abc.abstractmethod
    def publish(self, event: Event) -> str:
        """Hand ``event`` to the transport; return its message id once the transport accepted it.

        Raises ``TransientError`` if it could not be accepted (the caller decides whether to
        retry). Never blocks on the consumer having *processed* the event.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Flush and release resources. Optional."""
