"""Compute test doubles with named failure modes (wrap any real adapter, or stand alone).

* ``InMemoryCompute``: a correct in-process compute; counts real creations per name.
* ``CrashAfterInsertCompute(inner)``: the insert happens, then the call dies before the caller
  can record it (``TransientError``), ``crashes`` times: the provisioner must converge on
  redelivery without a second host.
* ``FailingCompute(mode)``: every create is refused like GCE would: ``quota`` / ``stockout`` /
  ``bad_image`` (permanent, with the reason an instructor sees) or ``unavailable`` (transient).
* ``NeverReadyHost`` is a mode of the stand-in agent (tests/provisioner/standin_agent.py).
"""

from __future__ import annotations

import threading
from collections import Counter

from shared.domain.errors import PermanentError, TransientError
from shared.ports.compute import Compute, HostInfo, HostSpec


class InMemoryCompute(Compute):
    def __init__(self) -> None:
        self.hosts: dict[str, HostInfo] = {}
        self.creations: Counter[str] = Counter()
        self.deletions: Counter[str] = Counter()
        self._lock = threading.Lock()

    def create_host(self, spec: HostSpec) -> HostInfo:
        with self._lock:
            if spec.name not in self.hosts:
                self.creations[spec.name] += 1
                self.hosts[spec.name] = HostInfo(spec.name, "running", spec.labels, "127.0.0.1")
            return self.hosts[spec.name]

    def delete_host(self, name: str) -> None:
        with self._lock:
            if self.hosts.pop(name, None) is not None:
                self.deletions[name] += 1

    def get_host(self, name: str) -> HostInfo | None:
        with self._lock:
            return self.hosts.get(name)

    def list_hosts(self, labels: dict[str, str] | None = None) -> list[HostInfo]:
        wanted = labels or {}
        with self._lock:
            return [
                h
                for h in self.hosts.values()
                if all(h.labels.get(k) == v for k, v in wanted.items())
            ]


class _Wrapper(Compute):
    def __init__(self, inner: Compute) -> None:
        self.inner = inner

    def create_host(self, spec: HostSpec) -> HostInfo:
        return self.inner.create_host(spec)

    def delete_host(self, name: str) -> None:
        self.inner.delete_host(name)

    def get_host(self, name: str) -> HostInfo | None:
        return self.inner.get_host(name)

    def list_hosts(self, labels: dict[str, str] | None = None) -> list[HostInfo]:
        return self.inner.list_hosts(labels)


class CrashAfterInsertCompute(_Wrapper):
    def __init__(self, inner: Compute, crashes: int = 1) -> None:
        super().__init__(inner)
        self.crashes_left = crashes
        self._lock = threading.Lock()

    def create_host(self, spec: HostSpec) -> HostInfo:
        info = self.inner.create_host(spec)
        with self._lock:
            if self.crashes_left > 0:
                self.crashes_left -= 1
                raise TransientError("simulated crash after the insert, before the state write")
        return info


FAILURES = {
    "quota": PermanentError(
        "creating host {index}: the GCP project is out of quota (Quota 'CPUS' exceeded. "
        "Limit: 24.0 in region us-central1.); ask for a quota increase or use fewer seats"
    ),
    "stockout": PermanentError(
        "creating host {index}: the zone has no capacity for this machine type right now"
    ),
    "bad_image": PermanentError("creating host {index}: the host image does not exist"),
    "unavailable": TransientError("creating host {index}: backend unavailable"),
}


class FailingCompute(_Wrapper):
    """Refuses creating hosts whose index is in ``indexes`` (all if ``None``) with ``mode``."""

    def __init__(
        self, mode: str, inner: Compute | None = None, indexes: set[int] | None = None
    ) -> None:
        super().__init__(inner or InMemoryCompute())
        self.mode = mode
        self.indexes = indexes

    def create_host(self, spec: HostSpec) -> HostInfo:
        if self.indexes is None or spec.index in self.indexes:
            template = FAILURES[self.mode]
            raise type(template)(str(template).format(index=spec.index))
        return self.inner.create_host(spec)
