"""A small local fake of the Secret Manager v1 REST API, for the real client's REST transport.

Implements secrets create/delete, ``:addVersion``, ``versions/latest:access`` and the
per-secret ``:getIamPolicy``/``:setIamPolicy``. Every request is recorded (method, path, query,
JSON body) for exact assertions; ``fail_next(status)`` answers the next request with an error.
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
    #: secret resource name -> {"labels": {...}, "versions": [bytes], "policy": {...}}
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
                secret["versions"].append(base64.b64decode(body["payload"]["data"]))
                number = len(secret["versions"])
                return 200, {"name": f"{name}/versions/{number}", "state": "ENABLED"}
            if method == "GET" and rest == "/versions/latest:access":
                if not secret["versions"]:
                    return 404, _error(404, f"Secret [{name}] not found or has no versions.")
                number = len(secret["versions"])
                data = base64.b64encode(secret["versions"][-1]).decode()
                return 200, {"name": f"{name}/versions/{number}", "payload": {"data": data}}
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
