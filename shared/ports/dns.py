"""The DNS port: one A record per host, so its agent is reachable at ``<host>.<domain>``.

Adapters: ``shared.adapters.cloud_dns.CloudDnsRecords`` (a Cloud DNS managed zone) and
``shared.adapters.no_dns.NoDns`` (local mode, and GCP trial mode where hosts are reached at
``https://<ip>.sslip.io``, so nothing needs a record). Names are derived from deterministic
host names or from the host's slot label (``<slot>.<domain>`` and the wildcard
``*.<slot>.<domain>``, shared/services/host_slots.py), so every call is idempotent.
"""

from __future__ import annotations

import abc


class HostRecords(abc.ABC):
    @abc.abstractmethod
    def upsert_a_record(self, name: str, ip: str, ttl: int) -> None:
        """Make ``name`` resolve to exactly ``ip`` (IPv4) with ``ttl`` seconds.

        ``name`` is a fully qualified domain name; a trailing dot is optional. Creates the
        record, or replaces an existing record of that name, so repeating it is success.
        Raises ``TransientError`` when a retry may succeed and ``PermanentError`` (with a
        message an operator can act on: unknown zone, permission denied, name outside the
        zone) when it will not.
        """

    @abc.abstractmethod
    def delete_record(self, name: str) -> None:
        """Remove the A record of ``name``. A missing record is success. Errors as above."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources. Optional."""


class ChallengeRecords(abc.ABC):
    """TXT records for ACME DNS-01 challenges (``_acme-challenge.<name>``, RFC 8555 §8.4).

    Only the certificate service uses this port (terraform: the certificate function's account);
    hosts never get it. Errors as ``HostRecords``.
    """

    @abc.abstractmethod
    def set_txt_record(self, name: str, values: list[str], ttl: int) -> None:
        """Make ``name`` carry exactly the TXT strings ``values`` (create or replace)."""

    @abc.abstractmethod
    def delete_txt_record(self, name: str) -> None:
        """Remove the TXT record of ``name``. A missing record is success."""
