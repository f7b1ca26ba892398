"""The event contract between the functions, the provisioner and the agents.

An ``Event`` is what the services publish; ``to_message``/``from_message`` give the
Pub/Sub wire form (see docs/protocol.md section 4). Versioned so consumers can refuse
what they do not understand instead of guessing.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.domain.model import utcnow

EVENT_VERSION = 1

WORKSHOP_START_REQUESTED = "workshop.start_requested"
WORKSHOP_STOP_REQUESTED = "workshop.stop_requested"
HOST_READY = "host.ready"
HOST_FAILED = "host.failed"
HOST_USAGE = "host.usage"

EVENT_TYPES = frozenset(
    {WORKSHOP_START_REQUESTED, WORKSHOP_STOP_REQUESTED, HOST_READY, HOST_FAILED, HOST_USAGE}
)
#: What a host reports about itself (through ``POST /api/hosts/events`` only): each carries
#: ``data.host_index`` and ``data.attempt`` (the start attempt the host was created for).
HOST_EVENT_TYPES = frozenset({HOST_READY, HOST_FAILED, HOST_USAGE})

#: Published without an ordering key. On an ordered subscription Pub/Sub delivers the messages
#: of one key one at a time, each after the previous is acknowledged; ``host.usage`` from 50
#: hosts every 15 s would queue the workshop's lifecycle events behind it. Usage needs no
#: order: the handler keeps the newest totals and drops stale reports.
UNORDERED_EVENT_TYPES = frozenset({HOST_USAGE})


class MalformedEvent(ValueError):
    """The message cannot be an event of ours: acknowledge it and log, never retry."""


@dataclass(frozen=True)
class Event:
    type: str
    workshop_id: str
    data: dict[str, Any] = field(default_factory=dict)
    occurred_at: datetime = field(default_factory=utcnow)
    #: Publisher-side id, for logs. Consumers deduplicate on the delivery id (CloudEvent id).
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def to_message(self) -> tuple[bytes, dict[str, str], str]:
        """``(data, attributes, ordering_key)`` for Pub/Sub: the workshop id, or ``""`` (no
        ordering) for ``UNORDERED_EVENT_TYPES``."""
        body = {
            "version": EVENT_VERSION,
            "id": self.id,
            "type": self.type,
            "workshop_id": self.workshop_id,
            "occurred_at": self.occurred_at.isoformat(),
            "data": self.data,
        }
        attributes = {"type": self.type, "workshop_id": self.workshop_id}
        ordering_key = "" if self.type in UNORDERED_EVENT_TYPES else self.workshop_id
        return json.dumps(body, separators=(",", ":")).encode(), attributes, ordering_key

    @classmethod
    def from_message(cls, data: bytes) -> Event:
        """Parse a message body; raise ``MalformedEvent`` for anything that is not ours."""
        try:
            body = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MalformedEvent(f"not JSON: {exc}") from exc
        if not isinstance(body, dict) or body.get("version") != EVENT_VERSION:
            raise MalformedEvent("missing or unsupported version")
        kind, workshop_id, payload = body.get("type"), body.get("workshop_id"), body.get("data")
        if kind not in EVENT_TYPES:
            raise MalformedEvent(f"unknown type {kind!r}")
        if not isinstance(workshop_id, str) or not workshop_id or not isinstance(payload, dict):
            raise MalformedEvent("missing workshop_id or data")
        try:
            occurred = datetime.fromisoformat(body["occurred_at"])
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedEvent("bad occurred_at") from exc
        if occurred.tzinfo is None:
            raise MalformedEvent("occurred_at must carry a timezone")
        return cls(kind, workshop_id, payload, occurred, str(body.get("id") or uuid.uuid4().hex))
