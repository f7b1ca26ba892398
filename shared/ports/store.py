"""The state store port: workshops, seats and processed events.

Adapters: ``shared.adapters.sqlite_store.SqliteStore`` (embedded default) and
``shared.adapters.firestore_store.FirestoreStore`` (GCP). ``tests/contract/test_store_contract.py``
runs one suite against both; an adapter is correct when that suite passes.

Concurrency contract: every method is safe to call from many threads and processes at once.
Seat assignment never serialises on one hot record: each seat is its own record, claimed by an
atomic create-if-absent, so 200 concurrent joins on 50 seats give exactly 50 distinct seats.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from shared.domain.errors import StaleState
from shared.domain.model import Seat, Workshop, WorkshopStatus, check_transition
from shared.domain.progress import SeatProgress


@dataclass(frozen=True)
class Page:
    workshops: list[Workshop]
    #: Opaque; pass back to ``list_workshops`` for the next page. ``None`` at the end.
    next_cursor: str | None


@dataclass(frozen=True)
class SeatRequest:
    """What a join asks the store to record for a newly claimed seat."""

    reconnect_hash: str
    client_nonce_hash: str | None = None
    #: The learner's display name (already validated), if given.
    display_name: str | None = None


@dataclass(frozen=True)
class SlotHolder:
    """The host holding a slot label (docs/deployment.md, "Host slot labels")."""

    #: The deterministic host name; a host holds at most one slot.
    host_name: str
    workshop_id: str
    host_index: int
    attempt: int


class WorkshopStore(abc.ABC):
    # ----------------------------------------------------------------- workshops
    @abc.abstractmethod
    def create_workshop(self, workshop: Workshop, new_code: Callable[[], str]) -> Workshop:
        """Insert ``workshop``; its code must be unique among all workshops.

        If ``workshop.code`` is taken, draw a replacement from ``new_code()`` and retry, up to
        20 attempts, then raise ``CodeSpaceExhausted``. Never overwrites an existing workshop:
        a duplicate ``id`` raises ``ValueError``. Returns the workshop as stored (with the
        code actually used).
        """

    @abc.abstractmethod
    def get_workshop(self, workshop_id: str) -> Workshop | None:
        """The workshop, or ``None`` if no such id."""

    @abc.abstractmethod
    def get_workshop_by_code(self, code: str) -> Workshop | None:
        """The workshop with this canonical code (``CLAUDE-XXXX``), or ``None``."""

    @abc.abstractmethod
    def list_workshops(
        self, owner: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> Page:
        """Workshops newest first (``created_at`` desc, then id), optionally only ``owner``'s.

        ``limit`` is clamped to 1..200. Pages never repeat or skip a workshop that existed
        when the first page was read.
        """

    @abc.abstractmethod
    def update_workshop(self, workshop_id: str, mutate: Callable[[Workshop], Workshop]) -> Workshop:
        """Atomically read, apply ``mutate`` and write back; return the new value.

        ``mutate`` may run more than once (optimistic retries) and must be pure. It may raise
        a ``DomainError`` to abort: nothing is written and the error propagates. The adapter
        sets ``updated_at``. Raises ``NotFound`` if the workshop does not exist. ``id``,
        ``code``, ``owner`` and ``created_at`` cannot be changed.
        """

    def transition(
        self,
        workshop_id: str,
        expected: WorkshopStatus | Iterable[WorkshopStatus],
        target: WorkshopStatus,
        **changes: object,
    ) -> Workshop:
        """Compare-and-set the status: only if it is one of ``expected``, move to ``target``
        and apply ``changes`` (other fields) in the same atomic write.

        Raises ``StaleState`` (with the current status) if the status is not expected,
        ``InvalidTransition`` if the state machine forbids the move, ``NotFound`` if missing.
        """
        allowed = {expected} if isinstance(expected, WorkshopStatus) else set(expected)

        def apply(current: Workshop) -> Workshop:
            if current.status not in allowed:
                raise StaleState(current.status.value, tuple(sorted(s.value for s in allowed)))
            check_transition(current.status, target)
            return replace(current, status=target, **changes)  # type: ignore[arg-type]

        return self.update_workshop(workshop_id, apply)

    @abc.abstractmethod
    def delete_workshop(self, workshop_id: str) -> bool:
        """Delete the workshop with its seats, nonce claims, usage, progress and code reservation.

        Used by the reconciler when a stopped workshop's retention is over. Returns ``True``
        if it existed. Idempotent: deleting a missing workshop returns ``False``. Afterwards
        its code may be issued again and ``get_workshop``/``list_seats`` see nothing.
        """

    # --------------------------------------------------------------------- seats
    @abc.abstractmethod
    def assign_seat(self, workshop: Workshop, request: SeatRequest) -> Seat:
        """Claim the lowest-contention free seat in ``1..workshop.seats`` for a new learner.

        Each seat is claimed with an atomic create-if-absent on its own record. If
        ``request.client_nonce_hash`` is set and a seat was already claimed with it, return
        that seat instead (a double-submitted join gets one seat, not two), even when the
        two calls race. Raises ``WorkshopFull`` when every seat is taken. The returned seat's
        ``host_index`` is derived from ``workshop.seats_per_host``.
        """

    @abc.abstractmethod
    def find_seat_by_reconnect(self, workshop_id: str, reconnect_hash: str) -> Seat | None:
        """The seat of this workshop whose reconnect hash matches, or ``None``."""

    @abc.abstractmethod
    def touch_seat(self, workshop_id: str, number: int, when: datetime | None = None) -> None:
        """Set the seat's ``last_seen`` (default now). A missing seat is a no-op."""

    @abc.abstractmethod
    def rename_seat(self, workshop_id: str, number: int, display_name: str | None) -> bool:
        """Set the claimed seat's ``display_name`` (``None`` clears it). ``False`` (and
        nothing stored) if the seat is free."""

    @abc.abstractmethod
    def release_seat(self, workshop_id: str, number: int) -> bool:
        """Free the seat (and its nonce claim) so a new learner can take it.

        Returns ``True`` if a seat was released, ``False`` if it was already free.
        """

    @abc.abstractmethod
    def list_seats(self, workshop_id: str) -> list[Seat]:
        """Claimed seats, ordered by number."""

    # -------------------------------------------------------------------- usage
    @abc.abstractmethod
    def put_seat_usage(self, workshop_id: str, usage: dict[int, dict[str, float]]) -> None:
        """Replace the stored model-usage totals of the given seats (last write wins).

        Totals are cumulative counters reported by the host, so replaying an older report
        never adds twice; a report whose ``requests`` is lower than the stored one is ignored.
        """

    @abc.abstractmethod
    def get_seat_usage(self, workshop_id: str) -> dict[int, dict[str, float]]:
        """Stored usage totals by seat number (empty if none)."""

    # ----------------------------------------------------------------- progress
    @abc.abstractmethod
    def put_seat_progress(
        self, workshop_id: str, progress: dict[int, SeatProgress], reported_at: datetime
    ) -> None:
        """Store each given seat's content-pack progress as of ``reported_at``.

        Progress can go back (a learner presses Back), so the newest report wins, not the
        largest step: a report older than the stored one (a replayed event) is ignored; one
        with the same time replaces it. Seats not given keep what they have.
        """

    @abc.abstractmethod
    def get_seat_progress(self, workshop_id: str) -> dict[int, SeatProgress]:
        """Stored progress by seat number (empty if none)."""

    # -------------------------------------------------------------------- slots
    @abc.abstractmethod
    def claim_slot(self, labels: Sequence[str], holder: SlotHolder) -> str | None:
        """The slot label ``holder.host_name`` holds, claiming the first free one if none.

        Idempotent: a host that holds a slot gets the same label back (a redelivered create
        event), even when two claims for one host race. Each label is claimed with an atomic
        create-if-absent on its own record, so concurrent claims for different hosts get
        distinct labels and no label ever has two holders. ``None`` when every label in
        ``labels`` is held by another host (nothing is written).
        """

    @abc.abstractmethod
    def slot_of(self, host_name: str) -> str | None:
        """The label ``host_name`` holds, or ``None``."""

    @abc.abstractmethod
    def release_slot(self, host_name: str) -> str | None:
        """Free the slot ``host_name`` holds; return its label, or ``None`` if it held none.

        Idempotent. Afterwards the label can be claimed by another host.
        """

    @abc.abstractmethod
    def list_slots(self) -> dict[str, SlotHolder]:
        """Every held slot: label -> holder."""

    # ------------------------------------------------------------------- events
    @abc.abstractmethod
    def record_event(self, event_id: str) -> bool:
        """Remember that ``event_id`` was processed. ``True`` the first time, ``False`` after.

        Atomic: of many concurrent calls with one id, exactly one gets ``True``.
        """

    @abc.abstractmethod
    def forget_event(self, event_id: str) -> None:
        """Undo ``record_event`` (used when handling failed transiently and must be retried)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections. Optional."""
