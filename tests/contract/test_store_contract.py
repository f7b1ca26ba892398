"""The ``WorkshopStore`` contract, run unchanged against every adapter.

``sqlite`` uses a fresh file under ``tmp_path``; ``firestore`` uses the session's emulator
and a fresh project id per test, so tests never see each other's documents. In CI the
emulator run must execute: the ``firestore_emulator`` fixture fails (never skips) there.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest

from shared.adapters.firestore_store import FirestoreStore
from shared.adapters.sqlite_store import SqliteStore
from shared.domain.errors import (
    CodeSpaceExhausted,
    InvalidTransition,
    NotFound,
    StaleState,
    ValidationError,
    WorkshopFull,
)
from shared.domain.model import (
    HostStatus,
    Workshop,
    WorkshopStatus,
    host_index_for_seat,
    plan_hosts,
)
from shared.domain.progress import SeatProgress
from shared.ports.store import SeatRequest, WorkshopStore
from tests.contract.store_helpers import at, make_workshop, run_together

S = WorkshopStatus


@pytest.fixture(params=["sqlite", pytest.param("firestore", marks=pytest.mark.emulator)])
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[WorkshopStore]:
    if request.param == "sqlite":
        adapter: WorkshopStore = SqliteStore(tmp_path / "state.db")
    else:
        request.getfixturevalue("firestore_emulator")
        adapter = FirestoreStore(project=f"contract-{uuid.uuid4().hex[:12]}")
    yield adapter
    adapter.close()


def never_called() -> str:
    raise AssertionError("new_code must not be called when the code is free")


def codes_from(*codes: str):
    remaining = list(codes)
    return lambda: remaining.pop(0)


def created(store: WorkshopStore, **overrides) -> Workshop:
    return store.create_workshop(make_workshop(**overrides), never_called)


def join(store: WorkshopStore, workshop: Workshop, who: str, nonce: str | None = None):
    return store.assign_seat(
        workshop, SeatRequest(reconnect_hash=f"rh-{who}", client_nonce_hash=nonce)
    )


# --------------------------------------------------------------------------- workshops
def test_a_created_workshop_reads_back_identical_with_aware_utc_timestamps(store):
    original = make_workshop(
        created_at=at(0),
        updated_at=at(1),
        error="quota exceeded",
        api_key_ref="secret/ws-key",
        attempt=2,
        model_policy={"models": ["claude-sonnet"], "max_requests": 300, "ratio": 0.5},
        model_paused=True,
    )
    hosts = plan_hosts(replace(original, seats=25))
    original = replace(original, seats=25, hosts=hosts)
    original = original.with_host(
        replace(hosts[1], status=HostStatus.READY, endpoint="https://h1", timings={"ready": "x"})
    )

    assert store.create_workshop(original, never_called) == original
    stored = store.get_workshop(original.id)

    assert stored == original
    assert stored.created_at.utcoffset().total_seconds() == 0
    assert store.get_workshop_by_code(original.code) == original


def test_missing_workshops_read_as_none(store):
    created(store)
    assert store.get_workshop("wmissing") is None
    assert store.get_workshop_by_code("CLAUDE-ZZZZ") is None


def test_a_taken_code_is_regenerated_and_the_holder_is_untouched(store):
    first = created(store, code="CLAUDE-AAAA")
    second = store.create_workshop(
        make_workshop(code="CLAUDE-AAAA"), codes_from("CLAUDE-AAAA", "CLAUDE-BBBB")
    )

    assert second.code == "CLAUDE-BBBB"
    assert store.get_workshop_by_code("CLAUDE-AAAA") == first
    assert store.get_workshop_by_code("CLAUDE-BBBB") == second


def test_code_space_exhaustion_is_reported_and_writes_nothing(store):
    created(store, code="CLAUDE-AAAA")
    loser = make_workshop(code="CLAUDE-AAAA")

    with pytest.raises(CodeSpaceExhausted):
        store.create_workshop(loser, lambda: "CLAUDE-AAAA")
    assert store.get_workshop(loser.id) is None


def test_a_duplicate_id_is_refused_without_overwriting_or_reserving_its_code(store):
    original = created(store, name="Original")

    with pytest.raises(ValueError):
        store.create_workshop(
            make_workshop(id=original.id, name="Impostor", code="CLAUDE-CCCC"), never_called
        )

    assert store.get_workshop(original.id) == original
    # The refused create left no claim on its code.
    assert created(store, code="CLAUDE-CCCC").code == "CLAUDE-CCCC"


def newest_first(workshops: list[Workshop]) -> list[str]:
    return [w.id for w in sorted(workshops, key=lambda w: (w.created_at, w.id), reverse=True)]


def test_listing_is_per_owner_newest_first_and_pages_without_skips_or_repeats(store):
    # Two workshops share a created_at across the first page boundary: the id breaks the tie.
    mine = [created(store, created_at=at(m)) for m in (0, 5, 9, 12, 12, 30, 31)]
    theirs = [created(store, owner="bob@example.com", created_at=at(m)) for m in (1, 40)]

    pages, cursor, late = [], None, []
    while True:
        page = store.list_workshops(owner="alice@example.com", limit=3, cursor=cursor)
        pages.append([w.id for w in page.workshops])
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
        if not late:  # a newer workshop appearing mid-listing must not disturb it
            late.append(created(store, created_at=at(100)))

    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == newest_first(mine)
    everyone = store.list_workshops(limit=200).workshops
    assert [w.id for w in everyone] == newest_first([*mine, *theirs, *late])


def test_list_limit_is_clamped_and_a_forged_cursor_is_a_validation_error(store):
    for m in range(3):
        created(store, created_at=at(m))

    assert len(store.list_workshops(limit=0).workshops) == 1
    assert len(store.list_workshops(limit=10_000).workshops) == 3
    with pytest.raises(ValidationError):
        store.list_workshops(cursor="not-a-cursor")


def test_update_applies_the_mutation_and_stamps_updated_at(store):
    workshop = created(store, updated_at=at(0))

    updated = store.update_workshop(workshop.id, lambda w: replace(w, name="Renamed"))

    assert updated.name == "Renamed"
    assert updated.updated_at > workshop.updated_at
    assert store.get_workshop(workshop.id) == updated


def test_update_of_a_missing_workshop_is_not_found(store):
    with pytest.raises(NotFound):
        store.update_workshop("wmissing", lambda w: w)


def test_a_mutation_that_raises_writes_nothing(store):
    workshop = created(store)

    def refuse(current: Workshop) -> Workshop:
        raise StaleState(current.status.value, ("running",))

    with pytest.raises(StaleState):
        store.update_workshop(workshop.id, refuse)
    assert store.get_workshop(workshop.id) == workshop


@pytest.mark.parametrize(
    "change",
    [{"id": "wother"}, {"code": "CLAUDE-DDDD"}, {"owner": "mallory"}, {"created_at": at(9)}],
)
def test_identifying_fields_cannot_be_changed(store, change):
    workshop = created(store)

    with pytest.raises(ValueError):
        store.update_workshop(workshop.id, lambda w: replace(w, **change))
    assert store.get_workshop(workshop.id) == workshop


def test_concurrent_updates_all_land(store):
    workshop = created(store)

    outcomes = run_together(
        lambda _: store.update_workshop(workshop.id, lambda w: replace(w, attempt=w.attempt + 1)),
        range(20),
        workers=20,
    )

    assert [o.error for o in outcomes if o.error] == []
    assert store.get_workshop(workshop.id).attempt == 20


def test_transition_moves_status_and_applies_changes_in_one_write(store):
    workshop = created(store)

    moved = store.transition(workshop.id, S.CREATED, S.PROVISIONING, attempt=1, error=None)

    assert (moved.status, moved.attempt) == (S.PROVISIONING, 1)
    assert store.get_workshop(workshop.id) == moved


def test_transition_from_an_unexpected_status_is_stale_and_names_the_current_one(store):
    workshop = created(store)

    with pytest.raises(StaleState) as caught:
        store.transition(workshop.id, [S.RUNNING, S.FAILED], S.STOPPING)

    assert caught.value.current == "created"
    assert store.get_workshop(workshop.id).status is S.CREATED


def test_transition_forbidden_by_the_state_machine_is_refused(store):
    workshop = created(store)

    with pytest.raises(InvalidTransition):
        store.transition(workshop.id, S.CREATED, S.RUNNING)
    assert store.get_workshop(workshop.id) == workshop


def test_transition_of_a_missing_workshop_is_not_found(store):
    with pytest.raises(NotFound):
        store.transition("wmissing", S.CREATED, S.PROVISIONING)


def test_racing_transitions_have_exactly_one_winner(store):
    workshop = created(store)

    outcomes = run_together(
        lambda _: store.transition(workshop.id, S.CREATED, S.PROVISIONING), range(10), workers=10
    )

    assert sum(o.error is None for o in outcomes) == 1
    assert all(isinstance(o.error, StaleState) for o in outcomes if o.error)


# ------------------------------------------------------------------------------ seats
def test_seats_are_assigned_within_range_with_their_host_and_listed_in_order(store):
    workshop = created(store, seats=5, seats_per_host=2)

    seats = [join(store, workshop, str(i)) for i in range(5)]

    assert sorted(s.number for s in seats) == [1, 2, 3, 4, 5]
    assert all(s.host_index == host_index_for_seat(s.number, 2) for s in seats)
    assert store.list_seats(workshop.id) == sorted(seats, key=lambda s: s.number)
    with pytest.raises(WorkshopFull):
        join(store, workshop, "late")


def test_a_seat_is_found_by_its_reconnect_hash_only_in_its_own_workshop(store):
    workshop, other = created(store), created(store)
    seat = join(store, workshop, "ada")

    assert store.find_seat_by_reconnect(workshop.id, "rh-ada") == seat
    assert store.find_seat_by_reconnect(workshop.id, "rh-nobody") is None
    assert store.find_seat_by_reconnect(other.id, "rh-ada") is None


def test_touch_sets_last_seen_and_ignores_a_free_seat(store):
    workshop = created(store)
    seat = join(store, workshop, "ada")

    free = seat.number % workshop.seats + 1  # adapters may hand out seats in any order
    store.touch_seat(workshop.id, seat.number, when=at(60))
    store.touch_seat(workshop.id, free)

    assert [(s.number, s.last_seen) for s in store.list_seats(workshop.id)] == [
        (seat.number, at(60))
    ]


def test_release_frees_the_seat_and_its_nonce(store):
    workshop = created(store, seats=1)
    seat = join(store, workshop, "ada", nonce="n1")

    assert store.release_seat(workshop.id, seat.number) is True
    assert store.release_seat(workshop.id, seat.number) is False
    assert store.list_seats(workshop.id) == []

    again = join(store, workshop, "bob", nonce="n1")
    assert again.reconnect_hash == "rh-bob"
    assert store.list_seats(workshop.id) == [again]


def test_a_seat_keeps_its_display_name_and_can_be_renamed(store):
    workshop = created(store, seats=2)
    named = store.assign_seat(workshop, SeatRequest("rh-ada", display_name="Ada <b>"))
    plain = join(store, workshop, "bob")

    assert named.display_name == "Ada <b>" and plain.display_name is None
    assert store.find_seat_by_reconnect(workshop.id, "rh-ada") == named
    assert store.rename_seat(workshop.id, plain.number, "Bob") is True
    names = {s.number: s.display_name for s in store.list_seats(workshop.id)}
    assert names == {named.number: "Ada <b>", plain.number: "Bob"}
    assert store.rename_seat(workshop.id, named.number, None) is True
    names = {s.number: s.display_name for s in store.list_seats(workshop.id)}
    assert names == {named.number: None, plain.number: "Bob"}

    store.release_seat(workshop.id, plain.number)
    assert store.rename_seat(workshop.id, plain.number, "ghost") is False
    assert [s.number for s in store.list_seats(workshop.id)] == [named.number]


def test_a_workshop_remembers_its_paused_seats(store):
    workshop = created(store)
    store.update_workshop(workshop.id, lambda w: replace(w, paused_seats=(2, 9)))

    assert store.get_workshop(workshop.id).paused_seats == (2, 9)


def test_the_same_nonce_gets_the_same_seat_and_another_nonce_another(store):
    workshop = created(store)
    first = join(store, workshop, "ada", nonce="n1")

    assert join(store, workshop, "ada-again", nonce="n1") == first
    assert join(store, workshop, "bob", nonce="n2").number != first.number
    assert len(store.list_seats(workshop.id)) == 2


def test_a_racing_double_submit_converges_on_one_seat(store):
    workshop = created(store)

    outcomes = run_together(
        lambda i: join(store, workshop, f"tab{i}", nonce="same"), range(16), workers=16
    )

    assert [o.error for o in outcomes if o.error] == []
    assert len({o.value for o in outcomes}) == 1
    assert len(store.list_seats(workshop.id)) == 1


def test_join_storm_gives_every_seat_once_and_clean_full_refusals(store):
    workshop = created(store, seats=50, seats_per_host=10)
    people = [f"p{i}" for i in range(200)]

    outcomes = run_together(lambda who: join(store, workshop, who), people, workers=64)

    seated = {who: o.value for who, o in zip(people, outcomes, strict=True) if o.value}
    refused = [o.error for o in outcomes if o.error]
    assert sorted(s.number for s in seated.values()) == list(range(1, 51))
    assert len(refused) == 150
    assert all(isinstance(e, WorkshopFull) for e in refused), {type(e) for e in refused}
    assert len(store.list_seats(workshop.id)) == 50

    lookups = [who for who in seated for _ in range(4)]
    found = run_together(
        lambda who: store.find_seat_by_reconnect(workshop.id, f"rh-{who}"), lookups, workers=64
    )
    assert [o.error for o in found if o.error] == []
    assert [o.value for o in found] == [seated[who] for who in lookups]


# ------------------------------------------------------------------------------ usage
def test_usage_totals_replace_per_seat_and_an_older_report_is_ignored(store):
    workshop = created(store)
    store.put_seat_usage(
        workshop.id, {1: {"requests": 5, "input_tokens": 100.0}, 2: {"requests": 1}}
    )

    store.put_seat_usage(workshop.id, {1: {"requests": 3, "input_tokens": 60.0}})  # replayed
    store.put_seat_usage(workshop.id, {2: {"requests": 4, "cost_usd": 0.25}})

    assert store.get_seat_usage(workshop.id) == {
        1: {"requests": 5, "input_tokens": 100.0},
        2: {"requests": 4, "cost_usd": 0.25},
    }
    assert store.get_seat_usage(created(store).id) == {}


# --------------------------------------------------------------------------- progress
def test_progress_newest_report_wins_even_going_back_and_a_replay_is_ignored(store):
    workshop = created(store)
    t0 = at(0)
    store.put_seat_progress(
        workshop.id,
        {1: SeatProgress(3, ("explain", "claude-md")), 2: SeatProgress(1)},
        t0,
    )
    # Seat 1 pressed Back: the newer report wins although its step is lower.
    store.put_seat_progress(workshop.id, {1: SeatProgress(2, ("explain",))}, at(60))
    # A report older than seat 1's latest (but newer than seat 2's) arrives late.
    store.put_seat_progress(workshop.id, {1: SeatProgress(4), 2: SeatProgress(0)}, at(30))

    assert store.get_seat_progress(workshop.id) == {
        1: SeatProgress(2, ("explain",)),
        2: SeatProgress(0),
    }
    assert store.get_seat_progress(created(store).id) == {}


def test_delete_removes_progress(store):
    workshop = created(store)
    store.put_seat_progress(workshop.id, {1: SeatProgress(1)}, at(0))
    assert store.delete_workshop(workshop.id) is True
    assert store.get_seat_progress(workshop.id) == {}


# ----------------------------------------------------------------------------- events
def test_an_event_is_new_once_and_new_again_after_being_forgotten(store):
    event_id = "projects/p/topics/t/../msg-1"  # foreign ids may hold any characters

    assert store.record_event(event_id) is True
    assert store.record_event(event_id) is False
    assert store.record_event("msg-2") is True
    store.forget_event(event_id)
    store.forget_event("never-recorded")
    assert store.record_event(event_id) is True


def test_of_many_concurrent_recorders_exactly_one_is_first(store):
    outcomes = run_together(lambda _: store.record_event("evt-race"), range(20), workers=20)

    assert [o.error for o in outcomes if o.error] == []
    assert sorted(o.value for o in outcomes) == [False] * 19 + [True]


# ------------------------------------------------------------------- hostile identifiers
@pytest.mark.parametrize("bad_id", ["a/b", "..", ".", "__name__", "", "x" * 2000])
def test_ids_that_can_never_be_stored_read_as_missing(store, bad_id):
    workshop = created(store)
    join(store, workshop, "ada")

    assert store.get_workshop(bad_id) is None
    assert store.find_seat_by_reconnect(bad_id, "rh-ada") is None
    assert store.list_seats(bad_id) == []
    assert store.release_seat(bad_id, 1) is False
    assert store.get_seat_usage(bad_id) == {}
    store.touch_seat(bad_id, 1)
    with pytest.raises(NotFound):
        store.update_workshop(bad_id, lambda w: w)
    assert store.list_seats(workshop.id)[0].reconnect_hash == "rh-ada"


# ---------------------------------------------------------------- schedule, cost, retention
def test_schedule_billing_and_final_cost_fields_read_back_as_aware_utc(store):
    from datetime import timedelta, timezone

    paris = timezone(timedelta(hours=1))
    original = make_workshop(
        created_at=at(0),
        updated_at=at(0),
        starts_at=at(60).astimezone(paris),
        ends_at=at(240),
        warmup_minutes=20,
        join_opens_at=at(55),
        end_grace_minutes=7,
        billing_started_at=at(40),
        stopped_at=at(250),
        final_cost={"vm_usd": 1.25, "model_usd": 0.5, "total_usd": 1.75, "vm_hours": 3.5},
    )
    store.create_workshop(original, never_called)
    stored = store.get_workshop(original.id)

    assert stored == original
    assert stored.starts_at == at(60)
    assert stored.starts_at.utcoffset().total_seconds() == 0
    assert stored.schedule is not None and stored.schedule.grace_ends_at == at(247)
    assert stored.final_cost == original.final_cost


def test_schedule_fields_change_through_update_and_unset_fields_stay_none(store):
    workshop = created(store)
    assert workshop.ends_at is None and workshop.schedule is None

    updated = store.update_workshop(workshop.id, lambda w: replace(w, ends_at=at(300)))

    assert store.get_workshop(workshop.id) == updated
    assert updated.ends_at == at(300) and updated.starts_at is None


def test_delete_removes_the_workshop_its_seats_usage_and_frees_its_code(store):
    workshop = created(store, code="CLAUDE-DELX")
    other = created(store)
    join(store, workshop, "a", nonce="n-a")
    join(store, workshop, "b")
    join(store, other, "c")
    store.put_seat_usage(workshop.id, {1: {"requests": 3}})

    assert store.delete_workshop(workshop.id) is True

    assert store.get_workshop(workshop.id) is None
    assert store.get_workshop_by_code("CLAUDE-DELX") is None
    assert store.list_seats(workshop.id) == []
    assert store.get_seat_usage(workshop.id) == {}
    assert len(store.list_seats(other.id)) == 1
    assert store.delete_workshop(workshop.id) is False
    # The code is free again, and the old nonce claim is gone with the old seats.
    again = store.create_workshop(make_workshop(id=workshop.id, code="CLAUDE-DELX"), never_called)
    seat = join(store, again, "z", nonce="n-a")
    assert [s.reconnect_hash for s in store.list_seats(again.id)] == ["rh-z"]
    assert seat.reconnect_hash == "rh-z"
