"""``POST /api/join`` latency under 200 concurrent joins, through the whole HTTP stack.

The functions-framework ``api`` app (the Cloud Functions entry point) is served by a threaded
Werkzeug server on loopback, backed by a SQLite store and local 0600-file secrets in a temp
directory. Each round creates a workshop, forces it to ``running`` with fake host endpoints
(nothing is provisioned) and fires all joins at once from one asyncio client. Two scenarios:

* ``200 joins / 200 seats`` - everyone gets a seat (token signing + seat claim per request);
* ``200 joins / 10 seats``  - contention: 10 seats, 190 ``409 workshop_full``;
* the first scenario one join at a time - the service time of one join, for comparison
  (under 200 at once, latency is mostly queueing behind the others on a 2-core machine).

Prints p50/p99 per request (ms) and wall time per round. Exits 1 only if the seat counts are
wrong (a correctness failure); timing is reported, never asserted.

    python -m benchmarks.join_api [--joins 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import functions_framework
import httpx
from werkzeug.serving import ThreadedWSGIServer

from benchmarks._stats import print_table, summarize
from functions import runtime
from shared import logs
from shared.adapters.local_secrets import LocalSecrets
from shared.adapters.sqlite_store import SqliteStore
from shared.auth.instructor import Instructor
from shared.auth.signing import signing_key
from shared.bootstrap import Platform, bootstrap
from shared.domain.model import HostStatus, Workshop, WorkshopStatus, plan_hosts
from shared.services import workshops
from shared.settings import Settings
from tests.support.fakes import NullCompute, RecordingBus
from tests.support.net import free_port

MAIN = str(Path(__file__).resolve().parent.parent / "functions" / "main.py")
API_KEY = "sk-ant-api03-" + "b" * 40
ADMIN = Instructor("bench", is_admin=True)


class _Server(ThreadedWSGIServer):
    # Werkzeug listens with a backlog of 128; 200 simultaneous connects would overflow it
    # and measure SYN retransmits instead of the API.
    request_queue_size = 1024


@contextmanager
def serve(platform: Platform) -> Iterator[str]:
    """The ``api`` function on a free loopback port; yields its base URL."""
    runtime.set_platform(platform)
    app = functions_framework.create_app(target="api", source=MAIN)
    port = free_port()
    server = _Server("127.0.0.1", port, app)
    thread = threading.Thread(target=server.serve_forever, name="bench-api", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        runtime.set_platform(None)


def running_workshop(platform: Platform, seats: int) -> Workshop:
    created = workshops.create_workshop(
        platform, ADMIN, name="bench", seats=seats, api_key=API_KEY, seats_per_host=10
    )

    def run(w: Workshop) -> Workshop:
        hosts = tuple(
            replace(h, status=HostStatus.READY, endpoint=f"http://10.0.0.{h.index + 1}:8080")
            for h in plan_hosts(w)
        )
        return replace(w, status=WorkshopStatus.RUNNING, hosts=hosts, attempt=1)

    return platform.store.update_workshop(created.id, run)


async def storm(
    base_url: str, code: str, joins: int, concurrency: int
) -> tuple[list[float], Counter[int], float]:
    """``joins`` joins, ``concurrency`` in flight at once; per-request seconds, status counts,
    wall seconds."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=0)
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:

        async def one(i: int) -> tuple[float, int]:
            async with gate:
                start = time.perf_counter()
                response = await client.post("/api/join", json={"code": code})
                return time.perf_counter() - start, response.status_code

        wall_start = time.perf_counter()
        results = await asyncio.gather(*(one(i) for i in range(joins)))
        wall = time.perf_counter() - wall_start
    return [r[0] for r in results], Counter(r[1] for r in results), wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--joins", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    # Measure the API, not a terminal printing 400 access-log lines per round.
    logs.configure(logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # it forces INFO on itself
    ok = True
    with tempfile.TemporaryDirectory(prefix="ct-bench-join-") as tmp:
        settings = Settings(mode="local", state_dir=Path(tmp))
        store = SqliteStore(settings.database_path)
        platform = bootstrap(
            settings,
            store=store,
            bus=RecordingBus(),
            compute=NullCompute(),
            secrets=LocalSecrets(Path(tmp) / "secrets"),
        )
        signing_key(platform.secrets, settings.jwt_key_secret)  # created once, up front
        rows = []
        with serve(platform) as base_url:
            asyncio.run(storm(base_url, running_workshop(platform, 10).code, 20, 20))  # warm-up
            scenarios = [(args.joins, args.joins), (args.joins, 10), (1, args.joins)]
            for concurrency, seats in scenarios:
                latencies: list[float] = []
                walls: list[float] = []
                for _ in range(args.rounds):
                    workshop = running_workshop(platform, seats)
                    samples, statuses, wall = asyncio.run(
                        storm(base_url, workshop.code, args.joins, concurrency)
                    )
                    latencies += samples
                    walls.append(wall)
                    expected = {200: min(seats, args.joins), 409: max(0, args.joins - seats)}
                    if +statuses != +Counter(expected):
                        print(f"WRONG status counts for {seats} seats: {dict(statuses)}")
                        ok = False
                rows.append(
                    summarize(
                        f"{args.joins} joins / {seats} seats, {concurrency} at once",
                        latencies,
                        max(walls),
                        rounds=args.rounds,
                    )
                )
        store.close()
    print_table(
        "POST /api/join: functions-framework app on Werkzeug, SQLite (wall ms = slowest round)",
        rows,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
