"""The embedded event bus: POSTs each event to the provisioner in the Pub/Sub push format.

Delivery mirrors a Pub/Sub push subscription with message ordering:

* at least once: a non-2xx answer or a connection error is retried with bounded exponential
  backoff (``initial_backoff`` doubling up to ``max_backoff``) until ``max_attempts``;
* in order per workshop: each ordering key (the workshop id) has its own lane, and the next
  event of a lane is sent only after the previous one was acknowledged. Lanes are
  independent, so one failing workshop does not hold up the others.

Every delivery carries ``X-ClaraTeach-Push-Token: <push_token>``; the local provisioner
endpoint refuses deliveries without it (``clarateach.provisioner_server``), so a process that
merely reaches the port (a learner's shell shares the machine's loopback) is not heard.

``publish`` returns as soon as the event is queued in memory. Durability trade-off: events
still queued when the process dies are lost (Pub/Sub would keep them). The platform copes:
the API only publishes after writing the state change, and the reconciler finishes or fails
whatever a lost event left half done (stuck provisioning, interrupted stops). Call
``drain()`` before shutting down to flush what is queued.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import urllib.error
import urllib.request
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.auth.platform_keys import PUSH_TOKEN_HEADER
from shared.domain.errors import TransientError
from shared.domain.events import Event
from shared.ports.event_bus import EventBus

log = logging.getLogger(__name__)

SUBSCRIPTION = "projects/local/subscriptions/provisioner"


@dataclass(frozen=True)
class PushMessage:
    message_id: str
    ordering_key: str
    body: bytes  # the JSON push envelope


def push_envelope(event: Event, message_id: str, publish_time: datetime) -> bytes:
    """The body Pub/Sub POSTs to a push endpoint for ``event`` (docs/protocol.md section 4)."""
    data, attributes, ordering_key = event.to_message()
    envelope = {
        "message": {
            "data": base64.b64encode(data).decode("ascii"),
            "attributes": attributes,
            "messageId": message_id,
            "publishTime": publish_time.isoformat().replace("+00:00", "Z"),
            "orderingKey": ordering_key,
        },
        "subscription": SUBSCRIPTION,
    }
    return json.dumps(envelope, separators=(",", ":")).encode()


class LocalBus(EventBus):
    def __init__(
        self,
        push_url: str,
        *,
        push_token: str = "",
        max_attempts: int = 12,
        initial_backoff: float = 0.05,
        max_backoff: float = 2.0,
        request_timeout: float = 60.0,
    ) -> None:
        # Empty is allowed so a platform that never publishes (e.g. read-only tools) can be
        # built; publishing then fails with TransientError. Anything else must be http(s).
        if push_url and not push_url.startswith(("http://", "https://")):
            raise ValueError("LocalBus needs an http(s) push URL (CLARATEACH_PROVISIONER_URL)")
        self.push_url = push_url
        self._push_token = push_token
        self._max_attempts = max_attempts
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._request_timeout = request_timeout
        self._lanes: dict[str, deque[PushMessage]] = {}
        self._cond = threading.Condition()
        self._closed = threading.Event()
        self.dropped: list[str] = []  # message ids given up on after max_attempts

    def __repr__(self) -> str:
        return f"LocalBus({self.push_url!r})"

    # ------------------------------------------------------------------ publish
    def publish(self, event: Event) -> str:
        if self._closed.is_set():
            raise TransientError("event bus is closed")
        if not self.push_url:
            raise TransientError("no provisioner URL configured (CLARATEACH_PROVISIONER_URL)")
        message_id = uuid.uuid4().hex
        body = push_envelope(event, message_id, datetime.now(UTC))
        # One serial lane per ordering key, as Pub/Sub delivers an ordered subscription;
        # unordered events (host.usage) get a lane of their own per workshop.
        _, _, ordering_key = event.to_message()
        message = PushMessage(message_id, ordering_key or f"{event.workshop_id}~unordered", body)
        with self._cond:
            lane = self._lanes.get(message.ordering_key)
            if lane is None:
                lane = self._lanes[message.ordering_key] = deque()
                lane.append(message)
                threading.Thread(
                    target=self._run_lane,
                    args=(message.ordering_key,),
                    name=f"local-bus-{message.ordering_key}",
                    daemon=True,
                ).start()
            else:
                lane.append(message)
        return message_id

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every queued event was delivered or given up; ``False`` on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._lanes, timeout=timeout)

    def close(self) -> None:
        """Flush for a short while, then stop retrying (queued events are dropped)."""
        self.drain(timeout=5.0)
        self._closed.set()

    # ----------------------------------------------------------------- delivery
    def _run_lane(self, key: str) -> None:
        """Deliver the lane's messages one at a time; the thread ends when the lane is empty."""
        while True:
            with self._cond:
                lane = self._lanes[key]
                message = lane[0]
            self._deliver(message)
            with self._cond:
                lane.popleft()
                if not lane:
                    del self._lanes[key]
                    self._cond.notify_all()
                    return

    def _deliver(self, message: PushMessage) -> None:
        backoff = self._initial_backoff
        for attempt in range(1, self._max_attempts + 1):
            if self._closed.is_set():
                break
            status = self._post(message)
            if status is not None and 200 <= status < 300:
                return
            log.warning(
                "push delivery failed; will retry",
                extra={
                    "event_id": message.message_id,
                    "workshop_id": message.ordering_key,
                    "attempt": attempt,
                    "http_status": status,
                },
            )
            if self._closed.wait(backoff):
                break
            backoff = min(backoff * 2, self._max_backoff)
        self.dropped.append(message.message_id)
        log.error(
            "push delivery abandoned",
            extra={"event_id": message.message_id, "workshop_id": message.ordering_key},
        )

    def _post(self, message: PushMessage) -> int | None:
        request = urllib.request.Request(  # noqa: S310 - URL scheme checked in __init__
            self.push_url,
            data=message.body,
            method="POST",
            headers={"Content-Type": "application/json", PUSH_TOKEN_HEADER: self._push_token},
        )
        try:
            with urllib.request.urlopen(request, timeout=self._request_timeout) as response:  # noqa: S310
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except OSError:
            return None
