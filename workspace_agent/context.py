"""The agent's long-lived collaborators, stored in the app under one typed key."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from workspace_agent.activity import SeatActivity
from workspace_agent.activity.room import RoomNotices
from workspace_agent.auth import Authenticator, KeyStore
from workspace_agent.files.safe_fs import SeatFS
from workspace_agent.readiness import Readiness
from workspace_agent.runtimes.base import SeatRuntime
from workspace_agent.settings import AgentSettings
from workspace_agent.terminal.registry import ViewerRegistry
from workspace_agent.terminal.shell import SeatShells


@dataclass
class AgentContext:
    settings: AgentSettings
    keys: KeyStore
    auth: Authenticator
    runtime: SeatRuntime
    registry: ViewerRegistry
    readiness: Readiness
    clock: Callable[[], float]
    filesystems: dict[int, SeatFS] = field(default_factory=dict)
    shells: SeatShells | None = None  # the buffered terminal backend's shells, else None
    activity: SeatActivity = field(default_factory=SeatActivity)  # for the cockpit
    notices: RoomNotices = field(default_factory=RoomNotices)  # broadcast, raised hands

    def fs(self, seat: int) -> SeatFS:
        if seat not in self.filesystems:
            self.filesystems[seat] = SeatFS(self.settings.workspace(seat), owner=self.file_owner)
        return self.filesystems[seat]

    @property
    def file_owner(self) -> tuple[int, int] | None:
        """Docker runtime with a root agent: files it creates belong to the learner UID."""
        if self.settings.runtime == "docker" and os.geteuid() == 0:
            return (1000, 1000)
        return None


CONTEXT = web.AppKey("agent_context", AgentContext)
