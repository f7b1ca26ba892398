"""``NoDns``: the DNS port for setups where no record is managed.

Used locally (agents listen on loopback ports) and in GCP trial mode, where a host's agent is
served at ``https://<ip>.sslip.io``: sslip.io resolves the name to the IP embedded in it, so
there is nothing to create or delete.
"""

from __future__ import annotations

from shared.ports.dns import HostRecords


class NoDns(HostRecords):
    def upsert_a_record(self, name: str, ip: str, ttl: int) -> None:
        """Nothing to publish."""

    def delete_record(self, name: str) -> None:
        """Nothing to remove."""
