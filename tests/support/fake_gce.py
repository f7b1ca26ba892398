"""A small local fake of the Compute Engine REST API, for the real google-cloud-compute client.

Implements what ``GceCompute`` uses: instances insert/get/delete/list (with ``labels.k = "v"``
filters) and zoneOperations get/wait. Every request is recorded (method, path, query, JSON
body) so tests can assert exact request bodies. Failures are injected per operation kind:

* ``fail_http(kind, status, reason, message, times, domain)`` answers the next ``kind``
  request (``insert``/``get``/``delete``/``list``/``wait``) with an HTTP error in GCE's error
  shape (``domain`` is ``errors[].domain``: ``global``, or ``usageLimits`` for rate limits);
* ``rate_limit(kind, times)`` answers like a project over a per-minute API rate quota
  (https://cloud.google.com/compute/api-quota): 403, reason ``rateLimitExceeded``, domain
  ``usageLimits``, a message starting "Quota exceeded for quota metric";
* ``fail_operation(code, message, http_status)`` makes the next insert's *operation* end in
  error (how quota and stockout errors really arrive), creating nothing;
* ``operations_pending = True`` returns RUNNING operations that finish on ``wait``;
* ``quotas`` / ``project_quotas``: what ``regions.get`` and ``projects.get`` report as
  ``quotas[]`` (``{"metric", "limit", "usage"}``, the shape of
  https://cloud.google.com/compute/docs/reference/rest/v1/regions); by default roomy limits.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.support.rest_fake import serve

_REGION = re.compile(r"^/compute/v1/projects/(?P<project>[^/]+)/regions/(?P<region>[^/]+)$")
_PROJECT = re.compile(r"^/compute/v1/projects/(?P<project>[^/]+)$")
_BASE = re.compile(r"^/compute/v1/projects/(?P<project>[^/]+)/zones/(?P<zone>[^/]+)/(?P<rest>.*)$")


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any  # the JSON body (None for bodiless requests)


@dataclass
class _Failure:
    status: int
    reason: str
    message: str
    times: int
    domain: str = "global"


@dataclass
class FakeGce:
    instances: dict[str, dict[str, Any]] = field(default_factory=dict)
    operations: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    operations_pending: bool = False
    #: Whether new instances get an external IP (203.0.113.7, .8, ... in creation order).
    external_ips: bool = True
    url: str = ""
    #: Regional quotas (regions.get), metric -> (limit, usage).
    quotas: dict[str, tuple[float, float]] = field(
        default_factory=lambda: {
            "CPUS": (1000.0, 0.0),
            "IN_USE_ADDRESSES": (1000.0, 0.0),
            "SSD_TOTAL_GB": (100000.0, 0.0),
            "PREEMPTIBLE_CPUS": (0.0, 0.0),
        }
    )
    #: Project quotas (projects.get), metric -> (limit, usage).
    project_quotas: dict[str, tuple[float, float]] = field(
        default_factory=lambda: {"CPUS_ALL_REGIONS": (1000.0, 0.0)}
    )
    _http_failures: dict[str, list[_Failure]] = field(default_factory=dict)
    _operation_failures: list[tuple[str, str, int]] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _addresses: Iterator[int] = field(default_factory=lambda: itertools.count(7))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ------------------------------------------------------------- injection
    def fail_http(
        self,
        kind: str,
        status: int,
        reason: str,
        message: str,
        times: int = 1,
        domain: str = "global",
    ) -> None:
        with self._lock:
            self._http_failures.setdefault(kind, []).append(
                _Failure(status, reason, message, times, domain)
            )

    def rate_limit(self, kind: str, times: int = 1) -> None:
        """The next ``times`` ``kind`` requests exceed a per-minute rate quota, as GCE says it."""
        metric = "Read requests" if kind in ("get", "list", "wait") else "Queries"
        self.fail_http(
            kind,
            403,
            "rateLimitExceeded",
            f"Quota exceeded for quota metric '{metric}' and limit '{metric} per minute' of "
            "service 'compute.googleapis.com' for consumer 'project_number:123'.",
            times,
            domain="usageLimits",
        )

    def fail_operation(self, code: str, message: str, http_status: int = 403) -> None:
        with self._lock:
            self._operation_failures.append((code, message, http_status))

    # ---------------------------------------------------------------- queries
    def inserts(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and r.path.endswith("/instances")]

    def deletes(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "DELETE"]

    def external_ip(self, name: str) -> str | None:
        with self._lock:
            access = self.instances[name]["networkInterfaces"][0]["accessConfigs"][0]
            return access.get("natIP")

    def created_count(self, name: str) -> int:
        """How many inserts of ``name`` actually created an instance (not 409s)."""
        with self._lock:
            return sum(
                1
                for op in self.operations.values()
                if op["operationType"] == "insert"
                and op["targetLink"].endswith(f"/{name}")
                and "error" not in op
            )

    # ---------------------------------------------------------------- handling
    def handle(self, method: str, raw_path: str, body: dict[str, Any] | None) -> tuple[int, Any]:
        parsed = urlparse(raw_path)
        query = parse_qs(parsed.query)
        with self._lock:
            self.requests.append(Recorded(method, parsed.path, query, body))
            region = _REGION.match(parsed.path)
            if region and method == "GET":
                return 200, {
                    "kind": "compute#region",
                    "name": region["region"],
                    "status": "UP",
                    "quotas": _quota_list(self.quotas),
                }
            if _PROJECT.match(parsed.path) and method == "GET":
                return 200, {"kind": "compute#project", "quotas": _quota_list(self.project_quotas)}
            match = _BASE.match(parsed.path)
            if not match:
                return 404, _error(404, "notFound", f"unknown path {parsed.path}")
            project, zone, rest = match["project"], match["zone"], match["rest"]
            parts = rest.split("/")
            kind = _kind(method, parts)
            failure = self._take_failure(kind)
            if failure is not None:
                return failure.status, _error(
                    failure.status, failure.reason, failure.message, failure.domain
                )
            link = f"https://compute.googleapis.com/compute/v1/projects/{project}/zones/{zone}"
            if kind == "insert":
                return self._insert(link, zone, body or {})
            if kind == "list":
                return 200, self._list(query.get("filter", [""])[0])
            if kind in ("get", "delete"):
                name = parts[1]
                if name not in self.instances:
                    return 404, _error(
                        404, "notFound", f"The resource '{link}/instances/{name}' was not found"
                    )
                if kind == "get":
                    return 200, self.instances[name]
                del self.instances[name]
                return 200, self._operation("delete", f"{link}/instances/{name}", zone)
            if kind in ("operation", "wait"):
                op = self.operations.get(parts[1])
                if op is None:
                    return 404, _error(404, "notFound", "no such operation")
                if kind == "wait":
                    op["status"] = "DONE"
                return 200, op
            return 404, _error(404, "notFound", f"unsupported {method} {parsed.path}")

    def _take_failure(self, kind: str) -> _Failure | None:
        queue = self._http_failures.get(kind) or []
        if not queue:
            return None
        failure = queue[0]
        failure.times -= 1
        if failure.times <= 0:
            queue.pop(0)
        return failure

    def _insert(self, link: str, zone: str, body: dict[str, Any]) -> tuple[int, Any]:
        name = body.get("name", "")
        target = f"{link}/instances/{name}"
        if name in self.instances:
            return 409, _error(409, "alreadyExists", f"The resource '{target}' already exists")
        if self._operation_failures:
            code, message, http_status = self._operation_failures.pop(0)
            op = self._operation("insert", target, zone, status="DONE")
            op["error"] = {"errors": [{"code": code, "message": message}]}
            op["httpErrorStatusCode"] = http_status
            op["httpErrorMessage"] = "FORBIDDEN" if http_status == 403 else "ERROR"
            return 200, op
        access = {"natIP": f"203.0.113.{next(self._addresses)}"} if self.external_ips else {}
        self.instances[name] = {
            **body,
            "status": "RUNNING",
            "id": str(next(self._ids)),
            "selfLink": target,
            "zone": f"{link}",
            "networkInterfaces": [{"networkIP": "10.0.0.2", "accessConfigs": [access]}],
        }
        return 200, self._operation("insert", target, zone)

    def _list(self, filter_text: str) -> dict[str, Any]:
        wanted = dict(re.findall(r'labels\.([\w-]+)\s*=\s*"([^"]*)"', filter_text))
        items = [
            i
            for i in self.instances.values()
            if all((i.get("labels") or {}).get(k) == v for k, v in wanted.items())
        ]
        return {"kind": "compute#instanceList", "items": items}

    def _operation(self, op_type: str, target: str, zone: str, status: str | None = None) -> dict:
        name = f"operation-{next(self._ids)}"
        op = {
            "kind": "compute#operation",
            "name": name,
            "operationType": op_type,
            "targetLink": target,
            "zone": zone,
            "status": status or ("RUNNING" if self.operations_pending else "DONE"),
        }
        self.operations[name] = op
        return op


def _quota_list(quotas: dict[str, tuple[float, float]]) -> list[dict[str, Any]]:
    return [{"metric": m, "limit": lim, "usage": use} for m, (lim, use) in quotas.items()]


def _kind(method: str, parts: list[str]) -> str:
    if parts[0] == "instances":
        if len(parts) == 1:
            return "insert" if method == "POST" else "list"
        return {"GET": "get", "DELETE": "delete"}.get(method, "other")
    if parts[0] == "operations" and len(parts) >= 2:
        return "wait" if len(parts) == 3 and parts[2] == "wait" else "operation"
    return "other"


def _error(status: int, reason: str, message: str, domain: str = "global") -> dict[str, Any]:
    return {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"reason": reason, "message": message, "domain": domain}],
        }
    }


@contextmanager
def running_fake_gce() -> Iterator[FakeGce]:
    fake = FakeGce()
    with serve(fake) as url:
        fake.url = url
        yield fake
