"""The configuration each host's workspace agent starts with (docs/protocol.md section 5).

Built by the provisioner from settings and the workshop; becomes the agent's environment
locally and VM metadata on GCE. It never contains a secret: the API key travels only as a
secrets-port reference the agent resolves itself, and a host proves who it is with its instance
identity token (GCE) or with the host events token ``LocalCompute`` adds to a local agent's
environment only.
"""

from __future__ import annotations

import json

from shared.adapters.urls import events_url_for, secrets_url_for
from shared.domain.model import Host, Workshop
from shared.services.host_dns import public_url
from shared.settings import Settings


def agent_config(
    settings: Settings, workshop: Workshop, host: Host, slot: str | None = None
) -> dict[str, str]:
    """The host's agent environment; ``slot`` is the slot label it holds, if any."""
    config = {
        "CLARATEACH_AGENT_WORKSHOP_ID": workshop.id,
        "CLARATEACH_AGENT_HOST_INDEX": str(host.index),
        "CLARATEACH_AGENT_ATTEMPT": str(workshop.attempt),
        "CLARATEACH_AGENT_SEATS": f"{host.seat_first}-{host.seat_last}",
        "CLARATEACH_AGENT_ISSUER": settings.jwt_issuer,
        "CLARATEACH_AGENT_JWKS_URL": f"{settings.public_api_url.rstrip('/')}/api/jwks.json",
        "CLARATEACH_AGENT_EVENTS": events_url_for(settings),
        "CLARATEACH_AGENT_SECRETS": secrets_url_for(settings),
        "CLARATEACH_AGENT_API_KEY_REF": workshop.api_key_ref or "",
        "CLARATEACH_AGENT_MODEL_POLICY": json.dumps(workshop.model_policy, separators=(",", ":")),
        "CLARATEACH_AGENT_MODEL_PAUSED": "true" if workshop.model_paused else "false",
        "CLARATEACH_AGENT_MODEL_PAUSED_SEATS": ",".join(
            str(n) for n in workshop.paused_seats if host.serves(n)
        ),
        "CLARATEACH_AGENT_ALLOWED_ORIGINS": ",".join(settings.allowed_origins),
        "CLARATEACH_AGENT_RUNTIME": "docker" if settings.mode == "gcp" else "local",
    }
    if (schedule := workshop.schedule) is not None:
        config["CLARATEACH_AGENT_ENDS_AT"] = schedule.ends_at.isoformat()
        config["CLARATEACH_AGENT_GRACE_ENDS_AT"] = schedule.grace_ends_at.isoformat()
    if settings.mode == "local" and settings.claude_code_dir:
        config["CLARATEACH_AGENT_CLAUDE_CODE_DIR"] = settings.claude_code_dir
    if settings.mode == "gcp" and settings.seat_image:
        config["CLARATEACH_AGENT_SEAT_IMAGE"] = settings.seat_image
    if settings.model_upstream:
        config["CLARATEACH_AGENT_MODEL_UPSTREAM"] = settings.model_upstream
    if url := public_url(settings, host.name, slot):
        # Published by the provisioner as A records (<slot>.<domain> and *.<slot>.<domain>
        # for a slotted host); without a managed domain the host computes its own.
        config["CLARATEACH_AGENT_PUBLIC_URL"] = url
    return config
