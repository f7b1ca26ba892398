"""Which events carry an ordering key (issue 12 item 5)."""

from __future__ import annotations

import pytest

from shared.domain.events import (
    EVENT_TYPES,
    HOST_USAGE,
    UNORDERED_EVENT_TYPES,
    Event,
)


def test_usage_reports_carry_no_ordering_key() -> None:
    """An empty ordering key means "no ordering" to Pub/Sub
    (https://cloud.google.com/pubsub/docs/publish-with-ordering-keys)."""
    assert Event(HOST_USAGE, "w1", {}).to_message()[2] == ""
    assert {HOST_USAGE} == UNORDERED_EVENT_TYPES


@pytest.mark.parametrize("kind", sorted(EVENT_TYPES - {HOST_USAGE}))
def test_lifecycle_events_are_ordered_by_workshop(kind: str) -> None:
    assert Event(kind, "w1", {}).to_message()[2] == "w1"
