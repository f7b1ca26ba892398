"""The agent's own pages on a preview origin: static text, never anything a learner wrote.

Only integers (a port number) are filled in, and escaped regardless. Each page forbids
scripts (``default-src 'none'``) and caching.
"""

from __future__ import annotations

import html

from aiohttp import web

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;
color:#222}}code{{background:#eee;padding:0 .25em;border-radius:3px}}</style></head>
<body><h1>{title}</h1><p>{body}</p><p><small>ClaraTeach app preview</small></p></body></html>
"""

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def page(status: int, code: str, title: str, body_html: str) -> web.Response:
    """``body_html`` is trusted markup written in this module, never request data."""
    text = _TEMPLATE.format(title=html.escape(title), body=body_html)
    headers = {**HEADERS, "X-ClaraTeach-Preview-Error": code}
    return web.Response(
        status=status, text=text, content_type="text/html", charset="utf-8", headers=headers
    )


def no_listener(port: int) -> web.Response:
    p = html.escape(str(int(port)))
    return page(
        502,
        "no_listener",
        f"Nothing is listening on port {p}",
        f"nothing is listening on port {p} in your seat; start your server with "
        "<code>--host 0.0.0.0</code> or <code>127.0.0.1</code> (and this port), then reload.",
    )


def no_shell() -> web.Response:
    return page(
        502,
        "no_shell",
        "Your seat is not running",
        "your seat has no running shell right now; open its terminal, start your server, "
        "then reload.",
    )


def unauthorized() -> web.Response:
    return page(
        401,
        "unauthorized",
        "Open this preview from your workspace",
        "this preview is private to its seat. Open it from the Ports panel of your workspace "
        "page (an instructor sees it once the learner shares the port).",
    )


def token_in_url() -> web.Response:
    return page(
        400,
        "token_in_url",
        "Tokens do not belong in URLs",
        "this address carries a ClaraTeach sign-in token, which previews never accept. Close "
        "it and open the preview from the Ports panel of your workspace page.",
    )


def cross_origin() -> web.Response:
    return page(
        403,
        "cross_origin",
        "Refused: another page's request",
        "WebSockets and form posts to a preview are accepted only from the preview's own pages.",
    )


def not_found() -> web.Response:
    return page(404, "not_found", "No such preview", "this host serves no such seat or port.")


def busy() -> web.Response:
    return page(
        503,
        "busy",
        "Too many requests at once",
        "this seat's preview has too many requests in flight; wait a moment and reload.",
    )


def too_large() -> web.Response:
    return page(413, "too_large", "Request too large", "the request body is too large.")


def timeout() -> web.Response:
    return page(504, "timeout", "Your server did not answer", "your server did not answer in time.")


def bad_gateway() -> web.Response:
    return page(
        502, "bad_gateway", "Your server's answer was not understood", "reload to try again."
    )
