"""App preview: a learner's dev server on port P of seat S, at an origin of its own.

``setup_preview(app, ctx)`` builds the pieces (origins, grants, reach, proxy), mounts the
API routes (``routes.py``) and returns the middleware that must run first: it sends every
request whose ``Host`` is a preview host to the proxy, before any agent route, and lets every
other request through to the agent's routes, which the proxy is never mounted among. See
docs/preview.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from workspace_agent.context import AgentContext
from workspace_agent.preview import pages
from workspace_agent.preview.grants import PreviewGrants
from workspace_agent.preview.origins import PreviewOrigins
from workspace_agent.preview.proxy import PreviewProxy
from workspace_agent.preview.reach import SeatReach
from workspace_agent.preview.routes import routes
from workspace_agent.preview.state import PREVIEW, Preview

__all__ = ["PREVIEW", "Preview", "setup_preview"]


def setup_preview(app: web.Application, ctx: AgentContext) -> Middleware:
    origins = PreviewOrigins(ctx.settings)
    grants = PreviewGrants(ctx.clock)
    reach = SeatReach(ctx.runtime, ctx.settings.port)
    proxy = PreviewProxy(ctx.settings, origins, grants, reach, ctx.auth, ctx.keys)
    preview = Preview(origins, grants, reach, proxy)
    app[PREVIEW] = preview
    app.add_routes(routes)
    app.cleanup_ctx.append(_preview_ctx)

    @web.middleware
    async def dispatch(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not origins.is_preview_host(request.host):
            return await handler(request)
        target = origins.parse(request.host)
        if target is None:
            return pages.not_found()
        return await proxy.handle(request, target)

    return dispatch


async def _preview_ctx(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[PREVIEW].proxy.close()
    await app[PREVIEW].reach.close()
