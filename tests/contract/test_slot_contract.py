"""Host slot labels in the ``WorkshopStore`` contract (``claim_slot``, ``slot_of``,
``release_slot``, ``list_slots``), run unchanged against SQLite and the Firestore emulator.

A slot label names a host under the deployment certificate (docs/deployment.md, "Host slot
labels"): two hosts on one label would share a DNS name, so uniqueness is tested under real
concurrency, and a redelivered create event must get its host the same label back.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from shared.adapters.firestore_store import FirestoreStore
from shared.adapters.sqlite_store import SqliteStore
from shared.domain.certificates import slot_labels
from shared.ports.store import SlotHolder, WorkshopStore
from tests.contract.store_helpers import run_together


@pytest.fixture(params=["sqlite", pytest.param("firestore", marks=pytest.mark.emulator)])
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[WorkshopStore]:
    if request.param == "sqlite":
        adapter: WorkshopStore = SqliteStore(tmp_path / "state.db")
    else:
        request.getfixturevalue("firestore_emulator")
        adapter = FirestoreStore(project=f"contract-{uuid.uuid4().hex[:12]}")
    yield adapter
    adapter.close()


def holder(index: int, workshop: str = "wab12cd34ef", attempt: int = 1) -> SlotHolder:
    return SlotHolder(f"ct-{workshop}-h{index}", workshop, index, attempt)


def test_a_host_claims_a_free_label_and_holds_it(store: WorkshopStore) -> None:
    labels = slot_labels(3)
    assert store.slot_of(holder(0).host_name) is None
    assert store.list_slots() == {}

    first = store.claim_slot(labels, holder(0))
    second = store.claim_slot(labels, holder(1))

    assert first in labels and second in labels and first != second
    assert store.slot_of(holder(0).host_name) == first
    assert store.list_slots() == {first: holder(0), second: holder(1)}


def test_a_redelivered_claim_gets_the_same_label(store: WorkshopStore) -> None:
    labels = slot_labels(5)
    label = store.claim_slot(labels, holder(0))
    again = store.claim_slot(labels, holder(0, attempt=1))
    assert again == label
    assert len(store.list_slots()) == 1


def test_a_released_label_is_free_for_another_host(store: WorkshopStore) -> None:
    labels = slot_labels(1)
    label = store.claim_slot(labels, holder(0))
    assert label == "s00"
    assert store.claim_slot(labels, holder(1)) is None

    assert store.release_slot(holder(0).host_name) == "s00"
    assert store.slot_of(holder(0).host_name) is None
    assert store.release_slot(holder(0).host_name) is None  # idempotent

    assert store.claim_slot(labels, holder(1)) == "s00"
    assert store.list_slots() == {"s00": holder(1)}


def test_an_exhausted_pool_claims_nothing_and_disturbs_no_holder(store: WorkshopStore) -> None:
    labels = slot_labels(2)
    held = {store.claim_slot(labels, holder(i)) for i in range(2)}
    assert held == {"s00", "s01"}

    assert store.claim_slot(labels, holder(2)) is None
    assert store.slot_of(holder(2).host_name) is None
    assert store.list_slots() == {"s00": holder(0), "s01": holder(1)} or store.list_slots() == {
        "s00": holder(1),
        "s01": holder(0),
    }


def test_concurrent_claims_get_distinct_labels_and_the_rest_none(store: WorkshopStore) -> None:
    labels = slot_labels(6)
    outcomes = run_together(lambda i: store.claim_slot(labels, holder(i)), list(range(10)), 10)

    assert [o.error for o in outcomes] == [None] * 10
    got = [o.value for o in outcomes if o.value is not None]
    assert len(got) == 6 and sorted(got) == list(labels)  # distinct: every label exactly once
    slots = store.list_slots()
    assert {label: h.host_index for label, h in slots.items()} == {
        o.value: i for i, o in enumerate(outcomes) if o.value is not None
    }


def test_racing_claims_for_one_host_converge_on_one_label(store: WorkshopStore) -> None:
    labels = slot_labels(8)
    outcomes = run_together(lambda _: store.claim_slot(labels, holder(0)), list(range(8)), 8)

    assert [o.error for o in outcomes] == [None] * 8
    assert len({o.value for o in outcomes}) == 1
    assert list(store.list_slots().values()) == [holder(0)]


def test_hosts_of_different_workshops_never_share_a_label(store: WorkshopStore) -> None:
    labels = slot_labels(4)
    a = store.claim_slot(labels, holder(0, workshop="waaaaaaaaaa"))
    b = store.claim_slot(labels, holder(0, workshop="wbbbbbbbbbb"))
    assert a is not None and b is not None and a != b
