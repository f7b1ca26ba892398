"""Cost of a workshop: the estimate before start, the cost so far, the final figures.

Pure arithmetic over the price table (``shared.domain.vm_prices``) and the workshop's model
policy; the clock and the usage totals are passed in.

* VM cost = hosts x hours x (machine price + boot disk price), hours being the window from
  the start (warm-up included) to ``ends_at`` plus the grace period.
* Model ceiling = the sum over seats of each seat's ``budget_usd`` (``None``, unbounded, when
  any seat has no budget).
* Total = VM cost + model ceiling: the most the workshop can cost if the schedule holds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from shared.domain.model_policy import ModelPolicy
from shared.domain.vm_prices import (
    DISK_USD_PER_GB_MONTH,
    HOURS_PER_MONTH,
    LOCAL_MACHINE_TYPE,
    PRICE_SOURCE,
    PRICES_AS_OF,
    VM_PRICES,
)


@dataclass(frozen=True)
class HostPricing:
    """What a host costs per hour where and how this deployment runs them."""

    machine_type: str
    region: str
    spot: bool
    #: USD per host-hour (VM + boot disk); ``None`` when the table has no price.
    usd_per_hour: float | None
    source: str
    as_of: str


def region_of(zone: str) -> str:
    """``us-central1-a`` -> ``us-central1`` (a bare region is returned unchanged)."""
    parts = zone.split("-")
    return "-".join(parts[:2]) if len(parts) >= 3 else zone


def host_pricing(machine_type: str, zone: str, spot: bool, disk_gb: int) -> HostPricing:
    if machine_type == LOCAL_MACHINE_TYPE:
        return HostPricing(LOCAL_MACHINE_TYPE, "local", False, 0.0, "embedded mode", PRICES_AS_OF)
    region = region_of(zone)
    price = VM_PRICES.get((region, machine_type))
    disk = DISK_USD_PER_GB_MONTH.get(region)
    per_hour = None
    if price is not None and disk is not None:
        vm = price.spot if spot else price.on_demand
        per_hour = vm + disk * disk_gb / HOURS_PER_MONTH
    return HostPricing(machine_type, region, spot, per_hour, PRICE_SOURCE, PRICES_AS_OF)


def model_budget_ceiling(policy: dict[str, Any], seats: int) -> float | None:
    """Seats x per-seat USD budget (overrides counted per seat); ``None`` if any is unlimited."""
    parsed = ModelPolicy.model_validate(policy) if policy else ModelPolicy()
    total = 0.0
    for seat in range(1, seats + 1):
        budget = parsed.limits_for(seat).budget_usd
        if budget is None:
            return None
        total += budget
    return total


@dataclass(frozen=True)
class CostFigures:
    """An estimate (``kind="estimate"``), a running tally (``"so_far"``) or ``"final"``."""

    kind: str
    hosts: int
    vm_hours: float
    vm_usd: float | None
    #: Estimate: the model budget ceiling. So far / final: model spend reported by usage.
    model_usd: float | None
    total_usd: float | None
    pricing: HostPricing

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["pricing"] = {**data["pricing"], "usd_per_hour": _round(self.pricing.usd_per_hour)}
        for name in ("vm_hours", "vm_usd", "model_usd", "total_usd"):
            data[name] = _round(data[name])
        return data


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _hours(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds() / 3600)


def _figures(
    kind: str, hosts: int, hours: float, model: float | None, pricing: HostPricing
) -> CostFigures:
    vm = None if pricing.usd_per_hour is None else hosts * hours * pricing.usd_per_hour
    total = None if vm is None or model is None else vm + model
    return CostFigures(kind, hosts, hosts * hours, vm, model, total, pricing)


def estimate(
    *,
    hosts: int,
    start: datetime,
    end: datetime,
    model_ceiling: float | None,
    pricing: HostPricing,
) -> CostFigures:
    """Before start: VM-hours of the whole window x price, plus the model budget ceiling."""
    return _figures("estimate", hosts, _hours(start, end), model_ceiling, pricing)


def so_far(
    *,
    hosts: int,
    billing_started_at: datetime | None,
    until: datetime,
    model_spend: float,
    pricing: HostPricing,
    kind: str = "so_far",
) -> CostFigures:
    """VM time elapsed since hosts were first requested x price, plus model spend."""
    hours = 0.0 if billing_started_at is None else _hours(billing_started_at, until)
    return _figures(kind, hosts, hours, model_spend, pricing)


def exceeds(figures: CostFigures, ceiling_usd: float) -> bool:
    """Whether the figures may exceed a ceiling: unknown (unpriced or unbounded) counts as yes."""
    return figures.total_usd is None or figures.total_usd > ceiling_usd
