"""Change a workshop's model policy (per-seat budgets, rate and token limits, prices, Claude
Code settings) at any time, including while it runs (``PUT /api/workshops/{id}/model-policy``).

The policy is validated as at create (``ModelPolicy``; the API edge words the errors), stored
on the workshop (the source of truth, and what hosts started later get in their configuration,
``CLARATEACH_AGENT_MODEL_POLICY``), then ``PUT`` to every live host's
``/control/model-policy`` (best effort, ``host_control.put_to_hosts``): each gateway applies
the new limits to the next model request and keeps the policy across agent restarts. Claude
Code's own files (``claude_code``: default model, CLAUDE.md, settings) are written when a seat's
shell starts, so they reach a seat at its next shell start (e.g. a reset). Logged with the
instructor's identity.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

import httpx

from shared.auth.instructor import Instructor
from shared.bootstrap import Platform
from shared.domain.model import Workshop
from shared.services import workshops as workshop_service
from shared.services.host_control import put_to_hosts

log = logging.getLogger(__name__)

CONTROL_PATH = "/control/model-policy"


@dataclass(frozen=True)
class PolicyChanged:
    workshop: Workshop
    #: Host index -> whether the host applied it now.
    hosts: dict[int, bool]


def change_model_policy(
    platform: Platform,
    instructor: Instructor,
    workshop_id: str,
    policy: dict[str, Any],
    *,
    client: httpx.Client | None = None,
) -> PolicyChanged:
    """``policy`` is a validated ``ModelPolicy`` as JSON (``model_dump(mode="json")``)."""
    workshop = workshop_service.get_workshop(platform, instructor, workshop_id)
    updated = platform.store.update_workshop(
        workshop.id, lambda current: replace(current, model_policy=policy)
    )
    told = put_to_hosts(platform, updated, CONTROL_PATH, {"model_policy": policy}, client=client)
    log.info(
        "model policy changed",
        extra={
            "workshop_id": workshop.id, "owner": instructor.owner,
            "hosts_told": sum(told.values()), "hosts": len(told),
        },
    )  # fmt: skip
    return PolicyChanged(updated, told)
