"""The GCP state store: Cloud Firestore in native mode.

Layout::

    workshops/{id}                     the Workshop (Workshop.to_dict(), timestamps native)
    workshops/{id}/seats/{number}      one document per claimed seat
    workshops/{id}/nonces/{hash}       {"seat": n}: the seat a join's client nonce claimed
    workshops/{id}/usage/{seat}        cumulative model usage of one seat
    workshop_codes/{code}              {"workshop_id"}: makes codes unique
    processed_events/{sha256(id)}      {"event_id", "recorded_at", "expire_at"}
    host_slots/{label}                 {"host_name", "workshop_id", "host_index", "attempt"}
    slot_holders/{host name}           {"label"}: the slot a host holds

Why it looks like this (Firestore sustains about one write per second on one document, and
the emulator serialises contending transactions on locks):

* Nothing hot is shared. A join creates *its own* seat document with ``create()`` (an
  exists=false precondition), so 200 joins are 200 independent writes; a naive transaction on
  the workshop document took ~300 s for 100 joins on the emulator.
* Uniqueness comes from document ids claimed with ``create()``: codes, seats, nonces, events.
  Multi-document claims (workshop + code, seat + nonce, slot + holder) are one atomic batch.
* Read-modify-write (``update_workshop``, releasing a seat, usage) is optimistic: read, then
  write with a ``last_update_time`` precondition, retrying with jittered backoff on conflict.
  This is the same compare-and-set a transaction gives, without server-side locks: 20
  contending increments take ~0.2 s here instead of failing after 40 s as transactions did.

Production needs composite indexes for ``list_workshops`` (``REQUIRED_INDEXES``) and a TTL
policy on ``processed_events.expire_at`` (``EVENT_TTL_FIELD``); terraform/data.tf declares both
and tests/deploy check that they match these constants.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from shared.adapters.store_common import (
    CODE_ATTEMPTS,
    Cursor,
    as_utc,
    check_immutable,
    clamp_limit,
    new_seat,
    usage_counts,
)
from shared.domain.errors import (
    CodeSpaceExhausted,
    NotFound,
    TransientError,
    WorkshopFull,
)
from shared.domain.model import OPTIONAL_TIME_FIELDS, Seat, Workshop, utcnow
from shared.domain.progress import SeatProgress, parse_progress
from shared.ports.store import Page, SeatRequest, SlotHolder, WorkshopStore

T = TypeVar("T")

WORKSHOPS, SEATS, NONCES, USAGE = "workshops", "seats", "nonces", "usage"
PROGRESS = "progress"
CODES, EVENTS = "workshop_codes", "processed_events"
SLOTS, SLOT_HOLDERS = "host_slots", "slot_holders"

#: Composite indexes ``list_workshops`` needs in production (the emulator needs none):
#: (collection, [(field, direction)]). Terraform declares these.
REQUIRED_INDEXES = (
    (WORKSHOPS, [("owner", "ASCENDING"), ("created_at", "DESCENDING"), ("id", "DESCENDING")]),
    (WORKSHOPS, [("created_at", "DESCENDING"), ("id", "DESCENDING")]),
)

#: Free seats a join tries before re-reading which seats are taken. Small, so that in a
#: storm the losers learn quickly that the workshop is full instead of probing every seat.
CLAIMS_PER_ROUND = 3
#: Re-read rounds before a join gives up with ``TransientError`` (only reachable if seats
#: are released and re-taken faster than a join can claim one).
MAX_CLAIM_ROUNDS = 50
#: Optimistic read-modify-write retries stop after this long (then ``TransientError``).
CONFLICT_DEADLINE_S = 30.0
#: Processed-event markers may be removed by a TTL policy after this long; Pub/Sub never
#: redelivers a message older than its 7-day maximum retention.
EVENT_RETENTION = timedelta(days=30)
#: The processed-events field Firestore's TTL policy deletes documents by.
EVENT_TTL_FIELD = "expire_at"

#: Deletes per batch when removing a workshop's subcollections (Firestore allows 500 writes).
DELETE_BATCH = 400

_CONFLICTS = (gexc.FailedPrecondition, gexc.Aborted, gexc.AlreadyExists)
_random = secrets.SystemRandom()


class FirestoreStore(WorkshopStore):
    """``WorkshopStore`` on Firestore. One client per store (creating clients is costly).

    ``client`` may be passed in (tests); otherwise one is built for ``project``/``database``.
    With ``FIRESTORE_EMULATOR_HOST`` set, the client library talks to the emulator.
    """

    def __init__(
        self, project: str, database: str = "(default)", client: firestore.Client | None = None
    ) -> None:
        self._client = client or firestore.Client(project=project, database=database)

    def close(self) -> None:
        self._client.close()

    # -------------------------------------------------------------- references
    def _workshop_ref(self, workshop_id: str) -> Any:
        return self._client.collection(WORKSHOPS).document(workshop_id)

    def _seats(self, workshop_id: str) -> Any:
        return self._workshop_ref(workshop_id).collection(SEATS)

    def _nonce_ref(self, workshop_id: str, nonce_hash: str) -> Any:
        return self._workshop_ref(workshop_id).collection(NONCES).document(nonce_hash)

    def _write_if_unchanged(self, snapshot: Any) -> Any:
        """A precondition that fails if the document changed since ``snapshot`` was read."""
        return self._client.write_option(last_update_time=snapshot.update_time)

    # ----------------------------------------------------------------- workshops
    def create_workshop(self, workshop: Workshop, new_code: Callable[[], str]) -> Workshop:
        if not _is_document_id(workshop.id):
            raise ValueError(f"{workshop.id!r} cannot be a workshop id")
        ref = self._workshop_ref(workshop.id)
        candidate = workshop
        for _ in range(CODE_ATTEMPTS):
            batch = self._client.batch()  # both claims or neither: no orphan code reservations
            batch.create(ref, _encode(candidate))
            batch.create(
                self._client.collection(CODES).document(candidate.code),
                {"workshop_id": candidate.id},
            )
            try:
                batch.commit()
                return candidate
            except gexc.AlreadyExists:
                if ref.get().exists:
                    raise ValueError(f"workshop {candidate.id} already exists") from None
            candidate = replace(candidate, code=new_code())
        raise CodeSpaceExhausted(f"no free workshop code after {CODE_ATTEMPTS} attempts")

    def get_workshop(self, workshop_id: str) -> Workshop | None:
        if not _is_document_id(workshop_id):
            return None
        snapshot = self._workshop_ref(workshop_id).get()
        return _decode(snapshot.to_dict()) if snapshot.exists else None

    def get_workshop_by_code(self, code: str) -> Workshop | None:
        query = self._client.collection(WORKSHOPS).where(filter=FieldFilter("code", "==", code))
        found = query.limit(1).get()
        return _decode(found[0].to_dict()) if found else None

    def list_workshops(
        self, owner: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> Page:
        limit = clamp_limit(limit)
        query = (
            self._client.collection(WORKSHOPS)
            .order_by("created_at", direction=firestore.Query.DESCENDING)
            .order_by("id", direction=firestore.Query.DESCENDING)
        )
        if owner is not None:
            query = query.where(filter=FieldFilter("owner", "==", owner))
        if cursor is not None:
            after = Cursor.decode(cursor)
            query = query.start_after({"created_at": after.created_at, "id": after.workshop_id})
        found = query.limit(limit + 1).get()  # one extra tells whether another page exists
        workshops = [_decode(snapshot.to_dict()) for snapshot in found[:limit]]
        more = len(found) > limit
        return Page(workshops, Cursor.after(workshops[-1]).encode() if more else None)

    def update_workshop(self, workshop_id: str, mutate: Callable[[Workshop], Workshop]) -> Workshop:
        if not _is_document_id(workshop_id):
            raise NotFound(f"workshop {workshop_id!r} not found")
        ref = self._workshop_ref(workshop_id)

        def attempt() -> Workshop:
            snapshot = ref.get()
            if not snapshot.exists:
                raise NotFound(f"workshop {workshop_id} not found")
            current = _decode(snapshot.to_dict())
            updated = replace(mutate(current), updated_at=utcnow())
            check_immutable(current, updated)
            # update() of every top-level field replaces the whole document's content.
            ref.update(_encode(updated), option=self._write_if_unchanged(snapshot))
            return updated

        return _retry_conflicts(attempt, f"update of workshop {workshop_id}")

    def delete_workshop(self, workshop_id: str) -> bool:
        if not _is_document_id(workshop_id):
            return False
        ref = self._workshop_ref(workshop_id)
        snapshot = ref.get()
        # Subcollections first: Firestore never deletes them with their parent (which is why
        # retention is enforced here by the reconciler and not by a TTL policy alone).
        for name in (SEATS, NONCES, USAGE, PROGRESS):
            batch, pending = self._client.batch(), 0
            for child in ref.collection(name).select([]).stream():
                batch.delete(child.reference)
                pending += 1
                if pending == DELETE_BATCH:
                    batch.commit()
                    batch, pending = self._client.batch(), 0
            if pending:
                batch.commit()
        if not snapshot.exists:
            return False
        batch = self._client.batch()
        batch.delete(self._client.collection(CODES).document(snapshot.get("code")))
        batch.delete(ref)
        batch.commit()
        return True

    # --------------------------------------------------------------------- seats
    def assign_seat(self, workshop: Workshop, request: SeatRequest) -> Seat:
        nonce = request.client_nonce_hash
        for _ in range(MAX_CLAIM_ROUNDS):
            if nonce is not None and (earlier := self._seat_for_nonce(workshop.id, nonce)):
                return earlier
            free = self._free_seats(workshop)
            if not free:
                raise WorkshopFull(f"all {workshop.seats} seats are taken")
            for number in free[:CLAIMS_PER_ROUND]:
                seat = new_seat(workshop, number, request)
                try:
                    self._claim(workshop.id, seat)
                    return seat
                except gexc.AlreadyExists:
                    continue  # taken by a racing join (or our nonce was): try another
        raise TransientError(f"could not claim a seat of workshop {workshop.id}; retry")

    def _free_seats(self, workshop: Workshop) -> list[int]:
        """Free seat numbers in random order, so racing joins rarely pick the same one."""
        taken = {int(doc.id) for doc in self._seats(workshop.id).select([]).stream()}
        free = [n for n in range(1, workshop.seats + 1) if n not in taken]
        _random.shuffle(free)
        return free

    def _claim(self, workshop_id: str, seat: Seat) -> None:
        """Create the seat document (and its nonce document) or raise ``AlreadyExists``."""
        seat_ref = self._seats(workshop_id).document(str(seat.number))
        if seat.client_nonce_hash is None:
            seat_ref.create(_seat_doc(seat))
            return
        # One atomic batch: a crash can never leave a seat whose nonce is unrecorded.
        batch = self._client.batch()
        batch.create(seat_ref, _seat_doc(seat))
        batch.create(self._nonce_ref(workshop_id, seat.client_nonce_hash), {"seat": seat.number})
        batch.commit()

    def _seat_for_nonce(self, workshop_id: str, nonce_hash: str) -> Seat | None:
        claim = self._nonce_ref(workshop_id, nonce_hash).get()
        if not claim.exists:
            return None
        snapshot = self._seats(workshop_id).document(str(claim.get("seat"))).get()
        return _decode_seat(snapshot.to_dict()) if snapshot.exists else None

    def find_seat_by_reconnect(self, workshop_id: str, reconnect_hash: str) -> Seat | None:
        if not _is_document_id(workshop_id):
            return None
        query = self._seats(workshop_id).where(
            filter=FieldFilter("reconnect_hash", "==", reconnect_hash)
        )
        found = query.limit(1).get()
        return _decode_seat(found[0].to_dict()) if found else None

    def touch_seat(self, workshop_id: str, number: int, when: datetime | None = None) -> None:
        if not _is_document_id(workshop_id):
            return
        # A seat released meanwhile has nothing to touch.
        with contextlib.suppress(gexc.NotFound):
            self._seats(workshop_id).document(str(number)).update(
                {"last_seen": as_utc(when or utcnow())}
            )

    def rename_seat(self, workshop_id: str, number: int, display_name: str | None) -> bool:
        if not _is_document_id(workshop_id):
            return False
        try:  # update() fails on a missing document: a free seat is never created here
            self._seats(workshop_id).document(str(number)).update({"display_name": display_name})
        except gexc.NotFound:
            return False
        return True

    def release_seat(self, workshop_id: str, number: int) -> bool:
        if not _is_document_id(workshop_id):
            return False
        ref = self._seats(workshop_id).document(str(number))

        def attempt() -> bool:
            snapshot = ref.get()
            if not snapshot.exists:
                return False
            batch = self._client.batch()  # the seat and its nonce claim go together
            batch.delete(ref, option=self._write_if_unchanged(snapshot))
            nonce = snapshot.get("client_nonce_hash")
            if nonce:
                batch.delete(self._nonce_ref(workshop_id, nonce))
            batch.commit()
            return True

        return _retry_conflicts(attempt, f"release of seat {number} of {workshop_id}")

    def list_seats(self, workshop_id: str) -> list[Seat]:
        if not _is_document_id(workshop_id):
            return []
        return [
            _decode_seat(snapshot.to_dict())
            for snapshot in self._seats(workshop_id).order_by("number").stream()
        ]

    # -------------------------------------------------------------------- usage
    def put_seat_usage(self, workshop_id: str, usage: dict[int, dict[str, float]]) -> None:
        if not usage:
            return
        if not _is_document_id(workshop_id):
            raise ValueError(f"{workshop_id!r} cannot be a workshop id")
        collection = self._workshop_ref(workshop_id).collection(USAGE)
        refs = {int(seat): collection.document(str(int(seat))) for seat in usage}

        def attempt() -> None:
            stored = {int(s.id): s for s in self._client.get_all(list(refs.values()))}
            batch = self._client.batch()
            for seat, totals in usage.items():
                doc = {"seat": int(seat), "requests": usage_counts(totals), "totals": totals}
                snapshot = stored.get(int(seat))
                if snapshot is None or not snapshot.exists:
                    batch.create(refs[int(seat)], doc)
                elif usage_counts(totals) >= snapshot.get("requests"):
                    batch.update(refs[int(seat)], doc, option=self._write_if_unchanged(snapshot))
                # else: an older report replayed; the stored totals are newer
            batch.commit()

        _retry_conflicts(attempt, f"usage report of {workshop_id}")

    def get_seat_usage(self, workshop_id: str) -> dict[int, dict[str, float]]:
        if not _is_document_id(workshop_id):
            return {}
        collection = self._workshop_ref(workshop_id).collection(USAGE)
        return {
            int(snapshot.get("seat")): dict(snapshot.get("totals"))
            for snapshot in collection.stream()
        }

    # ----------------------------------------------------------------- progress
    def put_seat_progress(
        self, workshop_id: str, progress: dict[int, SeatProgress], reported_at: datetime
    ) -> None:
        if not progress:
            return
        if not _is_document_id(workshop_id):
            raise ValueError(f"{workshop_id!r} cannot be a workshop id")
        collection = self._workshop_ref(workshop_id).collection(PROGRESS)
        refs = {int(seat): collection.document(str(int(seat))) for seat in progress}
        when = as_utc(reported_at)

        def attempt() -> None:
            stored = {int(s.id): s for s in self._client.get_all(list(refs.values()))}
            batch = self._client.batch()
            for seat, entry in progress.items():
                doc = {"seat": int(seat), "reported_at": when, **entry.to_json()}
                snapshot = stored.get(int(seat))
                if snapshot is None or not snapshot.exists:
                    batch.create(refs[int(seat)], doc)
                elif when >= snapshot.get("reported_at"):
                    batch.update(refs[int(seat)], doc, option=self._write_if_unchanged(snapshot))
                # else: an older report replayed; the stored progress is newer
            batch.commit()

        _retry_conflicts(attempt, f"progress report of {workshop_id}")

    def get_seat_progress(self, workshop_id: str) -> dict[int, SeatProgress]:
        if not _is_document_id(workshop_id):
            return {}
        collection = self._workshop_ref(workshop_id).collection(PROGRESS)
        out: dict[int, SeatProgress] = {}
        for snapshot in collection.stream():
            doc = snapshot.to_dict() or {}
            out[int(doc["seat"])] = parse_progress(
                {"step": doc.get("step"), "checks_passed": list(doc.get("checks_passed") or [])}
            )
        return dict(sorted(out.items()))

    # -------------------------------------------------------------------- slots
    def claim_slot(self, labels: Sequence[str], holder: SlotHolder) -> str | None:
        # Like a seat: the slot document and the host's holder document are created together
        # in one batch with exists=false preconditions, so a label never gets two holders
        # and a host never two labels, whoever races.
        holder_ref = self._client.collection(SLOT_HOLDERS).document(holder.host_name)
        for _ in range(MAX_CLAIM_ROUNDS):
            if (held := self.slot_of(holder.host_name)) is not None:
                return held
            taken = {doc.id for doc in self._client.collection(SLOTS).select([]).stream()}
            free = [label for label in labels if label not in taken]
            if not free:
                return None
            for label in free[:CLAIMS_PER_ROUND]:
                batch = self._client.batch()
                batch.create(
                    self._client.collection(SLOTS).document(label),
                    {
                        "host_name": holder.host_name,
                        "workshop_id": holder.workshop_id,
                        "host_index": holder.host_index,
                        "attempt": holder.attempt,
                        "claimed_at": utcnow(),
                    },
                )
                batch.create(holder_ref, {"label": label})
                try:
                    batch.commit()
                    return label
                except gexc.AlreadyExists:
                    if (held := self.slot_of(holder.host_name)) is not None:
                        return held  # a racing claim for this host won
        raise TransientError(f"could not claim a slot for host {holder.host_name}; retry")

    def slot_of(self, host_name: str) -> str | None:
        if not _is_document_id(host_name):
            return None
        snapshot = self._client.collection(SLOT_HOLDERS).document(host_name).get()
        return str(snapshot.get("label")) if snapshot.exists else None

    def release_slot(self, host_name: str) -> str | None:
        label = self.slot_of(host_name)
        if label is None:
            return None
        slot_ref = self._client.collection(SLOTS).document(label)
        batch = self._client.batch()
        slot = slot_ref.get()
        if slot.exists and slot.get("host_name") == host_name:
            batch.delete(slot_ref, option=self._write_if_unchanged(slot))
        batch.delete(self._client.collection(SLOT_HOLDERS).document(host_name))
        with contextlib.suppress(*_CONFLICTS):  # released by a racing call: already free
            batch.commit()
        return label

    def list_slots(self) -> dict[str, SlotHolder]:
        out = {}
        for doc in self._client.collection(SLOTS).stream():
            data = doc.to_dict() or {}
            out[doc.id] = SlotHolder(
                str(data["host_name"]),
                str(data["workshop_id"]),
                int(data["host_index"]),
                int(data["attempt"]),
            )
        return dict(sorted(out.items()))

    # ------------------------------------------------------------------- events
    def record_event(self, event_id: str) -> bool:
        now = utcnow()
        try:
            self._event_ref(event_id).create(
                {"event_id": event_id, "recorded_at": now, EVENT_TTL_FIELD: now + EVENT_RETENTION}
            )
        except gexc.AlreadyExists:
            return False
        return True

    def forget_event(self, event_id: str) -> None:
        self._event_ref(event_id).delete()

    def _event_ref(self, event_id: str) -> Any:
        # Hashed: event ids are foreign strings and may contain '/' or be '.' or '__x__'.
        return self._client.collection(EVENTS).document(
            hashlib.sha256(event_id.encode()).hexdigest()
        )


def _is_document_id(value: str) -> bool:
    """Whether ``value`` can name a document: ids arrive from URLs and must not become paths.

    Firestore refuses '/', '.', '..', ``__reserved__`` names and more than 1500 bytes; such an
    id can never have been stored, so lookups treat it as missing instead of erroring.
    """
    return (
        isinstance(value, str)
        and 0 < len(value.encode("utf-8", "surrogatepass")) <= 1500
        and "/" not in value
        and value not in (".", "..")
        and not (value.startswith("__") and value.endswith("__"))
    )


def _retry_conflicts(attempt: Callable[[], T], what: str) -> T:
    """Run an optimistic read-modify-write until its precondition holds.

    Backs off with full jitter (5 ms doubling to 200 ms) so contending writers spread out.
    """
    deadline = time.monotonic() + CONFLICT_DEADLINE_S
    backoff = 0.005
    while True:
        try:
            return attempt()
        except _CONFLICTS as exc:
            if time.monotonic() >= deadline:
                raise TransientError(f"{what} kept conflicting for {CONFLICT_DEADLINE_S}s") from exc
        time.sleep(_random.uniform(0, backoff))  # jittered backoff between CAS attempts
        backoff = min(backoff * 2, 0.2)


def _encode(workshop: Workshop) -> dict[str, Any]:
    return workshop.to_dict()  # datetimes are stored as Firestore timestamps


def _decode(data: dict[str, Any] | None) -> Workshop:
    assert data is not None  # callers check snapshot.exists
    data = {
        **data,
        "created_at": as_utc(data["created_at"]),
        "updated_at": as_utc(data["updated_at"]),
    }
    for name in OPTIONAL_TIME_FIELDS:
        if data.get(name) is not None:
            data[name] = as_utc(data[name])
    return Workshop.from_dict(data)


def _seat_doc(seat: Seat) -> dict[str, Any]:
    return {
        "number": seat.number,
        "host_index": seat.host_index,
        "reconnect_hash": seat.reconnect_hash,
        "client_nonce_hash": seat.client_nonce_hash,
        "joined_at": seat.joined_at,
        "last_seen": seat.last_seen,
        "display_name": seat.display_name,
    }


def _decode_seat(data: dict[str, Any] | None) -> Seat:
    assert data is not None  # callers check snapshot.exists
    return Seat(
        number=int(data["number"]),
        host_index=int(data["host_index"]),
        reconnect_hash=data["reconnect_hash"],
        client_nonce_hash=data.get("client_nonce_hash"),
        joined_at=as_utc(data["joined_at"]),
        last_seen=as_utc(data["last_seen"]),
        display_name=data.get("display_name"),
    )
