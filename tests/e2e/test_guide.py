"""The learner's guide pane in Chromium (content packs, docs/content-packs.md): rendering,
sanitising a hostile pack, Copy and Run in terminal (bracketed paste; Enter only for a single
line), Next/Back with the position kept across a reload, and the Check button.

Runs against the stub platform (fake join, real agent) with a pack in the agent's
``content_dir``: the pack upload is the platform's part and is not needed here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.learner import LearnerPage
from tests.e2e.stub_platform import StubPlatform, stub_platform
from tests.support.seat_packs import write_pack

pytestmark = pytest.mark.e2e

WELCOME = """# Welcome to the guide

Run this first:

```sh
echo guide-$((6*7))
```

Then these two, together:

```sh
echo first-$((2+3))
echo second-$((3+4))
```
"""

# Every way a pack might try to run code on the learner's origin.
HOSTILE = """# Hostile page

<script>window.__xss = "script"</script>

<img src="x" onerror="window.__xss = 'onerror'">

[a javascript link](javascript:window.__xss='link')

<a href="javascript:window.__xss='anchor'">raw anchor</a>

<iframe src="javascript:parent.__xss='iframe'"></iframe>

<style>body { display: none !important; }</style>

<div style="position: fixed; inset: 0; background: red" id="overlay">styled</div>

<form action="https://evil.example/"><input name="code"><button>Send</button></form>

<svg><script>window.__xss = "svg"</script></svg>

[a real link](https://docs.anthropic.com/)

Plain **bold** text survives.
"""

STEPS: list[dict[str, object]] = [
    {"id": "welcome", "title": "Welcome"},
    {"id": "hostile", "title": "A hostile page"},
    {"id": "passes", "title": "A check that passes", "check": "checks/pass.sh"},
    {"id": "fails", "title": "A check that fails", "check": "checks/fail.sh"},
]


@pytest.fixture(scope="module")
def guided(web_dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[StubPlatform]:
    root = tmp_path_factory.mktemp("guided")
    pack = write_pack(
        root / "pack", title="Guide test", steps=STEPS, guides={0: WELCOME, 1: HOSTILE}
    )
    (root / "platform").mkdir()
    with stub_platform(root / "platform", web_dist, seats=8, content_dir=pack) as stub:
        yield stub


def joined(context: Any, platform: StubPlatform) -> LearnerPage:
    learner = LearnerPage(context.new_page(), platform.url)
    learner.open()
    learner.join(platform.code)
    learner.wait_connected()
    learner.wait_for_prompt()
    expect(learner.page.locator("#guide-pane")).to_be_visible()
    return learner


def test_the_guide_renders_and_keeps_its_place_across_a_reload(
    guided: StubPlatform, context: Any
) -> None:
    learner = joined(context, guided)
    page = learner.page
    expect(page.locator("#guide-title")).to_have_text("Guide test")
    expect(page.locator("#guide-step")).to_have_text("Step 1 of 4 · Welcome")
    expect(page.locator("#guide-body h1")).to_have_text("Welcome to the guide")
    expect(page.locator("#guide-back")).to_be_disabled()

    page.locator("#guide-next").click()
    expect(page.locator("#guide-step")).to_have_text("Step 2 of 4 · A hostile page")
    page.locator("#guide-next").click()
    page.locator("#guide-next").click()
    expect(page.locator("#guide-step")).to_have_text("Step 4 of 4 · A check that fails")
    expect(page.locator("#guide-next")).to_be_disabled()
    page.locator("#guide-back").click()
    expect(page.locator("#guide-step")).to_have_text("Step 3 of 4 · A check that passes")

    page.reload()
    learner.wait_connected()
    expect(page.locator("#guide-step")).to_have_text("Step 3 of 4 · A check that passes")

    # Collapsible: hidden, the terminal gets the room, and back.
    page.locator("#guide-collapse").click()
    expect(page.locator("#guide-pane")).to_be_hidden()
    page.locator("#guide-expand").click()
    expect(page.locator("#guide-pane")).to_be_visible()


def test_a_hostile_pack_is_sanitised(guided: StubPlatform, context: Any) -> None:
    learner = joined(context, guided)
    page = learner.page
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.locator("#guide-next").click()
    body = page.locator("#guide-body")
    expect(body.locator("strong")).to_have_text("bold")
    expect(body.get_by_text("a real link")).to_have_attribute("href", "https://docs.anthropic.com/")
    expect(body.get_by_text("a real link")).to_have_attribute("rel", "noopener noreferrer")
    for selector in ("script", "iframe", "style", "form", "input", "svg", "[onerror]", "[style]"):
        assert body.locator(selector).count() == 0, selector
    for text in ("a javascript link", "raw anchor"):
        assert body.get_by_text(text).get_attribute("href") is None, text
        body.get_by_text(text).click()
    assert page.locator("#overlay").get_attribute("style") is None
    assert page.evaluate("() => window.__xss") is None
    assert page.evaluate("() => getComputedStyle(document.body).display") != "none"
    assert dialogs == []


def test_copy_and_run_in_terminal(guided: StubPlatform, context: Any) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=guided.url)
    learner = joined(context, guided)
    page = learner.page
    blocks = page.locator("#guide-body .code-block")
    expect(blocks).to_have_count(2)

    blocks.nth(0).get_by_role("button", name="Copy").click()
    expect(blocks.nth(0).get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("() => navigator.clipboard.readText()") == "echo guide-$((6*7))"

    # One line: pasted and run.
    blocks.nth(0).get_by_role("button", name="Run in terminal").click()
    learner.wait_for_line("guide-42")

    # Several lines: pasted into the shell's line, nothing runs until the learner's Enter.
    run_both = blocks.nth(1).get_by_role("button", name="Run in terminal")
    run_both.click()
    learner.wait_for_text("echo second-$((3+4))")
    # Discard the pasted line and run a probe: had the paste run, its output would be first.
    page.keyboard.press("Control+c")
    page.keyboard.type("echo probe-$((1+1))")
    page.keyboard.press("Enter")
    learner.wait_for_line("probe-2")
    lines = [line.strip() for line in learner.terminal_text().split("\n")]
    assert "first-5" not in lines and "second-7" not in lines

    run_both.click()
    page.keyboard.press("Enter")  # the terminal has the focus after Run; typed after the paste
    learner.wait_for_line("first-5")
    learner.wait_for_line("second-7")
