"""Response headers for learner file content: never rendered on an origin we care about."""

from __future__ import annotations

import mimetypes
from urllib.parse import quote

# Types a browser would render as active content. Always downloads, never inline.
ACTIVE = (
    "text/html",
    "image/svg+xml",
    "application/xhtml+xml",
    "text/xml",
    "application/xml",
    "application/javascript",
    "text/javascript",
)
SANDBOX_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def content_headers(name: str, size: int) -> dict[str, str]:
    guessed, _ = mimetypes.guess_type(name, strict=False)
    ctype = guessed or "application/octet-stream"
    active = ctype in ACTIVE or ctype.endswith("+xml")
    disposition = "attachment" if active else "inline"
    return {
        "Content-Type": ctype,
        "Content-Length": str(size),
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(name, safe='')}",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": SANDBOX_CSP,
        "Cache-Control": "no-store",
    }
