"""Stopping the local runtime leaves no tmux socket files or socket directories behind."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from workspace_agent.runtimes.local import LocalRuntime
from workspace_agent.settings import AgentSettings


@pytest.mark.parametrize("depth", ["short", "long"], ids=["in-state-dir", "short-tmp-dir"])
async def test_stop_removes_tmux_sockets(settings: AgentSettings, tmp_path: Path, depth) -> None:
    if depth == "long":
        # Deep enough that the socket path would pass the 108-byte AF_UNIX limit, so the
        # runtime puts sockets in a short private directory under the temp dir.
        settings = replace(settings, state_dir=tmp_path / ("d" * 60) / ("e" * 60))
    settings = replace(settings, terminal_backend="tmux")  # the backend that runs tmux servers
    runtime = LocalRuntime(settings)
    for seat in settings.seats:
        await runtime.ensure_seat(seat, {})
    sockets = [runtime.socket_path(seat) for seat in settings.seats]
    assert all(sock.exists() for sock in sockets)

    await runtime.stop()

    assert not any(sock.exists() for sock in sockets)
    if depth == "long":
        assert not sockets[0].parent.exists(), "the short socket directory is removed"
