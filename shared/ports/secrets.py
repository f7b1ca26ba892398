"""The secrets port: per-workshop API keys and the platform's signing key.

Adapters: ``shared.adapters.secret_manager.SecretManagerSecrets`` (GCP Secret Manager),
``shared.adapters.local_secrets.LocalSecrets`` (one 0600 file per secret) and, on host VMs,
the read-only ``shared.adapters.host_credentials.HostCredentialSecrets`` (the workshop key from
the API, for the VM's identity token). No adapter changes who may read a secret: hosts never
get Secret Manager access (docs/events.md, "Host credentials"). Values never
appear in logs, exceptions, or ``repr`` of anything these return.
"""

from __future__ import annotations

import abc


class Secrets(abc.ABC):
    @abc.abstractmethod
    def put(self, name: str, value: str, labels: dict[str, str] | None = None) -> str:
        """Create the secret if needed and store ``value`` as its newest version.

        ``name`` is 1-255 of ``[A-Za-z0-9_-]``. Returns a reference (adapter-specific string,
        safe to store and log) that ``access``/``delete`` accept.
        """

    def ref_for(self, name: str) -> str:
        """The reference ``put(name, ...)`` returns for ``name``, without writing anything.

        Lets a secret with a well-known name (the token signing key) be read before this
        process ever wrote it. Adapters whose references are not the bare name override it.
        """
        return name

    def add_version(self, name: str, value: str) -> str:
        """Store ``value`` as the newest version of the *existing* secret ``name``.

        For secrets a deployment creates itself (Terraform: the TLS certificate and ACME
        account), so the writer needs only the right to add versions, not to create secrets.
        Older versions stay (Secret Manager) until disabled. Returns the reference. Adapters
        that create freely (local files) just ``put``.
        """
        return self.put(name, value)

    @abc.abstractmethod
    def access(self, ref: str) -> str | None:
        """The newest value, or ``None`` if the secret does not exist (or was deleted)."""

    def versions(self, ref: str) -> list[str]:
        """Every enabled version's value, oldest first (``[]`` if the secret does not exist).

        Adapters that keep one value per secret return ``[access(ref)]``; Secret Manager
        returns every enabled version (the signing key's rotation overlap).
        """
        value = self.access(ref)
        return [] if value is None else [value]

    @abc.abstractmethod
    def delete(self, ref: str) -> None:
        """Delete the secret and all versions. Missing is success."""
