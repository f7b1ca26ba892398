"""Start Google Cloud emulators for benchmarks, outside pytest.

Reuses ``tests.support.emulators.run_emulator`` (the one place that knows how to start them)
and turns its pytest skip/fail outcomes into ``EmulatorUnavailable``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.support.emulators import run_emulator


class EmulatorUnavailable(RuntimeError):
    pass


@contextmanager
def firestore_emulator() -> Iterator[str]:
    """A running Firestore emulator; yields ``host:port`` with ``FIRESTORE_EMULATOR_HOST`` set."""
    previous = os.environ.get("FIRESTORE_EMULATOR_HOST")
    try:
        with run_emulator("firestore") as emulator:
            os.environ["FIRESTORE_EMULATOR_HOST"] = emulator.host_port
            yield emulator.host_port
    except (pytest.skip.Exception, pytest.fail.Exception) as exc:
        raise EmulatorUnavailable(str(exc)) from None
    finally:
        if previous is None:
            os.environ.pop("FIRESTORE_EMULATOR_HOST", None)
        else:
            os.environ["FIRESTORE_EMULATOR_HOST"] = previous


@contextmanager
def pubsub_emulator() -> Iterator[str]:
    """A running Pub/Sub emulator; yields ``host:port`` with ``PUBSUB_EMULATOR_HOST`` set."""
    previous = os.environ.get("PUBSUB_EMULATOR_HOST")
    try:
        with run_emulator("pubsub") as emulator:
            os.environ["PUBSUB_EMULATOR_HOST"] = emulator.host_port
            yield emulator.host_port
    except (pytest.skip.Exception, pytest.fail.Exception) as exc:
        raise EmulatorUnavailable(str(exc)) from None
    finally:
        if previous is None:
            os.environ.pop("PUBSUB_EMULATOR_HOST", None)
        else:
            os.environ["PUBSUB_EMULATOR_HOST"] = previous
