"""Rich renderings of the cockpit's room (``workshop watch``, ``workshop hands``)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from clarateach.render import error_summary

STATE_STYLES = {
    "free": "dim",
    "joined": "yellow",
    "connected": "green",
    "disconnected": "red",
}


def seat_state(seat: dict[str, Any], activity: dict[str, Any] | None) -> str:
    """The same rule as the web grid (web/src/pages/instructor/tiles.ts)."""
    if not seat["claimed"]:
        return "free"
    if activity is None:
        return "joined"
    return "connected" if activity.get("sockets", 0) > 0 else "disconnected"


def age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{int(seconds)}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    return f"{int(seconds // 3600)}h"


def _usd(value: float | None) -> str:
    return "-" if value is None else f"${value:.2f}"


def money_line(room: dict[str, Any]) -> str:
    workshop = room["workshop"]
    taken = sum(1 for s in room["seats"] if s["claimed"])
    paused = " · model paused for everyone" if workshop.get("model_paused") else ""
    cost = workshop.get("cost") or {}
    figures = cost.get("final") or cost.get("so_far")
    vm = f"VMs {_usd(figures.get('vm_usd'))}" if figures else "VMs -"
    spend = _usd(room["totals"].get("cost_usd", 0))
    return (
        f"{workshop['status']} · {taken}/{workshop['seats']} seats · model {spend} · {vm}{paused}"
    )


def room_table(
    room: dict[str, Any], activity: dict[int, dict[str, Any]], *, claimed_only: bool = True
) -> Group:
    workshop = room["workshop"]
    table = Table(title=f"Seats of {escape(workshop['name'])}", title_justify="left")
    columns = ("Seat", "Name", "State", "Host", "Idle", "Running", "Req", "Tokens", "Spend",
               "Model errors", "Hand")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="right" if column in ("Seat", "Req", "Tokens") else "left")
    for seat in room["seats"]:
        if claimed_only and not seat["claimed"]:
            continue
        live = activity.get(seat["seat"])
        state = seat_state(seat, live)
        budget = seat.get("budget_usd")
        spend = _usd(seat["cost_usd"]) + ("" if budget is None else f" / {_usd(budget)}")
        share = seat.get("budget_share")
        hand = (live or {}).get("hand")
        name = (seat["claim"] or {}).get("display_name") or ""
        errors = dict(seat.get("errors") or {})
        for name, count in (((live or {}).get("model") or {}).get("errors") or {}).items():
            errors[name] = max(int(errors.get(name, 0)), int(count))  # the host's live counters
        model = error_summary(errors)
        if seat.get("model_paused"):
            model = "model paused" + (f"; {model}" if model else "")
        table.add_row(
            str(seat["seat"]),
            Text(name),  # the learner's text: never markup
            Text(state, style=STATE_STYLES[state]),
            "-" if seat["claim"] is None else str(seat["claim"]["host"]),
            age((live or {}).get("input_age")) if live else "-",
            Text((live or {}).get("foreground") or ""),
            str(seat["requests"]),
            str(seat["tokens"]),
            Text(spend, style="bold red" if share is not None and share >= 0.8 else ""),
            Text(model, style="yellow" if model else ""),
            Text(("✋ " + (hand.get("text") or "")) if hand else ""),
        )
    header = Text(money_line(room))
    broadcast = room.get("broadcast")
    lines: list[Any] = [header]
    if broadcast:
        lines.append(Text(f"Broadcast: {broadcast['message']}"))
    lines.append(table)
    return Group(*lines)


def hands_table(hands: list[tuple[int, dict[str, Any]]]) -> Table | str:
    if not hands:
        return "Nobody is waiting."
    table = Table(title="Help queue (longest wait first)", title_justify="left")
    table.add_column("Seat", justify="right")
    table.add_column("Waiting")
    table.add_column("Text")
    for seat, hand in hands:
        table.add_row(str(seat), age(hand.get("waited")), Text(hand.get("text") or ""))
    return table


def policy_lines(policy: dict[str, Any]) -> Group:
    """The per-seat limits of a model policy (defaults, then each seat override)."""

    def limits(values: dict[str, Any]) -> str:
        parts = [
            f"budget {_usd(values.get('budget_usd'))}"
            if values.get("budget_usd") is not None
            else "budget unlimited",
            f"{values['requests_per_minute']} requests/min"
            if values.get("requests_per_minute") is not None
            else "requests unlimited",
        ]
        for key, word in (("max_input_tokens", "input"), ("max_output_tokens", "output")):
            if values.get(key) is not None:
                parts.append(f"{values[key]:,} {word} tokens")
        return ", ".join(parts)

    lines = [Text("Every seat: " + limits(policy.get("defaults") or {}))]
    overrides = policy.get("seat_overrides") or {}
    for seat in sorted(overrides, key=lambda k: int(k) if str(k).isdigit() else 0):
        lines.append(Text(f"Seat {seat}: " + limits(overrides[seat] or {})))
    allowed = (policy.get("claude_code") or {}).get("allowed_models")
    if allowed:
        lines.append(Text("Models: " + ", ".join(allowed)))
    return Group(*lines)
