"""Each seat's place in the guide: the step it is on and the steps whose check passed.

One small JSON file per seat, ``<state>/guide/seat-<n>.json`` (0600, replaced atomically),
read at start, so the position survives a page reload, a reconnect and an agent restart.
``version`` grows on every change; the usage reporter compares it to know when to publish.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workspace_agent.gateway.files import ensure_private_dir, read_json, write_private_json


@dataclass
class SeatProgress:
    step: int = 0
    checks_passed: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"step": self.step, "checks_passed": list(self.checks_passed)}


class ProgressStore:
    def __init__(self, directory: Path, seats: Iterable[int], step_ids: list[str]) -> None:
        self._dir = directory
        self._ids = step_ids
        self._seats: dict[int, SeatProgress] = {}
        self._lock = asyncio.Lock()
        self.version = 0
        for seat in seats:
            self._seats[seat] = self._load(seat)

    def _path(self, seat: int) -> Path:
        return self._dir / f"seat-{seat}.json"

    def _load(self, seat: int) -> SeatProgress:
        """What an earlier run saved, kept only where it still fits the pack's steps."""
        stored = read_json(self._path(seat))
        progress = SeatProgress()
        if not isinstance(stored, dict):
            return progress
        step = stored.get("step")
        if isinstance(step, int) and not isinstance(step, bool) and 0 <= step < len(self._ids):
            progress.step = step
        passed = stored.get("checks_passed")
        if isinstance(passed, list):
            progress.checks_passed = [i for i in self._ids if i in passed]
        return progress

    def get(self, seat: int) -> SeatProgress:
        return self._seats.setdefault(seat, SeatProgress())

    async def _save(self, seat: int) -> None:
        self.version += 1
        data = self.get(seat).to_json()
        async with self._lock:  # one writer at a time: the temp file name is per process
            await asyncio.to_thread(self._write, seat, data)

    def _write(self, seat: int, data: dict[str, Any]) -> None:
        ensure_private_dir(self._dir)
        write_private_json(self._path(seat), data)

    async def set_step(self, seat: int, step: int) -> SeatProgress:
        progress = self.get(seat)
        if progress.step != step:
            progress.step = step
            await self._save(seat)
        return progress

    async def record_pass(self, seat: int, step_id: str) -> SeatProgress:
        progress = self.get(seat)
        if step_id not in progress.checks_passed:
            passed = {*progress.checks_passed, step_id}
            progress.checks_passed = [i for i in self._ids if i in passed]  # in step order
            await self._save(seat)
        return progress

    async def reset(self, seat: int) -> None:
        self._seats[seat] = SeatProgress()
        await self._save(seat)

    def report(self) -> dict[str, dict[str, Any]]:
        """``{"<seat>": {"step", "checks_passed"}}``: the ``progress`` of ``host.usage``."""
        return {str(seat): p.to_json() for seat, p in sorted(self._seats.items())}
