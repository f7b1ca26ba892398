"""Per-seat model usage of a workshop, as last reported by its hosts (``host.usage`` events)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.bootstrap import Platform
from shared.domain.cockpit import MODEL_ERROR_COUNTERS
from shared.domain.model import Workshop

#: Counters every usage row carries (missing ones read as 0).
USAGE_FIELDS = (
    "requests",
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "cost_usd",
    *MODEL_ERROR_COUNTERS,
)
_INTEGER_FIELDS = frozenset(USAGE_FIELDS) - {"cost_usd"}


@dataclass(frozen=True)
class Usage:
    seats: list[dict[str, int | float]]
    totals: dict[str, int | float]


def get_usage(platform: Platform, workshop: Workshop) -> Usage:
    """Stored totals per seat (ordered by seat) and their sum over the workshop."""
    stored = platform.store.get_seat_usage(workshop.id)
    seats = [_row(number, stored[number]) for number in sorted(stored)]
    totals = {name: _number(name, sum(row[name] for row in seats)) for name in USAGE_FIELDS}
    return Usage(seats=seats, totals=totals)


def _row(seat: int, counters: dict[str, float]) -> dict[str, int | float]:
    row: dict[str, int | float] = {"seat": seat}
    for name in USAGE_FIELDS:
        row[name] = _number(name, counters.get(name, 0))
    return row


def _number(name: str, value: float) -> int | float:
    return int(value) if name in _INTEGER_FIELDS else round(float(value), 6)
