"""Rules both state-store adapters apply identically: paging cursors, limits, immutable
fields, timestamps and seat records.

Kept here so the SQLite and Firestore adapters cannot drift apart on behaviour the contract
suite checks (cursor format, limit clamping, which fields ``update_workshop`` protects).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.domain.cockpit import MODEL_ERROR_COUNTERS
from shared.domain.errors import ValidationError
from shared.domain.model import Seat, Workshop, host_index_for_seat, utcnow
from shared.ports.store import SeatRequest

#: ``create_workshop`` gives up after this many taken codes (the port's documented bound).
CODE_ATTEMPTS = 20
LIMIT_MIN, LIMIT_MAX = 1, 200
#: Fields ``update_workshop`` refuses to change: they identify the workshop or index it.
IMMUTABLE_FIELDS = ("id", "code", "owner", "created_at")


def clamp_limit(limit: int) -> int:
    return max(LIMIT_MIN, min(LIMIT_MAX, int(limit)))


@dataclass(frozen=True)
class Cursor:
    """Position after the last workshop of a page, in ``created_at`` desc, ``id`` desc order."""

    created_at: datetime
    workshop_id: str

    @classmethod
    def after(cls, workshop: Workshop) -> Cursor:
        return cls(workshop.created_at, workshop.id)

    def encode(self) -> str:
        raw = json.dumps([iso(self.created_at), self.workshop_id], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        """Parse a cursor a client sent back; anything malformed is a ``ValidationError``."""
        try:
            padded = token + "=" * (-len(token) % 4)
            created, workshop_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
            if not isinstance(created, str) or not isinstance(workshop_id, str):
                raise TypeError("cursor fields must be strings")
            return cls(parse_iso(created), workshop_id)
        except (binascii.Error, UnicodeError, TypeError, ValueError) as exc:
            raise ValidationError("cursor", "is not a cursor this service issued") from exc


def check_immutable(before: Workshop, after: Workshop) -> None:
    """Refuse a mutation that changes an identifying field (a programming error, not input)."""
    changed = [name for name in IMMUTABLE_FIELDS if getattr(before, name) != getattr(after, name)]
    if changed:
        raise ValueError(f"update_workshop cannot change {', '.join(changed)}")


def as_utc(value: datetime) -> datetime:
    """An aware UTC ``datetime`` of exactly the ``datetime`` class (not a client subclass).

    Naive values are taken to be UTC already.
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    return datetime(
        value.year, value.month, value.day, value.hour, value.minute, value.second,
        value.microsecond, tzinfo=UTC,
    )  # fmt: skip


def iso(value: datetime) -> str:
    """Fixed-width ISO-8601 UTC with microseconds, so strings sort in time order."""
    return as_utc(value).isoformat(timespec="microseconds")


def parse_iso(text: str) -> datetime:
    return as_utc(datetime.fromisoformat(text))


def new_seat(workshop: Workshop, number: int, request: SeatRequest) -> Seat:
    """The record of a freshly claimed seat ``number``."""
    now = utcnow()
    return Seat(
        number=number,
        host_index=host_index_for_seat(number, workshop.seats_per_host),
        reconnect_hash=request.reconnect_hash,
        joined_at=now,
        last_seen=now,
        client_nonce_hash=request.client_nonce_hash,
        display_name=request.display_name,
    )


def usage_counts(totals: dict[str, float]) -> float:
    """The monotonic counter that orders usage reports: ``requests`` plus the model error
    counters (all cumulative; missing counts as 0), so a report that only adds errors is
    newer too."""
    return float(
        sum(float(totals.get(name, 0) or 0) for name in ("requests", *MODEL_ERROR_COUNTERS))
    )
