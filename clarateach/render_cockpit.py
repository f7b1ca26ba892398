"""Rich renderings of the cockpit's room (``workshop watch``, ``workshop hands``)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

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
    cost = workshop.get("cost") or {}
    figures = cost.get("final") or cost.get("so_far")
    vm = f"VMs {_usd(figures.get('vm_usd'))}" if figures else "VMs -"
    spend = _usd(room["totals"].get("cost_usd", 0))
    return f"{workshop['status']} · {taken}/{workshop['seats']} seats · model {spend} · {vm}"


def room_table(
    room: dict[str, Any], activity: dict[int, dict[str, Any]], *, claimed_only: bool = True
) -> Group:
    workshop = room["workshop"]
    table = Table(title=f"Seats of {escape(workshop['name'])}", title_justify="left")
    for column in ("Seat", "State", "Host", "Idle", "Running", "Req", "Tokens", "Spend", "Hand"):
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
        table.add_row(
            str(seat["seat"]),
            Text(state, style=STATE_STYLES[state]),
            "-" if seat["claim"] is None else str(seat["claim"]["host"]),
            age((live or {}).get("input_age")) if live else "-",
            Text((live or {}).get("foreground") or ""),
            str(seat["requests"]),
            str(seat["tokens"]),
            Text(spend, style="bold red" if share is not None and share >= 0.8 else ""),
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
