"""A small local fake of the Secret Manager v1 REST API, for the real client's REST transport.

Implements secrets create/delete, ``:addVersion``, ``versions/{latest|N}:access``,
``versions`` (list, newest first, ``filter=state:ENABLED``), ``versions/N:disable`` and the
per-secret ``:getIamPolicy``/``:setIamPolicy``. As the real service
(https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets.versions):
``latest`` is the most recently created version whatever its state, and accessing a disabled
version is 400 ``FAILED_PRECONDITION``; versions are numbered from 1 in creation order.
Every request is recorded (method, path, query, JSON body) for exact assertions;
``fail_next(status)`` answers the next request with an error.
"""

from __future__ import annotations

import base64
import itertools
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.support.fake_gce import Recorded
from tests.support.rest_fake import serve

_SECRET = re.compile(r"^/v1/projects/(?P<p>[^/]+)/secrets(?:/(?P<s>[A-Za-z0-9_-]+))?(?P<rest>.*)$")


@dataclass
class FakeSecretManager:
    #: secret resource name -> {"labels": {...}, "versions": [{"data", "state"}], "policy"}
    secrets: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""
    _failures: list[int] = field(default_factory=list)
    _etags: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, status: int) -> None:
        with self._lock:
            self._failures.append(status)

    def handle(self, method: str, raw_path: str, body: dict[str, Any] | None) -> tuple[int, Any]:
        parsed = urlparse(raw_path)
        query = parse_qs(parsed.query)
        with self._lock:
            self.requests.append(Recorded(method, parsed.path, query, body))
            if self._failures:
                status = self._failures.pop(0)
                return status, _error(status, "injected failure")
            match = _SECRET.match(parsed.path)
            if not match:
                return 404, _error(404, "unknown path")
            parent = f"projects/{match['p']}"
            name = f"{parent}/secrets/{match['s']}"
            rest = match["rest"]
            if match["s"] is None and method == "POST":
                return self._create(f"{parent}/secrets/{query['secretId'][0]}", body or {})
            secret = self.secrets.get(name)
            if secret is None:
                return 404, _error(404, f"Secret [{name}] not found or has no versions.")
            body = body or {}
            if method == "POST" and rest == ":addVersion":
                data = base64.b64decode(body["payload"]["data"])
                secret["versions"].append({"data": data, "state": "ENABLED"})
                number = len(secret["versions"])
                return 200, {"name": f"{name}/versions/{number}", "state": "ENABLED"}
            if method == "GET" and rest == "/versions":
                return 200, self._list(name, secret, query.get("filter", [""])[0])
            version = re.fullmatch(r"/versions/(latest|\d+):(access|disable)", rest)
            if version is not None:
                return self._version(name, secret, version[1], version[2], method)
            if method == "DELETE" and rest == "":
                del self.secrets[name]
                return 200, {}
            if method == "GET" and rest == ":getIamPolicy":
                return 200, secret["policy"]
            if method == "POST" and rest == ":setIamPolicy":
                policy = dict(body["policy"])
                if policy.get("etag") != secret["policy"]["etag"]:
                    return 409, _error(409, "etag mismatch", "ABORTED")
                policy["etag"] = _etag(next(self._etags))
                secret["policy"] = policy
                return 200, policy
            return 404, _error(404, f"unsupported {method} {parsed.path}")

    def disable(self, secret: str, number: int) -> None:
        """What ``gcloud secrets versions disable N`` does."""
        with self._lock:
            self.secrets[secret]["versions"][number - 1]["state"] = "DISABLED"

    def _list(self, name: str, secret: dict[str, Any], filter_text: str) -> dict[str, Any]:
        wanted = filter_text.partition("state:")[2].strip() or None
        listed = [
            {"name": f"{name}/versions/{n}", "state": v["state"]}
            for n, v in enumerate(secret["versions"], start=1)
            if wanted is None or v["state"] == wanted
        ]
        listed.reverse()  # newest first, as Secret Manager lists them
        return {"versions": listed, "totalSize": len(listed)} if listed else {}

    def _version(
        self, name: str, secret: dict[str, Any], which: str, verb: str, method: str
    ) -> tuple[int, Any]:
        versions = secret["versions"]
        number = len(versions) if which == "latest" else int(which)
        if not 1 <= number <= len(versions):
            return 404, _error(404, f"Secret Version [{name}/versions/{which}] not found.")
        version = versions[number - 1]
        full = f"{name}/versions/{number}"
        if verb == "disable" and method == "POST":
            version["state"] = "DISABLED"
            return 200, {"name": full, "state": "DISABLED"}
        if verb != "access" or method != "GET":
            return 404, _error(404, f"unsupported {method} {full}:{verb}")
        if version["state"] != "ENABLED":
            return 400, _error(
                400,
                f"Secret Version [{full}] is in {version['state']} state.",
                "FAILED_PRECONDITION",
            )
        return 200, {"name": full, "payload": {"data": base64.b64encode(version["data"]).decode()}}

    def _create(self, name: str, body: dict[str, Any]) -> tuple[int, Any]:
        if name in self.secrets:
            return 409, _error(409, f"Secret [{name}] already exists.", "ALREADY_EXISTS")
        self.secrets[name] = {
            "labels": dict(body.get("labels") or {}),
            "versions": [],
            "policy": {"version": 1, "etag": _etag(next(self._etags))},
        }
        return 200, {
            "name": name,
            "labels": body.get("labels") or {},
            "replication": body.get("replication"),
        }


def _etag(n: int) -> str:
    return base64.b64encode(f"etag-{n}".encode()).decode()


def _error(status: int, message: str, grpc_status: str = "") -> dict[str, Any]:
    statuses = {
        404: "NOT_FOUND",
        409: "ALREADY_EXISTS",
        503: "UNAVAILABLE",
        403: "PERMISSION_DENIED",
    }
    return {
        "error": {
            "code": status,
            "message": message,
            "status": grpc_status or statuses.get(status, "UNKNOWN"),
        }
    }


@contextmanager
def running_fake_secret_manager() -> Iterator[FakeSecretManager]:
    fake = FakeSecretManager()
    with serve(fake) as url:
        fake.url = url
        yield fake
