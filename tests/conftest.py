"""Session-wide fixtures: the Google Cloud emulators, started once per test run on free ports."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.emulators import Emulator, run_emulator


@pytest.fixture(scope="session")
def firestore_emulator() -> Iterator[Emulator]:
    """A running Firestore emulator; ``FIRESTORE_EMULATOR_HOST`` is set while it runs."""
    with run_emulator("firestore") as emu:
        previous = os.environ.get("FIRESTORE_EMULATOR_HOST")
        os.environ["FIRESTORE_EMULATOR_HOST"] = emu.host_port
        try:
            yield emu
        finally:
            _restore("FIRESTORE_EMULATOR_HOST", previous)


@pytest.fixture(scope="session")
def pubsub_emulator() -> Iterator[Emulator]:
    """A running Pub/Sub emulator; ``PUBSUB_EMULATOR_HOST`` is set while it runs."""
    with run_emulator("pubsub") as emu:
        previous = os.environ.get("PUBSUB_EMULATOR_HOST")
        os.environ["PUBSUB_EMULATOR_HOST"] = emu.host_port
        try:
            yield emu
        finally:
            _restore("PUBSUB_EMULATOR_HOST", previous)


def _restore(name: str, previous: str | None) -> None:
    if previous is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = previous
