"""Seat runtimes: where a seat's persistent tmux session lives (``local`` or ``docker``)."""

from __future__ import annotations

from workspace_agent.runtimes.base import Command, SeatRuntime
from workspace_agent.settings import AgentSettings


def runtime_for(settings: AgentSettings) -> SeatRuntime:
    """The runtime named by ``settings.runtime``."""
    if settings.runtime == "docker":
        from workspace_agent.runtimes.docker import DockerRuntime

        return DockerRuntime(settings)
    from workspace_agent.runtimes.local import LocalRuntime

    return LocalRuntime(settings)


__all__ = ["Command", "SeatRuntime", "runtime_for"]
