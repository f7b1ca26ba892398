"""Reading a workshop's host logs: local agent log files, or Cloud Logging on GCP.

* Local mode: each local host writes ``<state dir>/hosts/<host name>/agent.log``
  (``shared.adapters.local_compute``); host names are ``ct-<workshop>-h<n>``.
* GCP: hosts ship their journal (agent, startup script, Caddy, Docker) to Cloud Logging with
  the labels ``clarateach_workshop`` and ``clarateach_host`` (the Ops Agent configuration the
  startup script writes). They are read with ``entries.list``
  (https://cloud.google.com/logging/docs/reference/v2/rest/v2/entries/list): ``POST
  /v2/entries:list`` with ``resourceNames``, a ``filter``, ``orderBy`` and ``pageToken``
  paging; the caller needs ``roles/logging.viewer`` on the project.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.domain.model import host_name

LOGGING_ENDPOINT = "https://logging.googleapis.com"
READ_SCOPE = "https://www.googleapis.com/auth/logging.read"
WORKSHOP_LABEL = "clarateach_workshop"
HOST_LABEL = "clarateach_host"
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class LogLine:
    host: str
    text: str
    timestamp: str = ""
    severity: str = ""


def _checked(workshop_id: str) -> str:
    if not _ID.fullmatch(workshop_id):
        raise ValueError("a workshop id is letters, digits, '-' and '_' only")
    return workshop_id


def local_logs(state_dir: Path, workshop_id: str, host: int | None = None) -> Iterator[LogLine]:
    """Lines of the local agents' log files, host by host."""
    hosts_dir = state_dir / "hosts"
    if host is not None:
        paths = [hosts_dir / host_name(_checked(workshop_id), host) / "agent.log"]
    else:
        prefix = host_name(_checked(workshop_id), 0).rpartition("-h")[0] + "-h"
        paths = sorted(p / "agent.log" for p in hosts_dir.glob(f"{prefix}*") if p.is_dir())
    for path in paths:
        try:
            text = path.read_text(errors="replace")
        except FileNotFoundError:
            continue
        for line in text.splitlines():
            yield LogLine(path.parent.name, line)


def log_filter(workshop_id: str, host: int | None) -> str:
    parts = [f'labels.{WORKSHOP_LABEL}="{_checked(workshop_id)}"']
    if host is not None:
        parts.append(f'labels.{HOST_LABEL}="{int(host)}"')
    return " AND ".join(parts)


def cloud_logs(
    session: Any,
    project: str,
    workshop_id: str,
    host: int | None = None,
    *,
    endpoint: str | None = None,
    limit: int = 1000,
) -> list[LogLine]:
    """Up to ``limit`` entries, oldest first. ``session`` is a ``requests``-like session
    (``google.auth.transport.requests.AuthorizedSession`` in the CLI)."""
    body: dict[str, Any] = {
        "resourceNames": [f"projects/{project}"],
        "filter": log_filter(workshop_id, host),
        "orderBy": "timestamp asc",
        "pageSize": min(limit, 1000),
    }
    lines: list[LogLine] = []
    while len(lines) < limit:
        base = (endpoint or LOGGING_ENDPOINT).rstrip("/")
        response = session.post(f"{base}/v2/entries:list", json=body, timeout=30)
        if response.status_code != 200:
            raise RuntimeError(_error_text(response))
        page = response.json()
        lines.extend(_line(entry) for entry in page.get("entries", []))
        token = page.get("nextPageToken")
        if not token:
            break
        body["pageToken"] = token
    return lines[:limit]


def _line(entry: dict[str, Any]) -> LogLine:
    labels = entry.get("labels") or {}
    text = entry.get("textPayload")
    if text is None:
        payload = entry.get("jsonPayload") or {}
        text = str(payload.get("message") or payload.get("MESSAGE") or payload)
    return LogLine(
        host=f"h{labels.get(HOST_LABEL, '?')}",
        text=str(text),
        timestamp=str(entry.get("timestamp", "")),
        severity=str(entry.get("severity", "")),
    )


def _error_text(response: Any) -> str:
    try:
        message = response.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = f"HTTP {response.status_code}"
    return f"Cloud Logging refused the query: {str(message)[:300]}"
