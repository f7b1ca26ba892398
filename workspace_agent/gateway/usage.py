"""Usage counting: what one response used, per-seat cumulative totals, and their persistence.

Counts come only from the upstream's ``usage`` fields (non-streamed body, or the streamed
``message_start`` and ``message_delta`` events); the cost is an estimate from the policy's
price table. Totals are cumulative counters: they only grow, so a consumer that sees an older
report after a newer one can keep the larger (``WorkshopStore.put_seat_usage`` does).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from shared.domain.cockpit import MODEL_ERROR_COUNTERS
from shared.domain.model_policy import ModelPrice
from workspace_agent.gateway.files import read_json

USAGE_FILE = "usage.json"
TOKEN_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
)
#: Per-seat model error counters (cumulative, like the usage totals; see the definition).
ERROR_FIELDS = MODEL_ERROR_COUNTERS
#: ``Refusal.reason`` -> the counter it adds to (other reasons are not counted).
REFUSAL_COUNTERS = {"budget": "budget_refused", "rate": "rate_refused", "paused": "paused_refused"}


@dataclass
class ResponseUsage:
    """Token counts one upstream response reported, plus the model that produced them."""

    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    #: False until any usage was seen (a failed request reports nothing).
    seen: bool = False

    def merge(self, usage: Mapping[str, Any]) -> None:
        """Take every integer token field present in ``usage`` (streamed values are cumulative)."""
        for name in TOKEN_FIELDS:
            value = usage.get(name)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                setattr(self, name, value)
                self.seen = True

    @property
    def prompt_tokens(self) -> int:
        """Every token the model read: fresh input plus cache writes and cache reads."""
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens


def price_for(model: str, prices: Mapping[str, ModelPrice]) -> ModelPrice | None:
    """The price of exactly ``model`` (the table lists every id and alias), else ``None``."""
    return prices.get(model) if model else None


def highest_price(prices: Mapping[str, ModelPrice]) -> ModelPrice | None:
    """The most expensive entry: what an unpriced model is charged, so that a budget can
    never be dodged through a model the table does not list."""
    return max(prices.values(), key=lambda p: (p.output, p.input), default=None)


def estimate_cost(
    usage: ResponseUsage, prices: Mapping[str, ModelPrice], *, requested: str = ""
) -> tuple[float, bool]:
    """Estimated USD for ``usage`` (prices are per million tokens), and whether it was
    priced exactly. The response's model is priced first, then the requested one (an
    alias may answer with its dated id); failing both, the table's highest rate."""
    price = price_for(usage.model, prices) or price_for(requested, prices)
    exact = price is not None
    price = price or highest_price(prices)
    if price is None:
        return 0.0, False
    cost = (
        usage.input_tokens * price.input
        + usage.output_tokens * price.output
        + usage.cache_creation_input_tokens * price.cache_write
        + usage.cache_read_input_tokens * price.cache_read
    ) / 1_000_000
    return cost, exact


@dataclass
class SeatTotals:
    """Cumulative usage of one seat (the wire shape of ``GET /control/usage`` and events)."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    cost_usd: float = 0.0
    upstream_unreachable: int = 0
    key_refused: int = 0
    budget_refused: int = 0
    rate_refused: int = 0
    paused_refused: int = 0

    def add(self, usage: ResponseUsage, cost: float) -> None:
        self.requests += 1
        self.input_tokens += usage.input_tokens
        self.output_tokens += usage.output_tokens
        self.cache_creation_input_tokens += usage.cache_creation_input_tokens
        self.cache_read_input_tokens += usage.cache_read_input_tokens
        self.cost_usd += cost

    @property
    def prompt_tokens(self) -> int:
        return self.input_tokens + self.cache_creation_input_tokens + self.cache_read_input_tokens

    def to_dict(self) -> dict[str, int | float]:
        data: dict[str, int | float] = asdict(self)
        data["cost_usd"] = round(self.cost_usd, 6)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SeatTotals:
        totals = cls()
        for name in ("requests", *TOKEN_FIELDS, *ERROR_FIELDS):
            value = data.get(name)
            if isinstance(value, int | float) and value >= 0:
                setattr(totals, name, int(value))
        cost = data.get("cost_usd")
        if isinstance(cost, int | float) and cost >= 0:
            totals.cost_usd = float(cost)
        return totals


@dataclass
class UsageLedger:
    """Per-seat totals of one host; ``GatewayHandle.flush`` saves them to
    ``<gateway dir>/usage.json`` and ``load`` reads them back at start.

    ``version`` grows on every change; the flusher compares it with what it last wrote and
    published, so an idle gateway writes and publishes nothing.
    """

    seats: dict[int, SeatTotals] = field(default_factory=dict)
    version: int = 0

    def totals(self, seat: int) -> SeatTotals:
        return self.seats.setdefault(seat, SeatTotals())

    def record(self, seat: int, usage: ResponseUsage, cost: float) -> None:
        self.totals(seat).add(usage, cost)
        self.version += 1

    def count_error(self, seat: int, counter: str) -> None:
        """Add one to ``seat``'s error ``counter`` (one of ``ERROR_FIELDS``)."""
        if counter not in ERROR_FIELDS:
            raise ValueError(f"not an error counter: {counter}")
        totals = self.totals(seat)
        setattr(totals, counter, getattr(totals, counter) + 1)
        self.version += 1

    def count_refusal(self, seat: int, reason: str) -> None:
        """Count a gateway refusal by its ``Refusal.reason`` (uncounted reasons are ignored)."""
        if counter := REFUSAL_COUNTERS.get(reason):
            self.count_error(seat, counter)

    def snapshot(self) -> dict[str, dict[str, int | float]]:
        """``{"<seat>": totals}`` for every seat (wire shape, JSON keys are strings)."""
        return {str(seat): totals.to_dict() for seat, totals in sorted(self.seats.items())}

    @classmethod
    def load(cls, directory: Path, seats: range) -> UsageLedger:
        """Totals saved by an earlier run (unknown seats dropped), zeros for the rest."""
        stored = read_json(directory / USAGE_FILE)
        ledger = cls({seat: SeatTotals() for seat in seats})
        if isinstance(stored, dict):
            for key, value in stored.items():
                if key.isdigit() and int(key) in seats and isinstance(value, dict):
                    ledger.seats[int(key)] = SeatTotals.from_dict(value)
        return ledger
