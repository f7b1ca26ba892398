"""The workshop as the API shows it: its view plus its cost (shared by the workshop routes)."""

from __future__ import annotations

from typing import Any

from functions import views
from functions.handlers.call import Call
from shared.domain.model import Workshop, utcnow
from shared.services import costs


def with_cost(call: Call, workshop: Workshop, *, so_far: bool = False) -> dict[str, Any]:
    """The workshop view with its cost: estimate (until stopped), final (once stopped), and
    with ``so_far`` the running tally (one usage read)."""
    now = utcnow()
    tally = costs.spent_so_far(call.platform, workshop, now) if so_far else None
    return views.workshop_view(
        workshop, costs.cost_view(call.platform.settings, workshop, now, tally)
    )
