"""Join storm: 200 learners press "join" at once on a 50-seat workshop.

Runs the storm against the SQLite store (temporary file) and the Firestore store (a
Firestore emulator this script starts), then 200 concurrent reconnect lookups, and prints
wall time with p50/p99 per call. Targets on a 2-core machine: storm <= 1 s on SQLite,
<= 5 s on the emulator. Exits 1 if the seat counts are wrong (a correctness failure), not
if a target is missed: timing is reported, never asserted.

    python -m benchmarks.join_storm [--joins 200] [--seats 50] [--workers 64]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks._emulators import EmulatorUnavailable, firestore_emulator
from benchmarks._stats import print_table, summarize
from shared.adapters.firestore_store import FirestoreStore
from shared.adapters.sqlite_store import SqliteStore
from shared.domain.codes import new_workshop_code, new_workshop_id
from shared.domain.errors import WorkshopFull
from shared.domain.model import Workshop
from shared.ports.store import SeatRequest, WorkshopStore

TARGET_S = {"sqlite": 1.0, "firestore-emulator": 5.0}


def storm(
    call: Callable[[int], Any], count: int, workers: int
) -> tuple[list[Any], list[float], float]:
    """Run ``call(i)`` for ``i < count`` on ``workers`` threads released together by a barrier.

    Returns (results or exceptions, per-call seconds, wall seconds from release to last done).
    """
    released: list[float] = []
    barrier = threading.Barrier(workers, action=lambda: released.append(time.perf_counter()))
    latencies = [0.0] * count

    def one(i: int) -> Any:
        if i < workers:
            barrier.wait(timeout=60)
        start = time.perf_counter()
        try:
            return call(i)
        except Exception as exc:  # counted and reported by the caller
            return exc
        finally:
            latencies[i] = time.perf_counter() - start

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(one, range(count)))
    return results, latencies, time.perf_counter() - released[0]


def run(
    name: str, store: WorkshopStore, joins: int, seats: int, workers: int
) -> list[dict[str, Any]]:
    """The storm and the reconnect lookups on one store; returns two table rows."""
    workshop = store.create_workshop(
        Workshop(
            id=new_workshop_id(),
            name="Join storm",
            code=new_workshop_code(),
            seats=seats,
            seats_per_host=10,
            owner="bench@example.com",
        ),
        new_workshop_code,
    )
    store.get_workshop(workshop.id)  # warm the connection, as a running service would be

    def join(i: int) -> Any:
        return store.assign_seat(workshop, SeatRequest(reconnect_hash=f"rh-{i}"))

    results, latencies, wall = storm(join, joins, workers)
    seated = {i: r.number for i, r in enumerate(results) if not isinstance(r, Exception)}
    full = sum(isinstance(r, WorkshopFull) for r in results)
    other = [r for r in results if isinstance(r, Exception) and not isinstance(r, WorkshopFull)]
    correct = sorted(seated.values()) == list(range(1, min(seats, joins) + 1)) and not other
    join_row = summarize(
        f"{name} join",
        latencies,
        wall,
        seats=len(set(seated.values())),
        full=full,
        errors=len(other),
        target=f"<= {TARGET_S[name]:.0f} s",
        verdict=("ok" if wall <= TARGET_S[name] else "MISSED") if correct else "WRONG",
    )

    people = list(seated)
    lookups = [people[i % len(people)] for i in range(joins)] if people else []

    def reconnect(i: int) -> Any:
        seat = store.find_seat_by_reconnect(workshop.id, f"rh-{lookups[i]}")
        return seat.number if seat else None

    found, latencies, wall = storm(reconnect, len(lookups), workers)
    right = sum(number == seated[who] for number, who in zip(found, lookups, strict=True))
    lookup_row = summarize(f"{name} reconnect", latencies, wall, right=f"{right}/{len(lookups)}")
    if other:
        print(f"{name}: unexpected errors, e.g. {other[0]!r}", file=sys.stderr)
    return (
        [join_row, lookup_row]
        if right == len(lookups)
        else [join_row, {**lookup_row, "verdict": "WRONG"}]
    )


def run_rounds(name: str, store: WorkshopStore, args: argparse.Namespace) -> list[dict[str, Any]]:
    """``args.rounds`` storms, each on a fresh workshop in the same store, rows labelled."""
    rows = []
    for n in range(1, args.rounds + 1):
        for row in run(name, store, args.joins, args.seats, args.workers):
            rows.append({**row, "name": f"{row['name']} #{n}"})
    return rows


def sqlite_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="join-storm-") as tmp:
        store = SqliteStore(Path(tmp) / "state.db")
        try:
            return run_rounds("sqlite", store, args)
        finally:
            store.close()


def firestore_rows(args: argparse.Namespace) -> list[dict[str, Any]]:
    try:
        with firestore_emulator():
            store = FirestoreStore(project=f"bench-{uuid.uuid4().hex[:8]}")
            try:
                return run_rounds("firestore-emulator", store, args)
            finally:
                store.close()
    except EmulatorUnavailable as exc:
        print(f"firestore emulator unavailable, skipped: {exc}", file=sys.stderr)
        return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--joins", type=int, default=200)
    parser.add_argument("--seats", type=int, default=50)
    parser.add_argument("--workers", type=int, default=64)
    parser.add_argument(
        "--rounds", type=int, default=2, help="storms per store (the first warms the JIT/caches)"
    )
    args = parser.parse_args(argv)
    rows = sqlite_rows(args) + firestore_rows(args)
    print_table(
        f"join storm: {args.joins} concurrent joins on {args.seats} seats, {args.workers} threads",
        rows,
    )
    return 1 if any(row.get("verdict") == "WRONG" for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
