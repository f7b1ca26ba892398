"""Samples each host's load from its agent's ``GET /healthz`` (docs/protocol.md section 3)
once a second while the learners run, and summarises it per host."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

SAMPLE_EVERY_S = 1.0


@dataclass
class HostSamples:
    index: int
    endpoint: str
    samples: list[dict[str, Any]] = field(default_factory=list)
    errors: int = 0

    def summary(self) -> dict[str, Any]:
        def values(name: str) -> list[float]:
            return [float(s[name]) for s in self.samples if isinstance(s.get(name), int | float)]

        cpu, memory, rss = (
            values("host_cpu_percent")[1:],  # the first covers the time before the run
            values("host_memory_percent"),
            values("agent_rss_bytes"),
        )
        agent_cpu = values("agent_cpu_seconds")
        return {
            "index": self.index,
            "endpoint": self.endpoint,
            "samples": len(self.samples),
            "errors": self.errors,
            "host_cpu_percent": {
                "mean": round(sum(cpu) / len(cpu), 1) if cpu else None,
                "max": max(cpu) if cpu else None,
            },
            "host_memory_percent_max": max(memory) if memory else None,
            "agent_cpu_seconds": round(agent_cpu[-1] - agent_cpu[0], 2) if agent_cpu else None,
            "agent_rss_bytes_max": int(max(rss)) if rss else None,
        }


class HostSampler:
    """``start()`` a background task polling every host; ``stop()`` returns the summaries."""

    def __init__(
        self, session: aiohttp.ClientSession, hosts: list[tuple[int, str]], every: float = 1.0
    ) -> None:
        self.session = session
        self.hosts = [HostSamples(index, endpoint) for index, endpoint in hosts]
        self.every = every
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            began = time.monotonic()
            await asyncio.gather(*(self._sample(host) for host in self.hosts))
            await asyncio.sleep(max(0.0, began + self.every - time.monotonic()))  # the period

    async def _sample(self, host: HostSamples) -> None:
        try:
            async with self.session.get(
                f"{host.endpoint.rstrip('/')}/healthz", timeout=aiohttp.ClientTimeout(total=5)
            ) as response:
                body = await response.json(content_type=None)
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError):
            host.errors += 1
            return
        load = body.get("load") if isinstance(body, dict) else None
        if isinstance(load, dict):
            host.samples.append(load)
        else:
            host.errors += 1  # an agent without load numbers (older version)

    async def stop(self) -> list[dict[str, Any]]:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await asyncio.gather(*(self._sample(host) for host in self.hosts))
        return [host.summary() for host in self.hosts]
