"""Secrets in Google Secret Manager: one secret per name, labelled.

References are the secret's resource name, ``projects/<project>/secrets/<name>`` (safe to store
and log: it names the secret, it is not the value). ``put`` creates the secret (automatic
replication, the given labels) if needed and adds a version; ``access`` reads ``latest``;
``versions`` lists the enabled versions (oldest first) and reads each; ``delete`` removes the
secret with every version. Nothing here changes a secret's IAM policy:
only the functions' service account reads workshop keys (to hand each host VM its own, see
``shared.services.host_credentials``).
"""

from __future__ import annotations

import re
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import secretmanager

from shared.domain.errors import PermanentError, TransientError
from shared.ports.secrets import Secrets

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_REF = re.compile(r"^projects/[^/]+/secrets/[A-Za-z0-9_-]{1,255}$")


class SecretManagerSecrets(Secrets):
    def __init__(self, project: str, client: Any | None = None) -> None:
        if not project:
            raise ValueError("SecretManagerSecrets needs a project")
        self.project = project
        self._client = client or secretmanager.SecretManagerServiceClient()

    def ref(self, name: str) -> str:
        if not _NAME.fullmatch(name):
            raise ValueError("secret name must be 1-255 of [A-Za-z0-9_-]")
        return f"projects/{self.project}/secrets/{name}"

    def ref_for(self, name: str) -> str:
        """``projects/<project>/secrets/<name>``: what ``put`` returns, so the signing key is
        found before this process wrote it (the port's default, the bare name, is no
        Secret Manager reference)."""
        return self.ref(name)

    def put(self, name: str, value: str, labels: dict[str, str] | None = None) -> str:
        ref = self.ref(name)
        try:
            self._client.create_secret(
                request={
                    "parent": f"projects/{self.project}",
                    "secret_id": name,
                    "secret": {"replication": {"automatic": {}}, "labels": dict(labels or {})},
                }
            )
        except gexc.Conflict:  # AlreadyExists over gRPC, plain 409 over REST
            pass  # put is "create if needed", then a new version
        except gexc.GoogleAPIError as exc:
            raise _mapped(exc, f"creating secret {name}") from None
        try:
            self._client.add_secret_version(
                request={"parent": ref, "payload": {"data": value.encode("utf-8")}}
            )
        except gexc.GoogleAPIError as exc:
            raise _mapped(exc, f"adding a version to secret {name}") from None
        return ref

    def add_version(self, name: str, value: str) -> str:
        """``versions.add`` only (``secretmanager.versions.add``, no create permission needed);
        a missing secret is a ``PermanentError`` naming it (Terraform creates it)."""
        ref = self.ref(name)
        try:
            self._client.add_secret_version(
                request={"parent": ref, "payload": {"data": value.encode("utf-8")}}
            )
        except gexc.NotFound:
            raise PermanentError(
                f"secret {name} does not exist; terraform apply creates it"
            ) from None
        except gexc.GoogleAPIError as exc:
            raise _mapped(exc, f"adding a version to secret {name}") from None
        return ref

    def access(self, ref: str) -> str | None:
        try:
            response = self._client.access_secret_version(
                request={"name": f"{_checked(ref)}/versions/latest"}
            )
        except (gexc.NotFound, gexc.FailedPrecondition):
            return None  # missing, or its latest version was disabled/destroyed
        except gexc.GoogleAPIError as exc:
            raise _mapped(exc, "reading a secret") from None
        return bytes(response.payload.data).decode("utf-8")

    def versions(self, ref: str) -> list[str]:
        """Enabled versions oldest first: ``versions.list`` (filter ``state:ENABLED``; Google
        lists newest first) then ``versions.access`` of each, by number."""
        try:
            listed = self._client.list_secret_versions(
                request={"parent": _checked(ref), "filter": "state:ENABLED"}
            )
            names = sorted(
                (v.name for v in listed if v.state.name == "ENABLED"),
                key=lambda name: int(name.rpartition("/")[2]),
            )
            values = []
            for name in names:
                try:
                    response = self._client.access_secret_version(request={"name": name})
                except (gexc.NotFound, gexc.FailedPrecondition):
                    continue  # disabled or destroyed since the listing
                values.append(bytes(response.payload.data).decode("utf-8"))
        except gexc.NotFound:
            return []
        except gexc.GoogleAPIError as exc:
            raise _mapped(exc, "listing secret versions") from None
        return values

    def delete(self, ref: str) -> None:
        try:
            self._client.delete_secret(request={"name": _checked(ref)})
        except gexc.NotFound:
            return
        except gexc.GoogleAPIError as exc:
            raise _mapped(exc, "deleting a secret") from None


def _checked(ref: str) -> str:
    if not _REF.fullmatch(ref):
        raise ValueError("not a Secret Manager secret reference")
    return ref


def _mapped(exc: gexc.GoogleAPIError, what: str) -> Exception:
    # ``from None`` at the call sites: the client's exception may quote the request.
    if isinstance(
        exc,
        gexc.TooManyRequests
        | gexc.ServerError
        | gexc.DeadlineExceeded
        | gexc.RetryError
        | gexc.Aborted,
    ):
        return TransientError(f"{what}: Secret Manager is unavailable ({type(exc).__name__})")
    return PermanentError(f"{what}: Secret Manager refused ({type(exc).__name__})")
