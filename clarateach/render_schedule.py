"""Human views of a workshop's schedule and cost (``workshop create|info|start|extend|end``)."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from clarateach.render import when


def _usd(value: Any) -> str:
    return f"${value:,.2f}" if isinstance(value, (int, float)) else "unknown"


def schedule_rows(w: dict[str, Any]) -> list[tuple[str, Any]]:
    schedule = w.get("schedule")
    if not isinstance(schedule, dict):
        return []
    rows: list[tuple[str, Any]] = []
    if schedule.get("starts_at"):
        rows.append(("Starts", when(schedule["starts_at"])))
        rows.append(("Warm-up", f"{when(schedule.get('warmup_at'))} (automatic start)"))
    if schedule.get("join_opens_at"):
        rows.append(("Doors open", when(schedule["join_opens_at"])))
    rows.append(("Ends", when(schedule.get("ends_at"))))
    rows.append(
        (
            "Hosts deleted",
            f"{when(schedule.get('grace_ends_at'))} "
            f"(after {schedule.get('end_grace_minutes')} min to download work)",
        )
    )
    return rows


def cost_rows(w: dict[str, Any]) -> list[tuple[str, Any]]:
    cost = w.get("cost")
    if not isinstance(cost, dict):
        return []
    rows: list[tuple[str, Any]] = []
    if isinstance(cost.get("estimate"), dict):
        rows.append(("Estimate", estimate_text(cost["estimate"])))
    if isinstance(cost.get("so_far"), dict):
        rows.append(("Cost so far", spent_text(cost["so_far"])))
    if isinstance(cost.get("final"), dict):
        rows.append(("Final cost", spent_text(cost["final"])))
    return rows


def estimate_text(figures: dict[str, Any]) -> Text:
    pricing = figures.get("pricing") or {}
    kind = "Spot" if pricing.get("spot") else "on-demand"
    model = figures.get("model_usd")
    line = Text(f"{_usd(figures.get('total_usd'))} at most", style="bold")
    line.append(
        f" = {figures.get('hosts')} hosts x {figures.get('vm_hours', 0):.2f} VM-hours total of"
        f" {pricing.get('machine_type')} ({pricing.get('region')}, {kind},"
        f" {_usd(pricing.get('usd_per_hour'))}/h; {_usd(figures.get('vm_usd'))})"
    )
    line.append(
        f" + model budget ceiling {_usd(model)}"
        if model is not None
        else " + model spend (no per-seat budget: unlimited)"
    )
    line.append(f"  [prices: {pricing.get('source')}, {pricing.get('as_of')}]", style="dim")
    return line


def spent_text(figures: dict[str, Any]) -> str:
    return (
        f"{_usd(figures.get('total_usd'))} = VM {_usd(figures.get('vm_usd'))}"
        f" ({figures.get('vm_hours', 0):.2f} VM-hours) + model {_usd(figures.get('model_usd'))}"
    )
