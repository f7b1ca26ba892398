"""How loaded this host is, for ``GET /healthz`` (read by ``clarateach loadtest``).

Only aggregate numbers: the machine's CPU and memory use and this agent process's own CPU
time and resident memory. No process ids, names, paths, seat numbers or anything a learner
typed; a seat's shell could read all of this from ``/proc`` anyway.
"""

from __future__ import annotations

import time
from typing import Any

import psutil


class LoadSampler:
    """``sample()`` returns the numbers; the CPU percentage covers the time since the last call
    (since the sampler was made, for the first one)."""

    def __init__(self) -> None:
        self._process = psutil.Process()
        psutil.cpu_percent(interval=None)  # primes the "since the last call" baseline
        self._last = time.monotonic()

    def sample(self) -> dict[str, Any]:
        times = self._process.cpu_times()
        memory = psutil.virtual_memory()
        return {
            "host_cpu_percent": psutil.cpu_percent(interval=None),
            "host_cpus": psutil.cpu_count() or 1,
            "host_memory_percent": memory.percent,
            "host_memory_available_bytes": memory.available,
            "agent_cpu_seconds": round(times.user + times.system, 3),
            "agent_rss_bytes": self._process.memory_info().rss,
        }
