"""The whole rehearsal: get a running workshop, let the learners arrive, sample the hosts,
build the report, and clean up (stop what it created unless told to keep it).

Bounded: at most ``MAX_LEARNERS`` learners, and every run has a deadline (arrivals +
duration + per-step timeouts) after which unfinished learners are cancelled and counted as
``deadline`` failures. Instructor calls use the synchronous ``ApiClient`` in a worker thread;
learners are asyncio tasks in one event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import psutil

from clarateach.api_client import ApiClient
from clarateach.loadtest import report as report_mod
from clarateach.loadtest.hosts import HostSampler
from clarateach.loadtest.learner import LearnerPlan, LearnerResult, run_learner
from clarateach.loadtest.schedule import arrival_offsets

MAX_LEARNERS = 1000
MAX_SECONDS = 3600.0
POLL_S = 0.5
STOP_TIMEOUT_S = 120.0
_DEAD_END = frozenset({"failed", "stopping", "stopped"})


class LoadtestRefused(Exception):
    """The run must not (or cannot) happen; the message says why and what to do."""


@dataclass(frozen=True)
class RunConfig:
    api_url: str
    origin: str
    learners: int
    over: float = 0.0
    burst: bool = False
    duration: float = 10.0
    type_rate: float = 5.0
    model_requests: int = 0
    workshop_id: str | None = None  # None: create one (and stop it afterwards)
    api_key: str | None = None  # for the workshop it creates
    seats_per_host: int | None = None
    keep: bool = False
    thresholds: report_mod.Thresholds = field(default_factory=report_mod.Thresholds)
    start_timeout: float = 600.0
    step_timeout: float = 30.0
    echo_timeout: float = 5.0

    @property
    def deadline_s(self) -> float:
        """Seconds after the first arrival by which every learner must be done."""
        return self.over + self.duration + 4 * self.step_timeout + self.echo_timeout + 30.0


Rewrite = Callable[[str], str]
Tick = Callable[[Sequence[LearnerResult]], None]


async def run(
    config: RunConfig,
    client: ApiClient,
    *,
    on_tick: Tick | None = None,
    rewrite: Rewrite | None = None,
) -> dict[str, Any]:
    """Run the rehearsal and return the report (see ``report.build``)."""
    own = psutil.Process()
    cpu_before, wall_before = _cpu(own), time.perf_counter()
    workshop, created, start_to_running = await _workshop(config, client)
    cleanup: dict[str, Any] = {"summary": "nothing to clean up"}
    try:
        results, spread, hosts = await _learners(config, workshop, on_tick, rewrite)
    finally:
        if created:
            cleanup = await _cleanup(client, str(workshop["id"]), config.keep)
    context = {
        "target": {
            "api_url": config.api_url,
            "workshop_id": workshop.get("id"),
            "created": created,
            "hosts": len(workshop.get("hosts") or []),
        },
        "config": {
            "learners": config.learners,
            "over_s": config.over,
            "burst": config.burst,
            "duration_s": config.duration,
            "type_rate": config.type_rate,
            "model_requests": config.model_requests,
        },
        "start_to_running_s": start_to_running,
        "host_timings": [h.get("timings") for h in workshop.get("hosts") or []],
        "arrival_spread_s": spread,
        "hosts": hosts,
        "loadtest_process": {
            "cpu_seconds": round(_cpu(own) - cpu_before, 2),
            "wall_s": round(time.perf_counter() - wall_before, 2),
        },
        "cleanup": cleanup,
    }
    typing = config.duration > 0 and config.type_rate > 0
    return report_mod.build(results, config.thresholds, typing=typing, **context)


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


# --------------------------------------------------------------------------- workshop
async def _workshop(
    config: RunConfig, client: ApiClient
) -> tuple[dict[str, Any], bool, float | None]:
    """(running workshop, created by us?, seconds from start to running or None)."""
    if config.workshop_id is not None:
        workshop = await asyncio.to_thread(client.get_workshop, config.workshop_id)
        if workshop.get("status") != "running":
            raise LoadtestRefused(
                f"workshop {config.workshop_id} is {workshop.get('status')}, not running"
                " (start it first, or use --create)"
            )
        taken = (await asyncio.to_thread(client.seats, config.workshop_id)).get("seats") or []
        if taken:
            raise LoadtestRefused(
                f"workshop {config.workshop_id} already has {len(taken)} joined seat(s): real"
                " learners may be using it. Rehearse on a workshop of its own (--create)."
            )
        if int(workshop.get("seats") or 0) < config.learners:
            raise LoadtestRefused(
                f"workshop {config.workshop_id} has {workshop.get('seats')} seats, fewer than"
                f" --learners {config.learners}"
            )
        return workshop, False, None
    if not config.api_key:
        raise LoadtestRefused("creating a workshop needs an Anthropic API key")
    name = f"loadtest {datetime.now(UTC):%Y-%m-%d %H:%M:%S}"
    workshop = await asyncio.to_thread(
        client.create_workshop, name, config.learners, config.api_key, config.seats_per_host
    )
    try:
        started = time.perf_counter()
        workshop = await asyncio.to_thread(client.start_workshop, str(workshop["id"]))
        workshop = await _wait_running(client, workshop, config.start_timeout)
        return workshop, True, round(time.perf_counter() - started, 3)
    except BaseException:
        await _cleanup(client, str(workshop["id"]), keep=False)
        raise


async def _wait_running(
    client: ApiClient, workshop: dict[str, Any], timeout: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while workshop.get("status") != "running":
        status = workshop.get("status")
        if status in _DEAD_END:
            raise LoadtestRefused(
                f"workshop {workshop.get('id')} {status}: {workshop.get('error') or status}"
            )
        if time.monotonic() >= deadline:
            raise LoadtestRefused(f"workshop still {status} after {timeout:g} s")
        await asyncio.sleep(POLL_S)  # the poll interval of a deadline-bounded wait
        workshop = await asyncio.to_thread(client.get_workshop, str(workshop["id"]))
    return workshop


async def _cleanup(client: ApiClient, workshop_id: str, keep: bool) -> dict[str, Any]:
    """Stop the workshop we created (its hosts, agents and shells go with it) and wait
    until it is ``stopped``. The API has no workshop deletion: a stopped workshop stays in
    ``workshop list`` as a record, holding no host and no API key."""
    if keep:
        return {"stopped": False, "kept": True, "summary": f"kept workshop {workshop_id}"}
    try:
        workshop = await asyncio.to_thread(client.stop_workshop, workshop_id)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while workshop.get("status") != "stopped" and time.monotonic() < deadline:
            await asyncio.sleep(POLL_S)  # the poll interval of a deadline-bounded wait
            workshop = await asyncio.to_thread(client.get_workshop, workshop_id)
    except Exception as exc:  # reported, never hidden: the user must clean up by hand
        return {
            "stopped": False,
            "kept": False,
            "summary": f"could not stop workshop {workshop_id}: {exc}"
            f" (run `clarateach workshop stop {workshop_id}`)",
        }
    stopped = workshop.get("status") == "stopped"
    return {
        "stopped": stopped,
        "kept": False,
        "summary": f"workshop {workshop_id} {'stopped' if stopped else workshop.get('status')}",
    }


# --------------------------------------------------------------------------- learners
async def _learners(
    config: RunConfig,
    workshop: dict[str, Any],
    on_tick: Tick | None,
    rewrite: Rewrite | None,
) -> tuple[list[LearnerResult], float | None, list[dict[str, Any]]]:
    plan = LearnerPlan(
        code=str(workshop["code"]),
        api_url=config.api_url,
        origin=config.origin,
        duration=config.duration,
        type_rate=config.type_rate,
        model_requests=config.model_requests,
        step_timeout=config.step_timeout,
        echo_timeout=config.echo_timeout,
    )
    results = [LearnerResult(index=i) for i in range(config.learners)]
    offsets = arrival_offsets(config.learners, config.over, burst=config.burst)
    arrived: list[float] = []
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        hosts = [
            (int(h["index"]), rewrite(str(h["endpoint"])) if rewrite else str(h["endpoint"]))
            for h in workshop.get("hosts") or []
            if h.get("endpoint")
        ]
        sampler = HostSampler(session, hosts)
        sampler.start()
        begin = time.perf_counter()

        async def learner(i: int) -> None:
            await asyncio.sleep(max(0.0, begin + offsets[i] - time.perf_counter()))  # arrival
            arrived.append(time.perf_counter())
            await run_learner(i, plan, session, results[i], rewrite)

        ticker = asyncio.create_task(_tick(on_tick, results)) if on_tick else None
        tasks = [asyncio.create_task(learner(i)) for i in range(config.learners)]
        try:
            await asyncio.wait(tasks, timeout=config.deadline_s)
        finally:  # also when the run itself is cancelled (Ctrl-C): no learner outlives it
            for task in (*tasks, *([ticker] if ticker else [])):
                task.cancel()
            await asyncio.gather(*tasks, *([ticker] if ticker else []), return_exceptions=True)
            host_report = await sampler.stop()
        for result in results:
            if result.cause is None and result.stage != "done":
                result.fail("deadline", f"not done {config.deadline_s:g} s after the start")
        if on_tick is not None:
            on_tick(results)
    spread = round(max(arrived) - min(arrived), 3) if arrived else None
    return results, spread, host_report


async def _tick(on_tick: Tick, results: Sequence[LearnerResult]) -> None:
    while True:
        on_tick(results)
        await asyncio.sleep(0.25)  # the progress display's refresh period
