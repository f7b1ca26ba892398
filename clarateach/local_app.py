"""The local platform's one aiohttp application: the web client and every ``/api`` route.

* ``/api/...`` is handed, unchanged, to ``functions.http.handle`` - the same router the Cloud
  Functions entry points call - in a thread pool, because the store and the services are
  synchronous. aiohttp only converts to ``ApiRequest`` and back.
* ``/config.json`` tells the web client to call the API on its own origin.
* everything else is the built web client (``web/dist``): ``/instructor`` is the cockpit's
  page (``instructor.html``), other unknown paths get ``index.html`` (client-side routes).
  If the client is not built, ``/`` explains how to build it.

Long-lived resources (the thread pool, the periodic reconciler) are owned by ``cleanup_ctx``
generators, so ``AppRunner.cleanup()`` ends them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from functions.wire import MAX_CONTENT_BYTES, ApiRequest, ApiResponse
from shared.bootstrap import Platform
from shared.http_body import read_capped

log = logging.getLogger(__name__)

#: Where the web helper's Vite build lands in a checkout.
DEFAULT_WEB_DIR = Path(__file__).resolve().parent.parent / "web" / "dist"
API_THREADS = 16
#: The cockpit's page in the build, served at ``/instructor`` (docs/cockpit.md).
COCKPIT_PAGE = "instructor.html"

PLATFORM = web.AppKey("platform", Platform)
WEB_DIR = web.AppKey("web_dir", Path)
EXECUTOR = web.AppKey("executor", ThreadPoolExecutor)
Router = Callable[[Platform, ApiRequest], ApiResponse]


@dataclass(frozen=True)
class _Routing:
    """What ``/api`` requests are dispatched to (``functions.http.handle`` unless a test says)."""

    router: Router


ROUTING = web.AppKey("routing", _Routing)

_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def create_app(
    platform: Platform,
    web_dir: Path = DEFAULT_WEB_DIR,
    *,
    router: Router | None = None,
    reconcile_every: float | None = None,
    reconcile: Callable[[Platform], object] | None = None,
) -> web.Application:
    """The application. ``router`` defaults to ``functions.http.handle``.

    With ``reconcile_every`` seconds and a ``reconcile`` callable, that callable runs
    periodically (in the thread pool) for as long as the app runs.
    """
    if router is None:
        from functions.http import handle

        router = handle
    app = web.Application(client_max_size=MAX_CONTENT_BYTES + 1)
    app[PLATFORM] = platform
    app[WEB_DIR] = web_dir.resolve()
    app[ROUTING] = _Routing(router)
    app.cleanup_ctx.append(_executor_ctx)
    if reconcile_every and reconcile is not None:
        app.cleanup_ctx.append(_periodic_ctx(reconcile, reconcile_every))
    app.router.add_route("*", "/api", api_handler)
    app.router.add_route("*", "/api/{tail:.*}", api_handler)
    app.router.add_get("/config.json", config_handler)
    app.router.add_get("/{tail:.*}", web_handler)
    return app


# ------------------------------------------------------------------------ lifecycle
async def _executor_ctx(app: web.Application) -> AsyncIterator[None]:
    executor = ThreadPoolExecutor(max_workers=API_THREADS, thread_name_prefix="api")
    app[EXECUTOR] = executor
    yield
    executor.shutdown(wait=True, cancel_futures=True)


def _periodic_ctx(
    job: Callable[[Platform], object], every: float
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(_every(app, job, every), name="reconciler")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return ctx


async def _every(app: web.Application, job: Callable[[Platform], object], every: float) -> None:
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(every)  # the schedule itself, like Cloud Scheduler's
        try:
            await loop.run_in_executor(app[EXECUTOR], job, app[PLATFORM])
        except Exception:
            log.exception("reconciler run failed; will run again")


# ------------------------------------------------------------------------------ API
async def api_handler(request: web.Request) -> web.StreamResponse:
    # One byte past the limit lets the router tell "too large" (413) from "at the limit".
    from functions.http import body_limit

    body = await read_capped(request, body_limit(request.method, request.path))
    api_request = ApiRequest(
        method=request.method,
        path=request.path,
        headers=dict(request.headers),
        query=dict(request.query),
        body=body,
        client_ip=request.remote or "",
    )
    app = request.app
    loop = asyncio.get_running_loop()
    response = await loop.run_in_executor(
        app[EXECUTOR], app[ROUTING].router, app[PLATFORM], api_request
    )
    return web.Response(status=response.status, body=response.body, headers=response.headers)


# ------------------------------------------------------------------------------ web
async def config_handler(request: web.Request) -> web.Response:
    """The built ``config.json`` with ``apiBaseUrl`` forced to "" (same origin as this server)."""
    config: dict[str, object] = {}
    try:
        loaded = json.loads((request.app[WEB_DIR] / "config.json").read_text())
        if isinstance(loaded, dict):
            config = loaded
    except (OSError, ValueError):
        pass
    config["apiBaseUrl"] = ""
    return web.json_response(config, headers={"Cache-Control": "no-store", **_SECURITY_HEADERS})


async def web_handler(request: web.Request) -> web.StreamResponse:
    root: Path = request.app[WEB_DIR]
    index = root / "index.html"
    if not index.is_file():
        return web.Response(
            status=503, text=NOT_BUILT_PAGE, content_type="text/html", headers=_SECURITY_HEADERS
        )
    tail = request.match_info.get("tail", "")
    target = resolve_static(root, tail)
    if tail.rstrip("/") == "instructor" and (root / COCKPIT_PAGE).is_file():
        target = root / COCKPIT_PAGE  # the cockpit is a page of its own (its own CSP)
    if target is None:
        # Not a file: a client-side route gets the app; a missing asset gets a real 404.
        if Path(request.path).suffix:
            raise web.HTTPNotFound()
        target = index
    # Vite fingerprints everything under assets/; the rest (index.html) must be revalidated.
    cache = "public, max-age=31536000, immutable" if target.parent.name == "assets" else "no-cache"
    return web.FileResponse(target, headers={"Cache-Control": cache, **_SECURITY_HEADERS})


def resolve_static(root: Path, tail: str) -> Path | None:
    """The file under ``root`` that ``tail`` names, or ``None``: never a path outside ``root``."""
    if not tail or "\x00" in tail:
        return None
    try:
        candidate = (root / tail).resolve()
    except (OSError, RuntimeError):
        return None
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


NOT_BUILT_PAGE = """<!doctype html>
<meta charset="utf-8"><title>ClaraTeach - web client not built</title>
<body style="font-family: system-ui, sans-serif; max-width: 40em; margin: 4em auto">
<h1>The web client is not built yet</h1>
<p>The API is running (<a href="/api/health">/api/health</a>), but <code>web/dist</code> is
missing. Build it once, then reload this page:</p>
<pre>cd web &amp;&amp; npm ci &amp;&amp; npm run build</pre>
<p>or start everything with <code>./dev up --demo</code> (runs <code>nox -s dev</code>, which
builds the client for you).</p>
</body>
"""
