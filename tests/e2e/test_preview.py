"""App preview in a real browser (docs/preview.md): the learner starts servers in their seat
from the web terminal, opens them from the Ports panel, and Chromium loads them at the
preview origin ``http://p<port>-s<seat>-<workshop>.localhost:<agent port>/`` (Chromium
resolves ``*.localhost`` to loopback), through the agent, into the seat's own network."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.platform_process import PlatformUnderTest
from tests.e2e.test_learner_journey import joined
from tests.support.net import free_port

pytestmark = pytest.mark.e2e
SERVERS = Path(__file__).resolve().parents[1] / "agent" / "seat_servers.py"


def test_a_learner_opens_their_dev_server_in_a_preview_of_its_own_origin(
    platform: PlatformUnderTest, workshop: dict[str, Any], context, tmp_path: Path
) -> None:
    learner = joined(context, platform, workshop)
    page = learner.page
    seat = learner.seat()
    app_port, static_port = free_port(), free_port()
    script = tmp_path / "servers.py"
    shutil.copy(SERVERS, script)
    (tmp_path / "hello.html").write_text("<h1 id=hello>static hello</h1>")
    page.locator("input[type=file]").set_input_files([str(script), str(tmp_path / "hello.html")])
    expect(page.locator('[role=treeitem][data-path="hello.html"]')).to_be_visible()
    learner.run(f"python3 servers.py {app_port} 0.0.0.0 &")
    learner.run(f"python3 -m http.server {static_port} --bind 127.0.0.1 &")

    page.locator("#ports-button").click()
    row = page.locator(f'#ports-panel .port-row[data-port="{app_port}"]')
    expect(row).to_be_visible(timeout=20_000)
    static_row = page.locator(f'#ports-panel .port-row[data-port="{static_port}"]')
    expect(static_row).to_be_visible(timeout=20_000)

    # python3 -m http.server, opened from the panel.
    with context.expect_page() as opened:
        static_row.get_by_role("button", name="Open").click()
    static = opened.value
    origin_pattern = rf"http://p{static_port}-s{seat}-[a-z0-9-]+\.localhost:\d+/$"
    expect(static).to_have_url(re.compile(origin_pattern), timeout=20_000)
    expect(static.get_by_text("Directory listing for /")).to_be_visible()
    static.goto(static.url + "hello.html")
    expect(static.locator("#hello")).to_have_text("static hello")
    assert static.evaluate("window.opener") is None

    # The WebSocket echo server, and what its page can see of the workspace.
    with context.expect_page() as opened:
        row.get_by_role("button", name="Open").click()
    preview = opened.value
    expect(preview).to_have_url(
        re.compile(rf"http://p{app_port}-s{seat}-[a-z0-9-]+\.localhost:\d+/$"), timeout=20_000
    )
    preview.goto(preview.url + "page")
    expect(preview.locator("#out")).to_contain_text('"echo"', timeout=15_000)
    seen = json.loads(preview.locator("#out").text_content() or "{}")
    workspace_origin = page.evaluate("location.origin")
    workspace_storage = page.evaluate("Object.keys(localStorage)")
    assert seen["echo"] == "ping-42", seen
    assert seen["origin"] != workspace_origin and seen["origin"] == preview.evaluate(
        "location.origin"
    )
    assert workspace_storage, "the workspace page keeps its session in localStorage"
    assert seen["storage"] == [] and seen["cookie"] == "", seen  # HttpOnly; other origin

    # The preview cookie belongs to that origin alone: another port's origin is a stranger.
    other = preview.url.replace(f"p{app_port}-", f"p{static_port + 1}-", 1).replace("/page", "/")
    response = preview.goto(other)
    assert response is not None and response.status == 401
    # Storage written by the preview stays on the preview's origin.
    preview.go_back()
    preview.evaluate("localStorage.setItem('from-preview', '1')")
    assert "from-preview" not in page.evaluate("Object.keys(localStorage)")
