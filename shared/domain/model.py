"""Workshop, Host and Seat: the platform's state, and the one workshop state machine.

Pure data and rules, no I/O. Values are frozen dataclasses; change them with ``replace``.
``to_dict``/``from_dict`` give the storage shape both store adapters persist (JSON-safe,
timestamps as aware UTC datetimes converted to ISO strings by the adapters that need it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from shared.domain.errors import InvalidTransition
from shared.domain.schedule import Schedule


def utcnow() -> datetime:
    return datetime.now(UTC)


class WorkshopStatus(StrEnum):
    CREATED = "created"
    PROVISIONING = "provisioning"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


S = WorkshopStatus

#: Every allowed move. Anything not listed raises ``InvalidTransition``.
#: provisioning -> stopping lets an instructor stop a workshop that is still booting.
TRANSITIONS: dict[WorkshopStatus, frozenset[WorkshopStatus]] = {
    S.CREATED: frozenset({S.PROVISIONING}),
    S.PROVISIONING: frozenset({S.RUNNING, S.FAILED, S.STOPPING}),
    S.RUNNING: frozenset({S.STOPPING}),
    S.STOPPING: frozenset({S.STOPPED}),
    S.STOPPED: frozenset(),
    S.FAILED: frozenset({S.PROVISIONING, S.STOPPING}),
}

#: Statuses in which hosts may exist and learners may be attached.
LIVE_STATUSES = frozenset({S.PROVISIONING, S.RUNNING})


def check_transition(current: WorkshopStatus | str, target: WorkshopStatus | str) -> None:
    """Raise ``InvalidTransition`` unless ``current -> target`` is in ``TRANSITIONS``."""
    cur, tgt = WorkshopStatus(current), WorkshopStatus(target)
    if tgt not in TRANSITIONS[cur]:
        raise InvalidTransition(cur.value, tgt.value)


class HostStatus(StrEnum):
    PENDING = "pending"  # decided, not yet requested from compute
    CREATING = "creating"  # insert requested / VM booting
    READY = "ready"  # agent published host.ready
    FAILED = "failed"
    LOST = "lost"  # VM disappeared while the workshop ran
    DELETED = "deleted"


@dataclass(frozen=True)
class Host:
    """One VM (or local agent process) serving seats ``seat_first..seat_last`` inclusive."""

    index: int
    name: str
    seat_first: int
    seat_last: int
    status: HostStatus = HostStatus.PENDING
    endpoint: str | None = None
    error: str | None = None
    #: Phase timestamps (ISO strings): requested, instance_running, ready.
    timings: dict[str, str] = field(default_factory=dict)

    def serves(self, seat: int) -> bool:
        return self.seat_first <= seat <= self.seat_last


@dataclass(frozen=True)
class Seat:
    """A learner's claim on one seat. ``reconnect_hash`` is never the code itself."""

    number: int
    host_index: int
    reconnect_hash: str
    joined_at: datetime
    last_seen: datetime
    client_nonce_hash: str | None = None
    #: What the learner asked to be called (``shared.domain.display_names.display_name``), or None.
    display_name: str | None = None


@dataclass(frozen=True)
class Workshop:
    id: str
    name: str
    code: str
    seats: int
    seats_per_host: int
    owner: str
    status: WorkshopStatus = WorkshopStatus.CREATED
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    hosts: tuple[Host, ...] = ()
    error: str | None = None
    api_key_ref: str | None = None
    #: Incremented on every move into provisioning; start events carry it so a stale
    #: or duplicated start for an earlier attempt is recognised and ignored.
    attempt: int = 0
    #: Model gateway policy (see ``shared.domain.model_policy.ModelPolicy``), JSON-shaped.
    model_policy: dict[str, Any] = field(default_factory=dict)
    #: Instructor kill switch: while true, every seat's model requests are refused.
    model_paused: bool = False
    #: Seats whose model access alone is paused (sorted), independent of ``model_paused``.
    paused_seats: tuple[int, ...] = ()
    #: Schedule (``shared.domain.schedule``). ``ends_at`` is set on every workshop created
    #: since schedules exist; ``None`` only on older records (no automatic end).
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    warmup_minutes: int = 15
    join_opens_at: datetime | None = None
    end_grace_minutes: int = 10
    #: When hosts were first requested (VM time is billed from here) and when it stopped.
    billing_started_at: datetime | None = None
    stopped_at: datetime | None = None
    #: Cost figures computed when the workshop stopped (``shared.services.costs``), kept.
    final_cost: dict[str, Any] | None = None
    #: The instructor's current broadcast ``{message, sent_at, by}`` (the cockpit), or None.
    broadcast: dict[str, Any] | None = None

    @property
    def schedule(self) -> Schedule | None:
        if self.ends_at is None:
            return None
        return Schedule(
            ends_at=self.ends_at,
            starts_at=self.starts_at,
            warmup_minutes=self.warmup_minutes,
            join_opens_at=self.join_opens_at,
            end_grace_minutes=self.end_grace_minutes,
        )

    def with_schedule(self, schedule: Schedule) -> Workshop:
        return replace(
            self,
            ends_at=schedule.ends_at,
            starts_at=schedule.starts_at,
            warmup_minutes=schedule.warmup_minutes,
            join_opens_at=schedule.join_opens_at,
            end_grace_minutes=schedule.end_grace_minutes,
        )

    @property
    def host_count(self) -> int:
        return host_count(self.seats, self.seats_per_host)

    def host(self, index: int) -> Host | None:
        return next((h for h in self.hosts if h.index == index), None)

    def with_host(self, host: Host) -> Workshop:
        """Return a copy with ``host`` replacing the host of the same index (or added)."""
        others = tuple(h for h in self.hosts if h.index != host.index)
        return replace(self, hosts=tuple(sorted((*others, host), key=lambda h: h.index)))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        data["hosts"] = [{**asdict(h), "status": h.status.value} for h in self.hosts]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Workshop:
        hosts = tuple(
            Host(
                **{**h, "status": HostStatus(h["status"]), "timings": dict(h.get("timings") or {})}
            )
            for h in data.get("hosts") or ()
        )
        return cls(
            **{
                k: v
                for k, v in data.items()
                if k in _WORKSHOP_FIELDS and k not in ("hosts", "status", "paused_seats")
            },
            status=WorkshopStatus(data["status"]),
            hosts=hosts,
            paused_seats=tuple(sorted(int(n) for n in data.get("paused_seats") or ())),
        )


_WORKSHOP_FIELDS = frozenset(Workshop.__dataclass_fields__)
#: Optional timestamp fields; adapters that store text convert these (besides created/updated).
OPTIONAL_TIME_FIELDS = ("starts_at", "ends_at", "join_opens_at", "billing_started_at", "stopped_at")


def host_count(seats: int, seats_per_host: int) -> int:
    """Hosts needed: one per ``seats_per_host`` seats, rounded up (45 seats / 10 -> 5)."""
    return -(-seats // seats_per_host)


def host_index_for_seat(seat: int, seats_per_host: int) -> int:
    """Seats are numbered from 1; host indexes from 0."""
    return (seat - 1) // seats_per_host


def host_name(workshop_id: str, index: int) -> str:
    """Deterministic host name, so a duplicate create is recognised as 'already exists'.

    Valid as a GCE instance name: lowercase letters, digits and dashes, at most 63 chars.
    """
    return f"ct-{workshop_id}-h{index}"


def plan_hosts(workshop: Workshop) -> tuple[Host, ...]:
    """The hosts a workshop needs, each with the contiguous seat range it serves."""
    per = workshop.seats_per_host
    return tuple(
        Host(
            index=i,
            name=host_name(workshop.id, i),
            seat_first=i * per + 1,
            seat_last=min((i + 1) * per, workshop.seats),
        )
        for i in range(workshop.host_count)
    )
