"""The compute port: create, find and delete the hosts that run workspace agents.

Adapters: ``shared.adapters.gce_compute.GceCompute`` (a VM per host) and
``shared.adapters.local_compute.LocalCompute`` (a ``python -m workspace_agent`` process per host).
Host names are deterministic (``shared.domain.model.host_name``) so every call is idempotent.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field


@dataclass(frozen=True)
class HostSpec:
    """Everything needed to start one host. Holds no secret values, only references."""

    workshop_id: str
    index: int
    name: str
    seat_first: int
    seat_last: int
    #: Non-secret agent configuration (becomes VM metadata / the agent's environment).
    agent_config: dict[str, str] = field(default_factory=dict)
    #: The workshop's start attempt this host is created for (its events must carry it).
    attempt: int = 0

    @property
    def labels(self) -> dict[str, str]:
        return {"clarateach": "host", "workshop": self.workshop_id, "host-index": str(self.index)}


@dataclass(frozen=True)
class HostInfo:
    name: str
    #: ``provisioning`` | ``running`` | ``stopping`` | ``terminated`` (adapter-normalised).
    state: str
    labels: dict[str, str] = field(default_factory=dict)
    #: Reachable address if known: GCE gives the external (NAT) IP, which the provisioner
    #: publishes as ``<host>.<domain>``; readiness still comes from ``host.ready``.
    address: str | None = None


class Compute(abc.ABC):
    @abc.abstractmethod
    def create_host(self, spec: HostSpec) -> HostInfo:
        """Start the host. If a host of that name already exists, return it (success).

        Does not wait for the agent to be ready (that arrives as a ``host.ready`` event).
        Raises ``TransientError`` when a retry may succeed, ``PermanentError`` (with a
        message an instructor can act on: quota, stockout, bad image) when it will not.
        """

    @abc.abstractmethod
    def delete_host(self, name: str) -> None:
        """Delete the host and wait until it is gone. A missing host is success."""

    @abc.abstractmethod
    def get_host(self, name: str) -> HostInfo | None:
        """The host, or ``None`` if it does not exist."""

    @abc.abstractmethod
    def list_hosts(self, labels: dict[str, str] | None = None) -> list[HostInfo]:
        """Hosts carrying all of ``labels`` (all ClaraTeach hosts if ``None``)."""

    def check_capacity(self, hosts: int) -> None:  # noqa: B027 - optional hook
        """Raise ``PermanentError`` naming every quota too small for ``hosts`` more hosts.

        Called before any host of a start is created, so a workshop the project cannot hold
        fails at once with the list of quota increases to ask for, instead of half-created.
        May raise ``TransientError``. Default: nothing to check (local hosts).
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources. Optional."""
