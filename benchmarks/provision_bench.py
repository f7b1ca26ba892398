"""Provisioning latency on this machine: start request -> workshop ``running``, embedded mode.

The real path, end to end: ``workshops.start_workshop`` publishes ``workshop.start_requested``
on the local bus -> functions-framework ``provisioner`` over HTTP -> ``LocalCompute`` starts
one real ``python -m workspace_agent`` per host (tmux seats) -> each agent publishes
``host.ready`` back through the local bus -> ``running``. Each run is stopped (all agents
gone) before the next.

Targets (issue 4): 10 seats / 1 host <= 3 s; 50 seats / 5 hosts <= 8 s.
Run: ``nox -s bench -- provision_bench`` or ``python -m benchmarks.provision_bench [runs]``.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from benchmarks._stats import percentile, print_table
from functions.runtime import set_platform
from shared.adapters.local_bus import LocalBus
from shared.adapters.local_compute import LocalCompute
from shared.adapters.local_secrets import LocalSecrets
from shared.adapters.sqlite_store import SqliteStore
from shared.auth.instructor import Instructor
from shared.auth.platform_keys import push_token
from shared.bootstrap import Platform, bootstrap
from shared.domain.model import WorkshopStatus
from shared.services import workshops
from shared.settings import Settings
from tests.provisioner.e2e_support import (
    agent_processes,
    served_join_function,
    served_provisioner,
)

TEACHER = Instructor(owner="bench@example.com")
API_KEY = "sk-ant-api03-" + "benchmarkKey_" * 5
CASES = (("10 seats, 1 host", 10, 10, 3.0), ("50 seats, 5 hosts", 50, 10, 8.0))


def wait_status(
    platform: Platform, workshop_id: str, wanted: WorkshopStatus, timeout: float
) -> float:
    """Seconds until the workshop reaches ``wanted`` (polled every 5 ms); raises on failure."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        workshop = platform.store.get_workshop(workshop_id)
        assert workshop is not None
        if workshop.status is wanted:
            return time.perf_counter() - start
        if workshop.status is WorkshopStatus.FAILED:
            raise RuntimeError(f"workshop failed: {workshop.error}")
        time.sleep(0.005)  # polling interval of a bounded wait
    raise TimeoutError(f"workshop did not reach {wanted.value} within {timeout} s")


def run_once(
    platform: Platform, seats: int, per_host: int
) -> tuple[float, float, dict[str, float]]:
    created = workshops.create_workshop(
        platform, TEACHER, name="bench", seats=seats, api_key=API_KEY, seats_per_host=per_host
    )
    started = time.perf_counter()
    workshops.start_workshop(platform, TEACHER, created.id)
    wait_status(platform, created.id, WorkshopStatus.RUNNING, 60)
    to_running = time.perf_counter() - started
    running = platform.store.get_workshop(created.id)
    assert running is not None
    phases = _phase_means(running.hosts)
    stop_started = time.perf_counter()
    workshops.stop_workshop(platform, TEACHER, created.id)
    wait_status(platform, created.id, WorkshopStatus.STOPPED, 60)
    return to_running, time.perf_counter() - stop_started, phases


def _phase_means(hosts: tuple) -> dict[str, float]:
    from datetime import datetime

    sums = {"instance_running": 0.0, "ready": 0.0}
    for host in hosts:
        requested = datetime.fromisoformat(host.timings["requested"])
        for phase in sums:
            sums[phase] += (datetime.fromisoformat(host.timings[phase]) - requested).total_seconds()
    return {phase: total / len(hosts) for phase, total in sums.items()}


def main(runs: int = 3) -> int:
    with tempfile.TemporaryDirectory(prefix="provision-bench-") as tmp:
        state = Path(tmp) / "state"
        token = push_token(state)
        with served_provisioner(token) as url, served_join_function() as api_url:
            return _run(state, url, api_url, token, runs)


def _run(state: Path, url: str, api_url: str, token: str, runs: int) -> int:
    rows, ok = [], True
    settings = Settings(mode="local", state_dir=state, provisioner_url=url, public_api_url=api_url)
    bus = LocalBus(push_url=url, push_token=token)
    compute = LocalCompute.from_settings(settings)
    platform = bootstrap(
        settings,
        store=SqliteStore(state / "state.db"),
        bus=bus,
        compute=compute,
        secrets=LocalSecrets(state / "secrets"),
    )
    set_platform(platform)
    try:
        for name, seats, per_host, target in CASES:
            samples, stops, phases = [], [], []
            for _ in range(runs):
                to_running, to_stopped, phase = run_once(platform, seats, per_host)
                samples.append(to_running)
                stops.append(to_stopped)
                phases.append(phase)
            worst = max(samples)
            ok &= worst <= target
            rows.append(
                {
                    "case": name,
                    "runs": runs,
                    "p50 s": percentile(samples, 50),
                    "max s": worst,
                    "target s": target,
                    "insert->running s": sum(p["instance_running"] for p in phases) / runs,
                    "request->ready s": sum(p["ready"] for p in phases) / runs,
                    "stop s": percentile(stops, 50),
                    "meets": "yes" if worst <= target else "NO",
                }
            )
        leftovers = agent_processes(state / "hosts")
    finally:
        set_platform(None)
        compute.cleanup_orphans()
        bus.close()
    print_table("start request -> running (local platform, real workspace agents)", rows)
    print(f"\n  agent processes left after the stops: {len(leftovers)}")
    return 0 if ok and not leftovers else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3))
