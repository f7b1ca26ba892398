"""Cost use cases: the estimate before start, the cost so far, the final figures, the ceiling.

The estimate covers the whole window (warm-up to ``ends_at`` plus grace) so the instructor
sees what the workshop will cost if the schedule holds; ``check_ceiling`` refuses a start
whose estimate exceeds ``settings.max_workshop_usd``. Final figures are computed once, when
the workshop stops, and stay on its record (``Workshop.final_cost``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared.bootstrap import Platform
from shared.domain import cost
from shared.domain.errors import CostCeilingExceeded
from shared.domain.model import Workshop, WorkshopStatus
from shared.domain.schedule import DEFAULT_DURATION, GRACE_DEFAULT
from shared.domain.vm_prices import LOCAL_MACHINE_TYPE
from shared.services.usage import get_usage
from shared.settings import Settings


def pricing_for(settings: Settings) -> cost.HostPricing:
    """Local processes cost nothing; GCE hosts are priced from the table."""
    if settings.mode == "local":
        return cost.host_pricing(LOCAL_MACHINE_TYPE, "", False, 0)
    return cost.host_pricing(
        settings.gce_machine_type, settings.gce_zone, settings.gce_spot, settings.gce_disk_gb
    )


def estimate_for(settings: Settings, workshop: Workshop, now: datetime) -> cost.CostFigures:
    """VM-hours from the (warm-up) start to the end of grace, plus the model ceiling."""
    schedule = workshop.schedule
    if schedule is None:  # an older record: assume the default length from now
        start, end = now, now + DEFAULT_DURATION + timedelta(minutes=GRACE_DEFAULT)
    else:
        warmup = schedule.warmup_at
        start = workshop.billing_started_at or (warmup if warmup and warmup > now else now)
        end = schedule.grace_ends_at
    return cost.estimate(
        hosts=workshop.host_count,
        start=start,
        end=end,
        model_ceiling=cost.model_budget_ceiling(workshop.model_policy, workshop.seats),
        pricing=pricing_for(settings),
    )


def check_ceiling(settings: Settings, figures: cost.CostFigures) -> None:
    """Refuse (``CostCeilingExceeded``) when the estimate may exceed the configured ceiling."""
    ceiling = settings.max_workshop_usd
    if ceiling <= 0 or not cost.exceeds(figures, ceiling):
        return
    if figures.vm_usd is None:
        reason = f"there is no price for {figures.pricing.machine_type} in {figures.pricing.region}"
    elif figures.model_usd is None:
        reason = "the model budget is unlimited; set model_policy.defaults.budget_usd"
    else:
        reason = f"the estimate is {figures.total_usd:.2f} USD"
    raise CostCeilingExceeded(
        f"starting would exceed this deployment's ceiling of {ceiling:.2f} USD per workshop:"
        f" {reason}"
    )


def spent_so_far(platform: Platform, workshop: Workshop, now: datetime) -> cost.CostFigures:
    """VM time elapsed since hosts were first requested, plus the model spend reported."""
    spend = float(get_usage(platform, workshop).totals.get("cost_usd", 0) or 0)
    return cost.so_far(
        hosts=workshop.host_count,
        billing_started_at=workshop.billing_started_at,
        until=workshop.stopped_at or now,
        model_spend=spend,
        pricing=pricing_for(platform.settings),
    )


def final_figures(platform: Platform, workshop: Workshop, now: datetime) -> dict[str, Any]:
    """The figures recorded on the workshop when it stops."""
    figures = spent_so_far(platform, workshop, now)
    return cost.CostFigures(
        "final",
        figures.hosts,
        figures.vm_hours,
        figures.vm_usd,
        figures.model_usd,
        figures.total_usd,
        figures.pricing,
    ).as_dict()


def cost_view(
    settings: Settings, workshop: Workshop, now: datetime, so_far: cost.CostFigures | None = None
) -> dict[str, Any]:
    """What the API shows: the estimate until stopped, the cost so far (when computed), the
    final figures once stopped."""
    stopped = workshop.status is WorkshopStatus.STOPPED
    return {
        "estimate": None if stopped else estimate_for(settings, workshop, now).as_dict(),
        "so_far": so_far.as_dict() if so_far is not None else None,
        "final": workshop.final_cost,
    }
