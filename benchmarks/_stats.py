"""Tiny helpers every benchmark shares: percentiles, a timer and a plain-text table.

Usage::

    from benchmarks._stats import Timer, summarize, print_table

    latencies = []
    with Timer() as wall:
        for _ in range(100):
            with Timer() as one:
                do_work()
            latencies.append(one.seconds)
    print_table("my benchmark", [summarize("sqlite", latencies, wall.seconds)])

Percentiles use the nearest-rank method (a value that was actually observed).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any


class Timer:
    """Context manager measuring wall time with ``perf_counter``; read ``.seconds`` after."""

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.seconds = time.perf_counter() - self.start


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank ``q``-th percentile (0 < q <= 100) of ``samples``; NaN if empty."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summarize(name: str, latencies: Sequence[float], wall_s: float, **extra: Any) -> dict[str, Any]:
    """One table row: name, count, wall time, p50 and p99 (all in ms), plus ``extra`` columns."""
    return {
        "name": name,
        "n": len(latencies),
        "wall ms": wall_s * 1000,
        "p50 ms": percentile(latencies, 50) * 1000,
        "p99 ms": percentile(latencies, 99) * 1000,
        **extra,
    }


def print_table(title: str, rows: Sequence[dict[str, Any]]) -> None:
    """Print ``rows`` (dicts sharing keys) as an aligned table; floats get two decimals."""
    print(f"\n{title}")
    if not rows:
        print("  (no rows)")
        return
    columns = list(dict.fromkeys(key for row in rows for key in row))
    cells = [[_cell(row.get(col, "")) for col in columns] for row in rows]
    widths = [max(len(col), *(len(r[i]) for r in cells)) for i, col in enumerate(columns)]
    print("  " + "  ".join(col.ljust(w) for col, w in zip(columns, widths, strict=True)))
    print("  " + "  ".join("-" * w for w in widths))
    for row in cells:
        print("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def _cell(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)
