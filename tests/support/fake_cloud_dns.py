"""A small local fake of the Cloud DNS v1 REST API (``rrsets``), for ``CloudDnsRecords``.

Implements ``resourceRecordSets`` create (``POST .../rrsets``), get, patch and delete
(``.../rrsets/{name}/{type}``) for the managed zones it is given, with Cloud DNS's rules: names
are absolute (trailing dot) and inside the zone's ``dnsName``, a create of an existing
name/type is 409 ``alreadyExists``, a get/patch/delete of a missing one is 404 ``notFound``.
Every request is recorded (method, path, query, JSON body) for exact assertions;
``fail_next(status, times)`` answers the next requests with an error.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from tests.support.fake_gce import Recorded
from tests.support.rest_fake import serve

_TXT = re.compile(r'"[^"\\]{0,255}"')
_RRSETS = re.compile(
    r"^/dns/v1/projects/(?P<project>[^/]+)/managedZones/(?P<zone>[^/]+)/rrsets"
    r"(?:/(?P<name>[^/]+)/(?P<type>[A-Z]+))?$"
)


@dataclass
class FakeCloudDns:
    #: managed zone name -> its DNS name (with trailing dot), e.g. "ws" -> "ws.example.com."
    zones: dict[str, str] = field(default_factory=dict)
    #: (zone, name, type) -> the stored ResourceRecordSet
    records: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    url: str = ""
    _failures: list[int] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, status: int, times: int = 1) -> None:
        with self._lock:
            self._failures.extend([status] * times)

    def a_records(self) -> dict[str, list[str]]:
        """Every A record as ``{name: rrdatas}``."""
        with self._lock:
            return {
                name: list(r["rrdatas"])
                for (_, name, kind), r in self.records.items()
                if kind == "A"
            }

    def txt_records(self) -> dict[str, list[str]]:
        """Every TXT record as ``{name: unquoted strings}``."""
        with self._lock:
            return {
                name: [value[1:-1] for value in r["rrdatas"]]
                for (_, name, kind), r in self.records.items()
                if kind == "TXT"
            }

    def calls(self, method: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method]

    # ---------------------------------------------------------------- handling
    def handle(self, method: str, raw_path: str, body: dict[str, Any] | None) -> tuple[int, Any]:
        parsed = urlparse(raw_path)
        with self._lock:
            self.requests.append(Recorded(method, parsed.path, parse_qs(parsed.query), body))
            if self._failures:
                status = self._failures.pop(0)
                return status, _error(status, "injected", f"injected failure {status}")
            match = _RRSETS.match(parsed.path)
            if not match:
                return 404, _error(404, "notFound", f"unknown path {parsed.path}")
            zone = unquote(match["zone"])
            if zone not in self.zones:
                return 404, _error(
                    404,
                    "notFound",
                    f"The 'parameters.managedZone' resource named '{zone}' does not exist.",
                )
            if match["name"] is None:
                if method != "POST":
                    return 405, _error(405, "methodNotAllowed", method)
                return self._create(zone, body or {})
            key = (zone, unquote(match["name"]), match["type"])
            record = self.records.get(key)
            if record is None:
                return 404, _error(404, "notFound", f"'{key[1]} ({key[2]})' does not exist")
            if method == "GET":
                return 200, record
            if method == "PATCH":
                problem = self._invalid(zone, body or {})
                if problem or (body or {}).get("name") != key[1]:
                    return 400, _error(400, "invalid", problem or "name mismatch")
                self.records[key] = _rrset(body or {})
                return 200, self.records[key]
            if method == "DELETE":
                del self.records[key]
                return 200, {}
            return 405, _error(405, "methodNotAllowed", method)

    def _create(self, zone: str, body: dict[str, Any]) -> tuple[int, Any]:
        problem = self._invalid(zone, body)
        if problem:
            return 400, _error(400, "invalid", problem)
        key = (zone, body["name"], body["type"])
        if key in self.records:
            message = f"The resource named '{body['name']} ({body['type']})' already exists"
            return 409, _error(409, "alreadyExists", message)
        self.records[key] = _rrset(body)
        return 200, self.records[key]

    def _invalid(self, zone: str, body: dict[str, Any]) -> str:
        """Why Cloud DNS would refuse ``body`` (``""`` if it would not)."""
        name, kind = body.get("name", ""), body.get("type")
        if not name.endswith("."):
            return f"name {name!r} is not absolute (no trailing dot)"
        if not (name == self.zones[zone] or name.endswith("." + self.zones[zone])):
            return f"name {name!r} is not in zone {self.zones[zone]!r}"
        if kind not in ("A", "TXT"):
            return f"unsupported type {kind!r}"
        if not isinstance(body.get("ttl"), int) or body["ttl"] <= 0:
            return "ttl must be a positive integer"
        rrdatas = body.get("rrdatas")
        if not isinstance(rrdatas, list) or not rrdatas:
            return "rrdatas must be a non-empty list"
        if kind == "TXT":
            # Cloud DNS TXT rrdatas are quoted character-strings of at most 255 octets each.
            if not all(_TXT.fullmatch(str(value)) for value in rrdatas):
                return f"rrdatas {rrdatas!r} are not quoted TXT strings"
            return ""
        try:
            for ip in rrdatas:
                ipaddress.IPv4Address(ip)
        except ValueError:
            return f"rrdatas {rrdatas!r} are not IPv4 addresses"
        return ""


def _rrset(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "dns#resourceRecordSet",
        "name": body["name"],
        "type": body["type"],
        "ttl": body["ttl"],
        "rrdatas": list(body["rrdatas"]),
    }


def _error(status: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"domain": "global", "reason": reason, "message": message}],
        }
    }


@contextmanager
def running_fake_cloud_dns(zones: dict[str, str]) -> Iterator[FakeCloudDns]:
    """Serve a fake with ``zones`` (managed zone name -> DNS name with trailing dot)."""
    fake = FakeCloudDns(zones=dict(zones))
    with serve(fake) as url:
        fake.url = url
        yield fake
