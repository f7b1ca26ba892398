"""Browser-side security properties: the token never travels in a URL, and learner HTML
is shown as text, never rendered on the client's origin."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.learner import LearnerPage
from tests.e2e.platform_process import PlatformUnderTest

pytestmark = pytest.mark.e2e


def test_the_token_never_appears_in_a_url(
    platform: PlatformUnderTest, workshop: dict[str, Any], context
) -> None:
    page = context.new_page()
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    page.on("websocket", lambda ws: urls.append(ws.url))
    learner = LearnerPage(page, platform.url)
    learner.open()
    learner.join(workshop["code"])
    learner.wait_for_prompt()
    learner.run("echo files > seen.txt && echo written-seen")
    learner.wait_for_line("written-seen")
    page.get_by_role("button", name="Refresh file list").click()
    page.locator('[role=treeitem][data-path="seen.txt"] .tree-label').click()
    expect(learner.tab("seen.txt")).to_be_visible()

    token = page.evaluate("() => JSON.parse(localStorage['clarateach.session.v1']).token")
    assert token.count(".") == 2
    assert any("/seats/" in url and url.startswith("ws") for url in urls)
    assert any("/files/content" in url for url in urls)
    leaked = [url for url in urls if token in url or token.split(".")[2] in url]
    assert leaked == []


def test_learner_html_is_shown_as_text_not_rendered(
    platform: PlatformUnderTest, workshop: dict[str, Any], context
) -> None:
    learner = LearnerPage(context.new_page(), platform.url)
    learner.open()
    learner.join(workshop["code"])
    learner.wait_for_prompt()
    name = f"page-{secrets.token_hex(3)}.html"
    payload = "<img src=x onerror=window.__pwned=1><script>window.__pwned=1</script>"
    learner.run(f"printf '%s\\n' '{payload}' > {name} && echo written-{name}")
    learner.wait_for_line(f"written-{name}")
    learner.page.get_by_role("button", name="Refresh file list").click()
    learner.page.locator(f'[role=treeitem][data-path="{name}"] .tree-label').click()
    editor = learner.page.locator(".cm-content")
    expect(editor).to_contain_text("<script>window.__pwned=1</script>")
    assert learner.page.evaluate("() => window.__pwned") is None
    assert learner.page.locator("img[src=x]").count() == 0
