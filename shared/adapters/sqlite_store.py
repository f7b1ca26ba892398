"""The embedded state store: one SQLite file in WAL mode.

Safe across threads and processes:

* Connections come from a small pool (``sqlite3`` connections must not be used by two threads
  at once; the pool hands each to one thread at a time).
* Readers never block writers and vice versa (WAL). Every write is one short
  ``BEGIN IMMEDIATE`` transaction, so the write lock is taken up front and a
  read-then-write can never be invalidated half way.
* Writers in this process queue on a mutex before asking SQLite for the write lock; writers in
  other processes wait on SQLite's lock for up to ``BUSY_TIMEOUT_S``. The mutex only trims
  the tail: without it contending threads fall back on SQLite's sleep-and-retry busy
  handler, and over 12 join storms here the worst p99 went from 52 ms to 109 ms.
* Each process must open its own store: SQLite state must not cross ``fork``. A forked child
  that inherits a store gets a fresh pool and never touches the parent's connections (still
  only safe if no write was in progress when it forked).
* ``synchronous=NORMAL``: a commit survives a process crash; a power cut may lose the last
  few commits but never corrupts the file (the WAL trade-off SQLite documents).

Seat numbers are a ``(workshop_id, number)`` primary key, and a partial unique index on
``(workshop_id, client_nonce_hash)`` makes a double-submitted join converge on one seat.
"""

from __future__ import annotations

import json
import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from shared.adapters.store_common import (
    CODE_ATTEMPTS,
    Cursor,
    check_immutable,
    clamp_limit,
    iso,
    new_seat,
    parse_iso,
    usage_counts,
)
from shared.domain.errors import CodeSpaceExhausted, NotFound, WorkshopFull
from shared.domain.model import OPTIONAL_TIME_FIELDS, Seat, Workshop, utcnow
from shared.domain.progress import SeatProgress, parse_progress
from shared.ports.store import Page, SeatRequest, SlotHolder, WorkshopStore

BUSY_TIMEOUT_S = 10.0
#: Idle connections kept for reuse; more are opened on demand and closed when returned.
POOL_IDLE_MAX = 8

SCHEMA = """
CREATE TABLE IF NOT EXISTS workshops (
    id         TEXT PRIMARY KEY,
    code       TEXT NOT NULL UNIQUE,
    owner      TEXT NOT NULL,
    created_at TEXT NOT NULL,           -- fixed-width ISO UTC: sorts in time order
    doc        TEXT NOT NULL            -- Workshop.to_dict() as JSON
);
CREATE INDEX IF NOT EXISTS workshops_newest ON workshops (created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS workshops_owner_newest
    ON workshops (owner, created_at DESC, id DESC);

CREATE TABLE IF NOT EXISTS seats (
    workshop_id       TEXT NOT NULL,
    number            INTEGER NOT NULL,
    host_index        INTEGER NOT NULL,
    reconnect_hash    TEXT NOT NULL,
    client_nonce_hash TEXT,
    joined_at         TEXT NOT NULL,
    last_seen         TEXT NOT NULL,
    display_name      TEXT,
    PRIMARY KEY (workshop_id, number)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seats_by_reconnect ON seats (workshop_id, reconnect_hash);
CREATE UNIQUE INDEX IF NOT EXISTS seats_by_nonce
    ON seats (workshop_id, client_nonce_hash) WHERE client_nonce_hash IS NOT NULL;

CREATE TABLE IF NOT EXISTS usage (
    workshop_id TEXT NOT NULL,
    seat        INTEGER NOT NULL,
    requests    REAL NOT NULL,
    totals      TEXT NOT NULL,          -- JSON object of counters
    PRIMARY KEY (workshop_id, seat)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS progress (
    workshop_id TEXT NOT NULL,
    seat        INTEGER NOT NULL,
    reported_at TEXT NOT NULL,          -- ISO 8601 UTC, fixed width: orders as text
    progress    TEXT NOT NULL,          -- JSON {"step", "checks_passed"}
    PRIMARY KEY (workshop_id, seat)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS host_slots (
    label       TEXT PRIMARY KEY,       -- s00..s98 (docs/deployment.md, "Host slot labels")
    host_name   TEXT NOT NULL UNIQUE,   -- a host holds at most one slot
    workshop_id TEXT NOT NULL,
    host_index  INTEGER NOT NULL,
    attempt     INTEGER NOT NULL,
    claimed_at  TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS processed_events (
    id          TEXT PRIMARY KEY,
    recorded_at TEXT NOT NULL
) WITHOUT ROWID;
"""

#: The lowest seat number in 1..? that no seat of the workshop uses: 1, or one past a taken
#: seat whose successor is free.
LOWEST_FREE_SEAT = """
SELECT MIN(candidate) FROM (
    SELECT 1 AS candidate
    UNION ALL
    SELECT number + 1 FROM seats WHERE workshop_id = :workshop
)
WHERE candidate <= :seats
  AND candidate NOT IN (SELECT number FROM seats WHERE workshop_id = :workshop)
"""

# Literal statements (no string building): each names the seat columns in ``_seat`` order.
SEAT_BY_NONCE = """
SELECT number, host_index, reconnect_hash, client_nonce_hash, joined_at, last_seen, display_name
FROM seats WHERE workshop_id = ? AND client_nonce_hash = ?
"""
SEAT_BY_RECONNECT = """
SELECT number, host_index, reconnect_hash, client_nonce_hash, joined_at, last_seen, display_name
FROM seats WHERE workshop_id = ? AND reconnect_hash = ?
"""
SEATS_OF_WORKSHOP = """
SELECT number, host_index, reconnect_hash, client_nonce_hash, joined_at, last_seen, display_name
FROM seats WHERE workshop_id = ? ORDER BY number
"""
INSERT_SEAT = """
INSERT INTO seats
    (workshop_id, number, host_index, reconnect_hash, client_nonce_hash, joined_at, last_seen,
     display_name)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
"""


class _ConnectionPool:
    """Hands each ``sqlite3`` connection to one thread at a time; reconnects after ``fork``."""

    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self._connect = connect
        self._idle: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._pid = os.getpid()

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        if os.getpid() != self._pid:  # forked: the parent's connections are not ours to use
            self._idle, self._pid = queue.SimpleQueue(), os.getpid()
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = self._connect()
        try:
            yield conn
        finally:
            if conn.in_transaction:  # only after a failure mid-statement; never reuse dirty
                conn.close()
            elif self._idle.qsize() < POOL_IDLE_MAX:
                self._idle.put(conn)
            else:
                conn.close()

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


class SqliteStore(WorkshopStore):
    """``WorkshopStore`` on one SQLite file at ``path`` (created 0600 with its parent dir)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path.touch(mode=0o600, exist_ok=True)
        self._pool = _ConnectionPool(self._connect)
        self._write_lock = threading.Lock()
        with self._pool.connection() as conn:
            conn.execute("PRAGMA journal_mode=WAL")  # persistent: recorded in the file
        with self._write() as conn:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            _add_missing_columns(conn)

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions; every write says BEGIN IMMEDIATE.
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction; committed on success, rolled back on error."""
        with self._pool.connection() as conn, self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._pool.connection() as conn:
            yield conn

    def close(self) -> None:
        self._pool.close()

    # ----------------------------------------------------------------- workshops
    def create_workshop(self, workshop: Workshop, new_code: Callable[[], str]) -> Workshop:
        candidate = workshop
        for _ in range(CODE_ATTEMPTS):
            with self._write() as conn:
                if _exists(conn, "SELECT 1 FROM workshops WHERE id = ?", candidate.id):
                    raise ValueError(f"workshop {candidate.id} already exists")
                if not _exists(conn, "SELECT 1 FROM workshops WHERE code = ?", candidate.code):
                    conn.execute(
                        "INSERT INTO workshops (id, code, owner, created_at, doc)"
                        " VALUES (?, ?, ?, ?, ?)",
                        (
                            candidate.id,
                            candidate.code,
                            candidate.owner,
                            iso(candidate.created_at),
                            _to_json(candidate),
                        ),
                    )
                    return candidate
            candidate = replace(candidate, code=new_code())
        raise CodeSpaceExhausted(f"no free workshop code after {CODE_ATTEMPTS} attempts")

    def get_workshop(self, workshop_id: str) -> Workshop | None:
        with self._read() as conn:
            row = conn.execute("SELECT doc FROM workshops WHERE id = ?", (workshop_id,)).fetchone()
        return _from_json(row["doc"]) if row else None

    def get_workshop_by_code(self, code: str) -> Workshop | None:
        with self._read() as conn:
            row = conn.execute("SELECT doc FROM workshops WHERE code = ?", (code,)).fetchone()
        return _from_json(row["doc"]) if row else None

    def list_workshops(
        self, owner: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> Page:
        limit = clamp_limit(limit)
        where: list[str] = []
        params: list[Any] = []
        if owner is not None:
            where.append("owner = ?")
            params.append(owner)
        if cursor is not None:
            after = Cursor.decode(cursor)
            where.append("(created_at < ? OR (created_at = ? AND id < ?))")
            params += [iso(after.created_at), iso(after.created_at), after.workshop_id]
        sql = "SELECT doc FROM workshops"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, id DESC LIMIT ?"
        params.append(limit + 1)  # one extra row tells whether another page exists
        with self._read() as conn:
            rows = conn.execute(sql, params).fetchall()
        workshops = [_from_json(row["doc"]) for row in rows[:limit]]
        more = len(rows) > limit
        return Page(workshops, Cursor.after(workshops[-1]).encode() if more else None)

    def update_workshop(self, workshop_id: str, mutate: Callable[[Workshop], Workshop]) -> Workshop:
        with self._write() as conn:
            row = conn.execute("SELECT doc FROM workshops WHERE id = ?", (workshop_id,)).fetchone()
            if row is None:
                raise NotFound(f"workshop {workshop_id} not found")
            current = _from_json(row["doc"])
            updated = replace(mutate(current), updated_at=utcnow())
            check_immutable(current, updated)
            conn.execute(
                "UPDATE workshops SET doc = ? WHERE id = ?", (_to_json(updated), workshop_id)
            )
        return updated

    def delete_workshop(self, workshop_id: str) -> bool:
        with self._write() as conn:
            conn.execute("DELETE FROM seats WHERE workshop_id = ?", (workshop_id,))
            conn.execute("DELETE FROM usage WHERE workshop_id = ?", (workshop_id,))
            conn.execute("DELETE FROM progress WHERE workshop_id = ?", (workshop_id,))
            cur = conn.execute("DELETE FROM workshops WHERE id = ?", (workshop_id,))
            return cur.rowcount > 0

    # --------------------------------------------------------------------- seats
    def assign_seat(self, workshop: Workshop, request: SeatRequest) -> Seat:
        with self._write() as conn:
            if request.client_nonce_hash is not None:
                row = conn.execute(
                    SEAT_BY_NONCE, (workshop.id, request.client_nonce_hash)
                ).fetchone()
                if row is not None:
                    return _seat(row)
            number = conn.execute(
                LOWEST_FREE_SEAT, {"workshop": workshop.id, "seats": workshop.seats}
            ).fetchone()[0]
            if number is None:
                raise WorkshopFull(f"all {workshop.seats} seats are taken")
            seat = new_seat(workshop, number, request)
            conn.execute(
                INSERT_SEAT,
                (
                    workshop.id,
                    seat.number,
                    seat.host_index,
                    seat.reconnect_hash,
                    seat.client_nonce_hash,
                    iso(seat.joined_at),
                    iso(seat.last_seen),
                    seat.display_name,
                ),
            )
        return seat

    def find_seat_by_reconnect(self, workshop_id: str, reconnect_hash: str) -> Seat | None:
        with self._read() as conn:
            row = conn.execute(SEAT_BY_RECONNECT, (workshop_id, reconnect_hash)).fetchone()
        return _seat(row) if row else None

    def touch_seat(self, workshop_id: str, number: int, when: datetime | None = None) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE seats SET last_seen = ? WHERE workshop_id = ? AND number = ?",
                (iso(when or utcnow()), workshop_id, number),
            )

    def rename_seat(self, workshop_id: str, number: int, display_name: str | None) -> bool:
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE seats SET display_name = ? WHERE workshop_id = ? AND number = ?",
                (display_name, workshop_id, number),
            )
            return cur.rowcount > 0

    def release_seat(self, workshop_id: str, number: int) -> bool:
        # The nonce claim lives in the seat row, so deleting the row frees both.
        with self._write() as conn:
            cur = conn.execute(
                "DELETE FROM seats WHERE workshop_id = ? AND number = ?", (workshop_id, number)
            )
            return cur.rowcount > 0

    def list_seats(self, workshop_id: str) -> list[Seat]:
        with self._read() as conn:
            rows = conn.execute(SEATS_OF_WORKSHOP, (workshop_id,)).fetchall()
        return [_seat(row) for row in rows]

    # -------------------------------------------------------------------- usage
    def put_seat_usage(self, workshop_id: str, usage: dict[int, dict[str, float]]) -> None:
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO usage (workshop_id, seat, requests, totals) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (workshop_id, seat) DO UPDATE"
                " SET requests = excluded.requests, totals = excluded.totals"
                " WHERE excluded.requests >= usage.requests",
                [
                    (workshop_id, int(seat), usage_counts(totals), json.dumps(totals))
                    for seat, totals in usage.items()
                ],
            )

    def get_seat_usage(self, workshop_id: str) -> dict[int, dict[str, float]]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT seat, totals FROM usage WHERE workshop_id = ? ORDER BY seat",
                (workshop_id,),
            ).fetchall()
        return {int(row["seat"]): json.loads(row["totals"]) for row in rows}

    # ----------------------------------------------------------------- progress
    def put_seat_progress(
        self, workshop_id: str, progress: dict[int, SeatProgress], reported_at: datetime
    ) -> None:
        when = iso(reported_at)
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO progress (workshop_id, seat, reported_at, progress)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (workshop_id, seat) DO UPDATE"
                " SET reported_at = excluded.reported_at, progress = excluded.progress"
                " WHERE excluded.reported_at >= progress.reported_at",
                [
                    (workshop_id, int(seat), when, json.dumps(entry.to_json()))
                    for seat, entry in progress.items()
                ],
            )

    def get_seat_progress(self, workshop_id: str) -> dict[int, SeatProgress]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT seat, progress FROM progress WHERE workshop_id = ? ORDER BY seat",
                (workshop_id,),
            ).fetchall()
        return {int(row["seat"]): parse_progress(json.loads(row["progress"])) for row in rows}

    # -------------------------------------------------------------------- slots
    def claim_slot(self, labels: Sequence[str], holder: SlotHolder) -> str | None:
        # One BEGIN IMMEDIATE transaction: the read of held labels and the insert cannot be
        # split by another writer; PRIMARY KEY (label) and UNIQUE (host_name) back it up.
        with self._write() as conn:
            row = conn.execute(
                "SELECT label FROM host_slots WHERE host_name = ?", (holder.host_name,)
            ).fetchone()
            if row is not None:
                return str(row["label"])
            held = {r["label"] for r in conn.execute("SELECT label FROM host_slots")}
            free = next((label for label in labels if label not in held), None)
            if free is None:
                return None
            conn.execute(
                "INSERT INTO host_slots"
                " (label, host_name, workshop_id, host_index, attempt, claimed_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    free,
                    holder.host_name,
                    holder.workshop_id,
                    holder.host_index,
                    holder.attempt,
                    iso(utcnow()),
                ),
            )
            return free

    def slot_of(self, host_name: str) -> str | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT label FROM host_slots WHERE host_name = ?", (host_name,)
            ).fetchone()
        return None if row is None else str(row["label"])

    def release_slot(self, host_name: str) -> str | None:
        with self._write() as conn:
            row = conn.execute(
                "DELETE FROM host_slots WHERE host_name = ? RETURNING label", (host_name,)
            ).fetchone()
        return None if row is None else str(row["label"])

    def list_slots(self) -> dict[str, SlotHolder]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT label, host_name, workshop_id, host_index, attempt FROM host_slots"
                " ORDER BY label"
            ).fetchall()
        return {
            str(r["label"]): SlotHolder(
                str(r["host_name"]), str(r["workshop_id"]), int(r["host_index"]), int(r["attempt"])
            )
            for r in rows
        }

    # ------------------------------------------------------------------- events
    def record_event(self, event_id: str) -> bool:
        with self._write() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO processed_events (id, recorded_at) VALUES (?, ?)",
                (event_id, iso(utcnow())),
            )
            return cur.rowcount == 1

    def forget_event(self, event_id: str) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM processed_events WHERE id = ?", (event_id,))


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    """Columns added since a table was first created (a state dir from an older version)."""
    seat_columns = {row["name"] for row in conn.execute("PRAGMA table_info(seats)")}
    if "display_name" not in seat_columns:
        conn.execute("ALTER TABLE seats ADD COLUMN display_name TEXT")


def _exists(conn: sqlite3.Connection, sql: str, value: str) -> bool:
    return conn.execute(sql, (value,)).fetchone() is not None


def _to_json(workshop: Workshop) -> str:
    data = workshop.to_dict()
    data["created_at"] = iso(workshop.created_at)
    data["updated_at"] = iso(workshop.updated_at)
    for name in OPTIONAL_TIME_FIELDS:
        if data.get(name) is not None:
            data[name] = iso(data[name])
    return json.dumps(data, separators=(",", ":"))


def _from_json(text: str) -> Workshop:
    data = json.loads(text)
    data["created_at"] = parse_iso(data["created_at"])
    data["updated_at"] = parse_iso(data["updated_at"])
    for name in OPTIONAL_TIME_FIELDS:
        if data.get(name) is not None:
            data[name] = parse_iso(data[name])
    return Workshop.from_dict(data)


def _seat(row: sqlite3.Row) -> Seat:
    return Seat(
        number=row["number"],
        host_index=row["host_index"],
        reconnect_hash=row["reconnect_hash"],
        client_nonce_hash=row["client_nonce_hash"],
        joined_at=parse_iso(row["joined_at"]),
        last_seen=parse_iso(row["last_seen"]),
        display_name=row["display_name"],
    )
