"""The preview's collaborators, stored in the app under one typed key."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from aiohttp import web

from workspace_agent.preview.grants import PreviewGrants
from workspace_agent.preview.origins import PreviewOrigins
from workspace_agent.preview.proxy import PreviewProxy
from workspace_agent.preview.reach import SeatReach

LOGGER = "workspace_agent.preview"


@dataclass
class Preview:
    origins: PreviewOrigins
    grants: PreviewGrants
    reach: SeatReach
    proxy: PreviewProxy
    log: logging.Logger = field(
        default_factory=lambda: logging.getLogger("workspace_agent.preview")
    )


PREVIEW = web.AppKey("preview", Preview)
