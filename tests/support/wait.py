"""The one way tests wait: poll a predicate until it holds or a deadline passes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    pass


def wait_for(
    predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.02, message: str = ""
) -> T:
    """Call ``predicate`` until it returns a truthy value; return that value.

    Fails with ``WaitTimeout`` naming ``message`` (and the last exception, if the predicate
    raised) once ``timeout`` seconds pass.
    """
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:
            last_exc = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_exc!r})" if last_exc else ""
            raise WaitTimeout(
                f"timed out after {timeout}s waiting for {message or predicate}{detail}"
            )
        time.sleep(interval)  # poll interval of a deadline-bounded wait, not a blind sleep


async def async_wait_for(
    predicate: Callable[[], Awaitable[T] | T],
    timeout: float = 10.0,
    interval: float = 0.02,
    message: str = "",
) -> T:
    """Async twin of ``wait_for``; ``predicate`` may be sync or async."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while True:
        try:
            value = predicate()
            if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
                value = await value
            if value:
                return value  # type: ignore[return-value]
        except Exception as exc:
            last_exc = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_exc!r})" if last_exc else ""
            raise WaitTimeout(
                f"timed out after {timeout}s waiting for {message or predicate}{detail}"
            )
        await asyncio.sleep(interval)
