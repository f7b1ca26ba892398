"""The cockpit opens a learner's *shared* app preview (docs/preview.md "Sharing").

A learner starts ``python3 -m http.server`` twice in their seat and shares one port in the
Ports panel; the instructor's shadow pane of that seat lists only the shared, listening
port, and its Open button loads the learner's server at the preview origin in a window cut
off from the cockpit (``opener`` is null). The unshared port is neither listed nor openable
with the instructor's token.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.test_cockpit import _local, sign_in, tile
from tests.e2e.test_learner_journey import joined
from tests.support.net import free_port

pytestmark = pytest.mark.e2e
PREVIEW_LIST_MS = 20_000  # the ports are polled every 3 s; room for a loaded machine


def test_the_instructor_opens_a_shared_preview_from_the_shadow(
    platform: Any, workshop: dict[str, Any], context: Any, browser: Any
) -> None:
    running = _local(platform)
    learner = joined(context, platform, workshop)
    seat = learner.seat()
    shared_port, private_port = free_port(), free_port()
    learner.run(f"mkdir -p site && echo '<h1 id=mine>seat {seat} app</h1>' > site/index.html")
    learner.run(f"python3 -m http.server {shared_port} --bind 127.0.0.1 -d site &")
    learner.run(f"python3 -m http.server {private_port} --bind 127.0.0.1 &")
    page = learner.page
    page.locator("#ports-button").click()
    for port in (shared_port, private_port):
        expect(page.locator(f'#ports-panel .port-row[data-port="{port}"]')).to_be_visible(
            timeout=PREVIEW_LIST_MS
        )
    page.locator(f'#ports-panel input[type=checkbox][data-port="{shared_port}"]').check()

    cockpit_ctx = browser.new_context(viewport={"width": 1360, "height": 900})
    cockpit_ctx.set_default_timeout(15_000)
    try:
        cockpit = cockpit_ctx.new_page()
        sign_in(cockpit, running)
        cockpit.locator(f'tr[data-workshop="{workshop["id"]}"] [data-action="open"]').click()
        tile(cockpit, seat).click()
        pane = cockpit.locator(f'.shadow-pane[data-seat="{seat}"]')
        entry = pane.locator(f'.shadow-preview[data-port="{shared_port}"]')
        expect(entry).to_be_visible(timeout=PREVIEW_LIST_MS)
        expect(pane.locator(".shadow-preview")).to_have_count(1)  # the private port: absent
        assert pane.locator(f'.shadow-preview[data-port="{private_port}"]').count() == 0

        with cockpit_ctx.expect_page() as opened:
            entry.get_by_role("button", name=re.compile("Open")).click()
        preview = opened.value
        expect(preview).to_have_url(
            re.compile(rf"http://p{shared_port}-s{seat}-[a-z0-9-]+\.localhost:\d+/$"),
            timeout=20_000,
        )
        expect(preview.locator("#mine")).to_have_text(f"seat {seat} app")
        assert preview.evaluate("window.opener") is None
        assert preview.evaluate("location.origin") != cockpit.evaluate("location.origin")

        # The unshared port: the instructor's token is refused, whatever the page does.
        with httpx.Client(timeout=15) as http:
            grant = http.post(
                f"{running.url}/api/workshops/{workshop['id']}/shadow-token",
                headers={"Authorization": f"Bearer {running.admin_token}"},
            )
            assert grant.status_code == 200, grant.text
            body = grant.json()
            endpoint = next(
                h["endpoint"] for h in body["hosts"] if h["seat_first"] <= seat <= h["seat_last"]
            )
            auth = {"Authorization": f"Bearer {body['token']}"}
            refused = http.post(
                f"{endpoint}/seats/{seat}/preview/ports/{private_port}/open", headers=auth
            )
            assert refused.status_code == 403, refused.text
            assert refused.json()["error"]["code"] == "not_shared"

        # The learner stops sharing: the entry leaves the shadow pane.
        page.locator(f'#ports-panel input[type=checkbox][data-port="{shared_port}"]').uncheck()
        expect(pane.locator(".shadow-preview")).to_have_count(0, timeout=PREVIEW_LIST_MS)
        expect(pane.locator(".shadow-previews-empty")).to_be_visible()
    finally:
        cockpit_ctx.close()
