"""``SeatContent``: the installed pack and what the agent does with it for every seat.

Built at bring-up, once ``content_fetch`` has put the workshop's pack into
``settings.content_dir`` (``None`` without a pack: the guide routes answer 404
``no_content``). It owns the progress store, knows which seats
got their starter files, and runs checks (one at a time per seat) through the seat runtime.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from shared.content import Pack, Step
from workspace_agent.content.checks import CheckResult, check_argv, run_check
from workspace_agent.content.progress import ProgressStore
from workspace_agent.content.starter import git_commit_argv, install_starter
from workspace_agent.errors import ApiError
from workspace_agent.files.safe_fs import SeatFS
from workspace_agent.gateway.files import ensure_private_dir
from workspace_agent.logs import log_event
from workspace_agent.runtimes.base import SeatRuntime
from workspace_agent.settings import AgentSettings

log = logging.getLogger("workspace_agent.content")

GUIDE_DIR = "guide"  # under the agent's state dir (content_dir holds the pack itself)
GIT_TIMEOUT_S = 30
Ensure = Callable[[int, Mapping[str, str]], Awaitable[Any]]


class SeatContent:
    def __init__(
        self,
        settings: AgentSettings,
        pack: Pack,
        runtime: SeatRuntime,
        fs: Callable[[int], SeatFS],
        model_requests: Callable[[int], int],
    ) -> None:
        self.pack = pack
        self._settings = settings
        self._runtime = runtime
        self._fs = fs
        self._model_requests = model_requests
        self._dir = settings.state_dir / GUIDE_DIR
        self.progress = ProgressStore(self._dir, settings.seats, [s.id for s in self.steps])
        self._checking: set[int] = set()

    @property
    def steps(self) -> list[Step]:
        return list(self.pack.manifest.steps)

    def step(self, index: int) -> Step:
        if not 0 <= index < len(self.pack.manifest.steps):
            raise ApiError(404, "unknown_step", "the guide has no such step")
        return self.pack.manifest.steps[index]

    # -- starter files -------------------------------------------------------------------
    def _mark(self, seat: int) -> Path:
        return self._dir / f"seat-{seat}.starter"

    def wrap_ensure(self, ensure: Ensure) -> Ensure:
        """``ensure_seat`` that copies the starter files first (once per seat) and, if the
        pack asks, commits them in the seat right after it is up."""

        async def ensure_with_content(seat: int, env: Mapping[str, str]) -> None:
            fresh = not self._mark(seat).exists()
            if fresh:
                await asyncio.to_thread(self._install, seat)
            await ensure(seat, env)
            if fresh:
                await self._finish_starter(seat)

        return ensure_with_content

    def _install(self, seat: int) -> None:
        """The workspace (as the runtime would create it), then the starter files in it."""
        self._settings.workspace(seat).mkdir(
            mode=self._runtime.workspace_mode, parents=True, exist_ok=True
        )
        install_starter(self.pack, self._fs(seat))

    async def _finish_starter(self, seat: int) -> None:
        message = self.pack.manifest.starter.git_commit
        if message is not None:
            command = self._runtime.exec_command(seat, git_commit_argv(message), {})
            result = await run_check(command, b"", GIT_TIMEOUT_S)
            if not result.passed:
                log_event(
                    log, "starter_commit_failed", level=logging.WARNING, seat=seat,
                    message=result.message[-300:],
                )  # fmt: skip
        await asyncio.to_thread(self._write_mark, seat)
        log_event(log, "starter_installed", seat=seat)

    def _write_mark(self, seat: int) -> None:
        ensure_private_dir(self._dir)
        self._mark(seat).write_text("installed\n")

    async def reset_seat(self, seat: int) -> None:
        """After a seat reset emptied the workspace: a fresh copy, back to the first step."""
        self._mark(seat).unlink(missing_ok=True)
        await asyncio.to_thread(self._install, seat)
        await self._finish_starter(seat)
        await self.progress.reset(seat)

    # -- checks --------------------------------------------------------------------------
    async def check(self, seat: int, index: int) -> CheckResult:
        step = self.step(index)
        if step.check is None:
            raise ApiError(404, "no_check", "this step has no check")
        if seat in self._checking:
            raise ApiError(409, "check_running", "a check is already running in this seat")
        self._checking.add(seat)
        try:
            script = self.pack.read(step.check)  # the pack's copy, never the workspace's
            env = {
                "CLARATEACH_SEAT_MODEL_REQUESTS": str(self._model_requests(seat)),
                "CLARATEACH_STEP": step.id,
            }
            command = self._runtime.exec_command(
                seat, check_argv(script, step.check_timeout_s), env
            )
            result = await run_check(command, script, step.check_timeout_s)
        finally:
            self._checking.discard(seat)
        log_event(log, "check_run", seat=seat, step=step.id, passed=result.passed)
        if result.passed:
            await self.progress.record_pass(seat, step.id)
        return result


@dataclass
class ContentSlot:
    """Where the app keeps its ``SeatContent``: set at bring-up, after the pack is fetched."""

    content: SeatContent | None = None


CONTENT = web.AppKey("seat_content", ContentSlot)


def content_of(app: web.Application) -> SeatContent | None:
    slot = app.get(CONTENT)
    return slot.content if slot is not None else None
