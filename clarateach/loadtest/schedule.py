"""When each simulated learner arrives, in seconds after the run starts."""

from __future__ import annotations


def arrival_offsets(learners: int, over: float, *, burst: bool = False) -> list[float]:
    """``learners`` offsets: all ``0`` for a burst (everyone presses "join" at once), else
    spread uniformly over ``[0, over)`` (learner ``i`` at ``i * over / learners``)."""
    if learners < 0 or over < 0:
        raise ValueError("learners and over must not be negative")
    if burst or learners == 0:
        return [0.0] * learners
    step = over / learners
    return [i * step for i in range(learners)]
