"""Small in-memory test doubles for ports whose real adapters are not the subject of a test.

* ``RecordingBus`` keeps every published event; ``fail_with`` makes the next publishes fail.
* ``MemorySecrets`` keeps secrets in a dict, with references distinct from names
  (``mem:<name>``), so code that confuses the two fails here as it would on GCP.
* ``NullCompute`` refuses to be used: API tests must never touch compute.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from shared.domain.events import Event
from shared.ports.compute import Compute, HostInfo, HostSpec
from shared.ports.event_bus import EventBus
from shared.ports.secrets import Secrets


class RecordingBus(EventBus):
    def __init__(self) -> None:
        self.events: list[Event] = []
        self._failures: list[Exception] = []
        self._lock = threading.Lock()

    def fail_with(self, error: Exception, times: int = 1) -> None:
        """Make the next ``times`` publishes raise ``error`` (and record nothing)."""
        with self._lock:
            self._failures.extend([error] * times)

    def publish(self, event: Event) -> str:
        with self._lock:
            if self._failures:
                raise self._failures.pop(0)
            self.events.append(event)
            return f"msg-{len(self.events)}"

    def types(self) -> list[str]:
        with self._lock:
            return [e.type for e in self.events]


class MemorySecrets(Secrets):
    PREFIX = "mem:"

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.labels: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    def ref_for(self, name: str) -> str:
        return self.PREFIX + name

    def put(self, name: str, value: str, labels: dict[str, str] | None = None) -> str:
        ref = self.ref_for(name)
        with self._lock:
            self.values[ref] = value
            self.labels[ref] = dict(labels or {})
        return ref

    def access(self, ref: str) -> str | None:
        if not ref.startswith(self.PREFIX):
            raise ValueError("not a memory secret reference")
        with self._lock:
            return self.values.get(ref)

    def delete(self, ref: str) -> None:
        with self._lock:
            self.values.pop(ref, None)
            self.labels.pop(ref, None)


class NullCompute(Compute):
    def _refuse(self, *_: object) -> None:
        raise AssertionError("the API must not call compute directly")

    def create_host(self, spec: HostSpec) -> HostInfo:
        self._refuse()
        raise NotImplementedError

    def delete_host(self, name: str) -> None:
        self._refuse()

    def get_host(self, name: str) -> HostInfo | None:
        self._refuse()
        return None

    def list_hosts(self, labels: dict[str, str] | None = None) -> list[HostInfo]:
        self._refuse()
        return []


class FakeClock:
    """A monotonic clock tests move by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def raising(error: Exception) -> Callable[..., object]:
    """A callable that raises ``error`` whatever it is called with (patch targets)."""

    def fail(*_: object, **__: object) -> object:
        raise error

    return fail
