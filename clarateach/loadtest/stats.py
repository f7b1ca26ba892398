"""Latency summaries: nearest-rank percentiles (always a value that was observed)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

QUANTILES = (("p50", 50.0), ("p95", 95.0), ("p99", 99.0))


def percentile(samples: Sequence[float], q: float) -> float | None:
    """Nearest-rank ``q``-th percentile (0 < q <= 100); ``None`` without samples."""
    if not samples:
        return None
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(samples: Sequence[float]) -> dict[str, Any]:
    """``{"n", "p50", "p95", "p99", "max"}`` in the samples' unit (seconds here)."""
    body: dict[str, Any] = {"n": len(samples)}
    for name, q in QUANTILES:
        body[name] = _round(percentile(samples, q))
    body["max"] = _round(max(samples) if samples else None)
    return body


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
