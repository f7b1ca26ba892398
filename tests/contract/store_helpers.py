"""Builders and a concurrency driver for the state-store contract suite."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from shared.domain.codes import new_workshop_code, new_workshop_id
from shared.domain.model import Workshop

T = TypeVar("T")
A = TypeVar("A")

BASE_TIME = datetime(2026, 3, 1, 9, 0, 0, 123456, tzinfo=UTC)
BARRIER_TIMEOUT_S = 60.0


def make_workshop(**overrides: Any) -> Workshop:
    """A valid workshop with fresh id and code; ``overrides`` replace any field."""
    fields: dict[str, Any] = {
        "id": new_workshop_id(),
        "name": "Intro to Claude Code",
        "code": new_workshop_code(),
        "seats": 10,
        "seats_per_host": 10,
        "owner": "alice@example.com",
    }
    fields.update(overrides)
    return Workshop(**fields)


def at(minutes: float) -> datetime:
    """A fixed instant ``minutes`` after ``BASE_TIME`` (deterministic ordering in tests)."""
    return BASE_TIME + timedelta(minutes=minutes)


@dataclass(frozen=True)
class Outcome(Generic[T]):
    value: T | None = None
    error: BaseException | None = None


def run_together(call: Callable[[A], T], args: Sequence[A], workers: int = 64) -> list[Outcome[T]]:
    """Run ``call(arg)`` for every arg on ``workers`` threads, the first wave released at once.

    A barrier holds the first ``workers`` calls until all of them are ready, so they really
    race instead of trickling in as threads start. Outcomes keep the order of ``args``.
    """
    workers = min(workers, len(args))
    barrier = threading.Barrier(workers)

    def one(index: int) -> Outcome[T]:
        if index < workers:
            barrier.wait(timeout=BARRIER_TIMEOUT_S)
        try:
            return Outcome(value=call(args[index]))
        except Exception as exc:
            return Outcome(error=exc)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, range(len(args))))
