"""JSON shape of the cockpit's room snapshot (``GET /api/workshops/{id}/room``)."""

from __future__ import annotations

from typing import Any

from functions.views import seat_view
from shared.domain.cockpit import MODEL_ERROR_COUNTERS, budget_share
from shared.services.cockpit import Room


def room_view(room: Room, workshop: dict[str, Any]) -> dict[str, Any]:
    """``workshop`` is the workshop view (with its cost), built by the caller."""
    usage = {int(row["seat"]): row for row in room.usage.seats}
    claimed = {seat.number: seat for seat in room.seats}
    paused = set(room.workshop.paused_seats)
    seats = []
    for number in range(1, room.workshop.seats + 1):
        seat = claimed.get(number)
        row = usage.get(number, {})
        spent = float(row.get("cost_usd", 0))
        budget = room.budgets.get(number)
        share = budget_share(spent, budget)
        seats.append(
            {
                "seat": number,
                "claimed": seat is not None,
                "claim": None if seat is None else seat_view(seat),
                "requests": int(row.get("requests", 0)),
                "tokens": int(row.get("input_tokens", 0)) + int(row.get("output_tokens", 0)),
                "cost_usd": round(spent, 6),
                "budget_usd": budget,
                "budget_share": None if share is None else round(share, 4),
                "model_paused": number in paused,
                "errors": {name: int(row.get(name, 0)) for name in MODEL_ERROR_COUNTERS},
            }
        )
    return {
        "workshop": workshop,
        "seats": seats,
        "totals": room.usage.totals,
        "broadcast": room.workshop.broadcast,
        "policy": room.policy,
    }
