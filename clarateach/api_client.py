"""A small synchronous client for the instructor API (docs/protocol.md section 1).

Every failure becomes one of two exceptions, so callers never see an ``httpx`` traceback:

* ``ApiError`` - the server answered with an error status; ``code``/``message`` come from its
  ``{"error": {"code", "message"}}`` body (or a generic text if the body is not ours);
* ``ApiUnreachable`` - no HTTP answer at all (connection refused, DNS, TLS, timeout).

The bearer token is sent only in the ``Authorization`` and ``X-Serverless-Authorization``
headers and never appears in either exception's text. Both carry the same token: Cloud Run
checks ``X-Serverless-Authorization`` on IAM-protected functions and strips its signature,
and passes ``Authorization`` through intact for the app's own check
(``shared.auth.instructor``; https://cloud.google.com/run/docs/authenticating/service-to-service).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from functions.entrypoints import entry_point_of

DEFAULT_TIMEOUT_SECONDS = 30.0


class ApiUnreachable(Exception):
    """No HTTP response was received from the API."""

    def __init__(self, base_url: str, reason: str) -> None:
        super().__init__(f"cannot reach API at {base_url}: {reason}")
        self.base_url = base_url
        self.reason = reason


@dataclass
class ApiError(Exception):
    """The API answered with a status >= 400."""

    status: int
    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.message} ({self.code}, HTTP {self.status})"

    def as_json(self) -> dict[str, Any]:
        return {"error": {**self.details, "code": self.code, "message": self.message}}


def _reason(exc: httpx.HTTPError) -> str:
    """A one-line, token-free description of a transport failure."""
    if isinstance(exc, httpx.ConnectError):
        return "connection refused or host unknown"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return type(exc).__name__


def _error_from(response: httpx.Response) -> ApiError:
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        details = {k: v for k, v in error.items() if k not in ("code", "message")}
        return ApiError(
            response.status_code, str(error.get("code", "error")), error["message"], details
        )
    text = response.reason_phrase or "error"
    return ApiError(response.status_code, "http_error", f"HTTP {response.status_code} {text}")


class ApiClient:
    """Instructor API calls. Methods return the decoded JSON body of a success response."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        transport: httpx.BaseTransport | None = None,
        function_urls: Mapping[str, str] | None = None,
    ) -> None:
        """``function_urls``: the split layout's function name -> base URL; a request naming
        its ``operation`` goes to the function serving it (``functions.entrypoints``), any
        other to ``base_url``."""
        self.base_url = base_url.rstrip("/")
        self.function_urls = {k: v.rstrip("/") for k, v in (function_urls or {}).items()}
        headers = {"Accept": "application/json", "User-Agent": "clarateach-cli"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
            headers["X-Serverless-Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url_for(self, operation: str | None) -> str:
        """The base URL serving ``operation`` (an operation id of the API)."""
        if operation is None or not self.function_urls:
            return self.base_url
        try:
            function = entry_point_of(operation)
        except KeyError:
            return self.base_url
        url = self.function_urls.get(function)
        if url is None:
            raise ApiUnreachable(self.base_url, f"no URL for the {function} function")
        return url

    def request(
        self, method: str, path: str, *, operation: str | None = None, **kwargs: Any
    ) -> Any:
        base = self.url_for(operation)
        try:
            response = self._http.request(method, base + path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiUnreachable(base, _reason(exc)) from None
        if response.status_code >= 400:
            raise _error_from(response)
        if not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            raise ApiError(
                response.status_code, "bad_response", "the server did not answer with JSON"
            ) from None

    # ------------------------------------------------------------------ workshops
    def create_workshop(
        self,
        name: str,
        seats: int,
        api_key: str,
        seats_per_host: int | None = None,
        schedule: dict[str, Any] | None = None,
        model_policy: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"name": name, "seats": seats, "api_key": api_key}
        if seats_per_host is not None:
            body["seats_per_host"] = seats_per_host
        if schedule:
            body["schedule"] = schedule
        if model_policy is not None:
            body["model_policy"] = model_policy
        return self._workshop(
            self.request("POST", "/api/workshops", operation="create_workshop", json=body)
        )

    def list_workshops(self, limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        body = self.request("GET", "/api/workshops", operation="list_workshops", params=params)
        return {
            "workshops": list(body.get("workshops") or []),
            "next_cursor": body.get("next_cursor"),
        }

    def get_workshop(self, workshop_id: str) -> dict[str, Any]:
        return self._workshop(self.request("GET", _path(workshop_id), operation="get_workshop"))

    def start_workshop(self, workshop_id: str) -> dict[str, Any]:
        return self._workshop(
            self.request("POST", _path(workshop_id, "start"), operation="start_workshop")
        )

    def stop_workshop(self, workshop_id: str) -> dict[str, Any]:
        return self._workshop(
            self.request("POST", _path(workshop_id, "stop"), operation="stop_workshop")
        )

    def change_schedule(self, workshop_id: str, change: dict[str, Any]) -> dict[str, Any]:
        """One of ``{"ends_at"}``, ``{"extend_minutes"}``, ``{"end_now": true}``."""
        return self._workshop(
            self.request(
                "POST", _path(workshop_id, "schedule"), operation="change_schedule", json=change
            )
        )

    def put_content(self, workshop_id: str, data: bytes) -> dict[str, Any]:
        """Upload a validated content pack zip (before the workshop starts)."""
        headers = {"Content-Type": "application/zip"}
        path = _path(workshop_id, "content")
        return dict(
            self.request("PUT", path, operation="put_content", content=data, headers=headers)
        )

    def progress(self, workshop_id: str) -> dict[str, Any]:
        return dict(self.request("GET", _path(workshop_id, "progress"), operation="get_progress"))

    def seats(self, workshop_id: str) -> dict[str, Any]:
        return dict(self.request("GET", _path(workshop_id, "seats"), operation="list_seats"))

    def usage(self, workshop_id: str) -> dict[str, Any]:
        return dict(self.request("GET", _path(workshop_id, "usage"), operation="get_usage"))

    def set_model_access(self, workshop_id: str, *, paused: bool) -> dict[str, Any]:
        return dict(
            self.request(
                "POST",
                _path(workshop_id, "model-access"),
                operation="set_model_access",
                json={"paused": paused},
            )
        )

    def shadow_token(self, workshop_id: str) -> dict[str, Any]:
        return dict(
            self.request("POST", _path(workshop_id, "shadow-token"), operation="shadow_token")
        )

    def health(self) -> dict[str, Any]:
        return dict(self.request("GET", "/api/health", operation="health"))

    @staticmethod
    def _workshop(body: Any) -> dict[str, Any]:
        workshop = body.get("workshop") if isinstance(body, dict) else None
        if not isinstance(workshop, dict):
            raise ApiError(200, "bad_response", "the server's answer has no workshop")
        return workshop


def _path(workshop_id: str, action: str | None = None) -> str:
    """``/api/workshops/<id>[/<action>]`` with the id percent-encoded (it is user input)."""
    base = f"/api/workshops/{quote(workshop_id, safe='')}"
    return f"{base}/{action}" if action else base
