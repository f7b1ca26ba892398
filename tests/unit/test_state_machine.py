"""Every allowed and every refused workshop transition."""

from __future__ import annotations

import itertools

import pytest

from shared.domain.errors import InvalidTransition
from shared.domain.model import TRANSITIONS, WorkshopStatus, check_transition

S = WorkshopStatus
ALLOWED = {
    (S.CREATED, S.PROVISIONING),
    (S.PROVISIONING, S.RUNNING),
    (S.PROVISIONING, S.FAILED),
    (S.PROVISIONING, S.STOPPING),
    (S.RUNNING, S.STOPPING),
    (S.STOPPING, S.STOPPED),
    (S.FAILED, S.PROVISIONING),
    (S.FAILED, S.STOPPING),
}
ALL_PAIRS = set(itertools.product(S, S))


def test_the_table_is_exactly_the_documented_machine():
    assert {(a, b) for a, targets in TRANSITIONS.items() for b in targets} == ALLOWED


@pytest.mark.parametrize(("current", "target"), sorted(ALLOWED))
def test_allowed_transition_passes(current, target):
    check_transition(current, target)


@pytest.mark.parametrize(("current", "target"), sorted(ALL_PAIRS - ALLOWED))
def test_refused_transition_raises_with_both_states(current, target):
    with pytest.raises(InvalidTransition) as info:
        check_transition(current, target)
    assert info.value.current == current.value
    assert info.value.target == target.value


def test_stopped_is_terminal():
    assert TRANSITIONS[S.STOPPED] == frozenset()
