"""The framework-neutral request and response the router speaks.

Both the functions-framework entry points (Flask) and the local platform's aiohttp server
convert to ``ApiRequest`` and from ``ApiResponse``; nothing below them sees a web framework.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Requests larger than this are refused with 413 before parsing (instructor/join bodies are tiny).
MAX_BODY_BYTES = 64 * 1024
#: The one larger body: a content pack upload (``PUT /api/workshops/{id}/content``), the
#: pack's own archive limit (``shared.content.PackLimits.max_archive_bytes``).
MAX_CONTENT_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class ApiRequest:
    method: str
    path: str
    #: Header names are matched case-insensitively (``header()``).
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    #: The caller's address as the entry point determined it (rate limiting key).
    client_ip: str = ""

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)


@dataclass
class ApiResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The body parsed as JSON (tests and the local server's logging)."""
        return json.loads(self.body) if self.body else None


def json_response(
    status: int, payload: Any, headers: Mapping[str, str] | None = None
) -> ApiResponse:
    # ASCII escapes: a lone surrogate from a hostile body can never make encoding fail.
    body = json.dumps(payload, separators=(",", ":")).encode()
    merged = {
        "Content-Type": "application/json",
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        **(headers or {}),
    }
    return ApiResponse(status, body, merged)
