"""SQLite-only guarantees: the file is shared safely by several processes, in WAL mode, 0600.

The contract suite proves thread safety; these tests start real processes (``spawn``: no
inherited connections) that race on one database file.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any

from shared.adapters.sqlite_store import SqliteStore
from shared.domain.errors import WorkshopFull
from shared.domain.model import Workshop
from shared.ports.store import SeatRequest
from tests.contract.store_helpers import make_workshop

PROCESSES = 4
JOINS_PER_PROCESS = 60
SEATS = 200
INCREMENTS_PER_PROCESS = 25
RESULT_TIMEOUT_S = 60.0


def _race(path: Path, workshop: Workshop, worker: int, barrier: Any, results: Any) -> None:
    """One process: record a shared event, join and increment ``attempt``, all at once.

    Puts ``(first_time, seat_numbers)`` on ``results``, or ``("error", repr)`` so that a
    failing child fails the test at once instead of timing it out.
    """
    try:
        store = SqliteStore(path)
        barrier.wait(timeout=RESULT_TIMEOUT_S)
        first = store.record_event("evt-shared")
        seats: list[int | None] = []
        for i in range(JOINS_PER_PROCESS):
            try:
                request = SeatRequest(reconnect_hash=f"rh-{worker}-{i}")
                seats.append(store.assign_seat(workshop, request).number)
            except WorkshopFull:
                seats.append(None)
        for _ in range(INCREMENTS_PER_PROCESS):
            store.update_workshop(workshop.id, lambda w: replace(w, attempt=w.attempt + 1))
        store.close()
        results.put((first, seats))
    except Exception as exc:
        results.put(("error", repr(exc)))


def test_processes_racing_on_one_file_never_share_a_seat_or_lose_an_update(tmp_path):
    path = tmp_path / "state.db"
    store = SqliteStore(path)
    workshop = store.create_workshop(make_workshop(seats=SEATS, seats_per_host=10), lambda: "")
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
    procs = [
        ctx.Process(target=_race, args=(path, workshop, n, barrier, results))
        for n in range(PROCESSES)
    ]
    for proc in procs:
        proc.start()
    try:
        outcomes = [results.get(timeout=RESULT_TIMEOUT_S) for _ in procs]
    finally:
        for proc in procs:
            proc.join(timeout=RESULT_TIMEOUT_S)

    assert [o for o in outcomes if o[0] == "error"] == []
    seats = [n for _, numbers in outcomes for n in numbers if n is not None]
    assert sorted(seats) == list(range(1, SEATS + 1))
    assert sum(n is None for _, numbers in outcomes for n in numbers) == (
        PROCESSES * JOINS_PER_PROCESS - SEATS
    )
    assert sorted(first for first, _ in outcomes) == [False] * (PROCESSES - 1) + [True]
    assert store.get_workshop(workshop.id).attempt == PROCESSES * INCREMENTS_PER_PROCESS


def test_the_database_is_in_wal_mode_and_private_to_its_owner(tmp_path):
    path = tmp_path / "state" / "state.db"
    SqliteStore(path).close()

    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
