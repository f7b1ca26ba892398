"""At boot, before any seat comes up: fetch the workshop's content pack and unpack it into
``settings.content_dir`` (docs/content-packs.md, "Delivery").

Only hosts that report through the API (``CLARATEACH_AGENT_EVENTS=hostapi:<API URL>``) can
fetch: they prove who they are the same way (``shared.adapters.host_content``). The pack is
validated again on the way in (``shared.content.extract_pack``). Transient failures are
retried with a bounded backoff; if the pack still cannot be had, the previous copy (an agent
restart) is kept, or there is none, and the failure is logged: seats still come up.
"""

from __future__ import annotations

import asyncio
import logging
import shutil

from shared.content import ContentPackError, Pack, extract_pack, installed_pack
from shared.domain.errors import PermanentError, TransientError
from workspace_agent.logs import log_event
from workspace_agent.settings import AgentSettings

log = logging.getLogger("workspace_agent.content")

ATTEMPTS = 6
FIRST_BACKOFF_S = 0.5


def api_base(settings: AgentSettings) -> str:
    scheme, _, rest = settings.events_url.partition(":")
    return rest if scheme == "hostapi" else ""


async def fetch_content(
    settings: AgentSettings, *, attempts: int = ATTEMPTS, backoff_s: float = FIRST_BACKOFF_S
) -> Pack | None:
    """Fetch and unpack this workshop's pack; return what ``content_dir`` now holds."""
    base = api_base(settings)
    if not base or not settings.workshop_id:
        return _installed(settings)
    from shared.adapters.host_content import HostContentClient

    client = HostContentClient(base, token=settings.events_token or None)
    delay = backoff_s
    for attempt in range(1, attempts + 1):
        try:
            data = await asyncio.to_thread(
                client.fetch, settings.workshop_id, settings.host_index, settings.attempt
            )
        except TransientError as exc:
            log_event(
                log, "content_fetch_retry", level=logging.WARNING, error=str(exc), attempt=attempt
            )
            if attempt < attempts:
                await asyncio.sleep(delay)  # bounded backoff between tries
                delay = min(delay * 2, 8.0)
            continue
        except (PermanentError, ValueError) as exc:
            log_event(log, "content_fetch_refused", level=logging.ERROR, error=str(exc))
            return _installed(settings)
        return await asyncio.to_thread(_unpack, settings, data)
    log_event(log, "content_unavailable", level=logging.ERROR)
    return _installed(settings)


def _unpack(settings: AgentSettings, data: bytes | None) -> Pack | None:
    target = settings.content_dir
    if data is None:  # the workshop has no pack: nothing of an earlier one may linger
        shutil.rmtree(target, ignore_errors=True)
        log_event(log, "content_none")
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        pack = extract_pack(data, target)
    except ContentPackError as exc:
        log_event(log, "content_invalid", level=logging.ERROR, error=exc.message)
        return _installed(settings)
    log_event(log, "content_ready", steps=len(pack.manifest.steps), files=len(pack.files))
    return pack


def _installed(settings: AgentSettings) -> Pack | None:
    try:
        return installed_pack(settings.content_dir)
    except ContentPackError as exc:
        log_event(log, "content_invalid", level=logging.ERROR, error=exc.message)
        return None
