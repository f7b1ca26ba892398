"""Learner progress through a workshop's content pack, as hosts report it.

Each seat's entry of a ``host.usage`` event may carry
``"progress": {"step": <0-based index of the step reached>, "checks_passed": [<step ids>]}``
(docs/content-packs.md). ``parse_progress`` is strict and bounded: a host is trusted with its
own seats' numbers, not with the shape of what it sends.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: A content pack's step limits (``shared.content.manifest`` validates packs with them). Here,
#: not there, so the store port and the functions that never touch packs never import the
#: manifest's pydantic models.
MAX_STEPS = 50
STEP_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


@dataclass(frozen=True)
class SeatProgress:
    step: int
    checks_passed: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {"step": self.step, "checks_passed": list(self.checks_passed)}


def parse_progress(value: object) -> SeatProgress:
    """A ``SeatProgress`` from its JSON form; ``ValueError`` naming what is wrong."""
    if not isinstance(value, Mapping) or set(value) - {"step", "checks_passed"}:
        raise ValueError("progress must be an object with step and checks_passed only")
    step = value.get("step")
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step < MAX_STEPS:
        raise ValueError(f"progress.step must be an integer 0..{MAX_STEPS - 1}")
    passed = value.get("checks_passed", [])
    if not isinstance(passed, list) or len(passed) > MAX_STEPS:
        raise ValueError(f"progress.checks_passed must be a list of at most {MAX_STEPS} ids")
    for item in passed:
        if not isinstance(item, str) or not STEP_ID.fullmatch(item):
            raise ValueError("progress.checks_passed holds step ids (a-z, 0-9, '-')")
    return SeatProgress(step=step, checks_passed=tuple(dict.fromkeys(passed)))


def step_histogram(progress: Iterable[SeatProgress], steps: int) -> list[int]:
    """How many seats are on each of ``steps`` steps (a step past the end counts as the last)."""
    counts = [0] * steps
    if steps == 0:
        return counts
    for entry in progress:
        counts[min(entry.step, steps - 1)] += 1
    return counts
