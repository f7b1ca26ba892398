"""CORS for the API: an exact-match origin allowlist, bearer tokens only, no credentials.

Only an ``Origin`` that equals an entry of ``settings.allowed_origins`` (scheme, host and port)
is echoed back in ``Access-Control-Allow-Origin``; anything else gets no CORS headers at all,
so the browser withholds the response. ``*`` is never sent, and neither is
``Access-Control-Allow-Credentials``: the API authenticates with ``Authorization`` headers,
never cookies.
"""

from __future__ import annotations

from collections.abc import Iterable

ALLOWED_METHODS = "GET, POST, OPTIONS"
ALLOWED_HEADERS = "Authorization, Content-Type"
PREFLIGHT_MAX_AGE = "600"


def is_allowed(origin: str | None, allowed_origins: Iterable[str]) -> bool:
    return bool(origin) and origin != "null" and origin in set(allowed_origins)


def cors_headers(origin: str | None, allowed_origins: Iterable[str]) -> dict[str, str]:
    """Headers for an actual (non-preflight) response. ``Vary`` is always set for caches."""
    headers = {"Vary": "Origin"}
    if origin and is_allowed(origin, allowed_origins):
        headers["Access-Control-Allow-Origin"] = origin
        headers["Access-Control-Expose-Headers"] = "Retry-After"
    return headers


def preflight_headers(origin: str | None, allowed_origins: Iterable[str]) -> dict[str, str]:
    """Headers answering ``OPTIONS`` preflight; none of the ``Allow`` ones for a foreign origin."""
    headers = {"Vary": "Origin"}
    if origin and is_allowed(origin, allowed_origins):
        headers.update(
            {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": ALLOWED_METHODS,
                "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
            }
        )
    return headers
