"""Terraform declares exactly the Firestore indexes and TTL policy the Firestore adapter needs.

``shared.adapters.firestore_store.REQUIRED_INDEXES`` lists the composite indexes its queries
use; a missing one makes ``list_workshops`` fail in production only (the emulator needs none),
so the two must not drift. ``check_indexes`` is also run on a mutated copy to show it can fail.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from shared.adapters.firestore_store import EVENT_TTL_FIELD, EVENTS, REQUIRED_INDEXES
from tests.deploy.conftest import TERRAFORM_DIR
from tests.deploy.hcl import Config

IndexKey = tuple[str, tuple[tuple[str, str], ...]]


def declared_indexes(tf: Config) -> Counter[IndexKey]:
    """Every ``google_firestore_index`` as (collection, ((field, order), ...)), with counts."""
    found: Counter[IndexKey] = Counter()
    for index in tf.of_type("google_firestore_index"):
        assert index.attr("database").refs() == {"google_firestore_database.main.name"}  # type: ignore[union-attr]
        assert index.attr("query_scope") is None or index.value("query_scope") == "COLLECTION"
        fields = tuple(
            (f.value("field_path"), f.value("order")) for f in index.body.blocks("fields")
        )
        found[(index.value("collection"), fields)] += 1
    return found


def check_indexes(tf: Config) -> None:
    required = Counter((collection, tuple(fields)) for collection, fields in REQUIRED_INDEXES)
    declared = declared_indexes(tf)
    assert declared == required, (
        f"terraform/ and REQUIRED_INDEXES differ: missing {sorted(required - declared)},"
        f" extra {sorted(declared - required)}"
    )


def test_terraform_declares_exactly_the_required_composite_indexes(tf: Config) -> None:
    check_indexes(tf)


def test_processed_events_expire_through_a_ttl_policy_on_the_field_the_adapter_writes(
    tf: Config,
) -> None:
    [ttl] = [f for f in tf.of_type("google_firestore_field") if f.body.blocks("ttl_config")]
    assert (ttl.value("collection"), ttl.value("field")) == (EVENTS, EVENT_TTL_FIELD)
    assert ttl.attr("database").refs() == {"google_firestore_database.main.name"}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('field_path = "owner"', 'field_path = "owners"'),
        ('order      = "ASCENDING"', 'order      = "DESCENDING"'),
        ('resource "google_firestore_index" "workshops_newest"', 'resource "null" "x"'),
    ],
)
def test_the_index_check_fails_when_terraform_drifts(tmp_path: Path, old: str, new: str) -> None:
    copy = tmp_path / "terraform"
    shutil.copytree(TERRAFORM_DIR, copy, ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    data = copy / "data.tf"
    text = data.read_text()
    assert text.count(old) == 1, f"mutation {old!r} no longer applies to data.tf"
    data.write_text(text.replace(old, new))

    with pytest.raises(AssertionError, match="REQUIRED_INDEXES differ"):
        check_indexes(Config(copy))
