"""The demo's example pack (``examples/claude-code-101``) walked end to end in Chromium.

``clarateach local up`` with its gateways pointed at the fake Anthropic upstream; the
instructor creates a workshop and uploads the pack exactly as ``./dev up --demo`` does
(``demo_content_zip`` through ``ApiClient.put_content``), then starts it. A learner joins and
does every step in the guide pane: the starter files are in the file tree and in ``ls``; Next
and Back; a real ``claude -p`` through the seat's gateway; CLAUDE.md, the fix of the failing
test and the commit, typed in the terminal. Every Check is clicked before its condition holds
(and fails with the script's message), then after it (and passes). The instructor sees the
progress through ``GET /api/workshops/{id}/progress`` and on the cockpit tile.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from clarateach.api_client import ApiClient
from clarateach.local_platform import demo_content_zip
from tests.e2e.learner import LearnerPage
from tests.e2e.platform_process import FAKE_API_KEY, RunningPlatform, local_platform
from tests.gateway.fake_upstream import FakeAnthropic
from tests.support.wait import wait_for

pytestmark = pytest.mark.e2e

#: Claude Code's cold start in a fresh seat, plus the round trip, on a loaded machine.
CLAUDE_ANSWER_TIMEOUT_MS = 90_000
#: A check runs a script in the seat (the tests-pass one runs unittest) on a loaded machine.
CHECK_TIMEOUT_MS = 60_000
PROGRESS_TIMEOUT_S = 30.0
STEP_IDS = ["explore", "explain", "claude-md", "fix-test", "commit"]


def check(page: Page, verdict: str, message: str | re.Pattern[str]) -> None:
    """Click this step's Check; wait for ``verdict`` with the script's ``message``."""
    page.locator("#guide-check").click()
    result = page.locator("#check-result")
    expect(result.locator("#check-message")).to_contain_text(message, timeout=CHECK_TIMEOUT_MS)
    expect(result.locator("#check-verdict")).to_have_text(verdict)
    expect(result).to_have_attribute("data-result", "pass" if verdict == "Passed" else "fail")


def step_line(page: Page, number: int, title: str) -> None:
    expect(page.locator("#guide-step")).to_have_text(
        re.compile(rf"^Step {number} of 5 · {re.escape(title)}( ✓)?$")
    )


def run_and_wait(learner: LearnerPage, command: str, marker: str) -> None:
    """Run ``command`` then an ``echo`` whose output (not its echo) is ``marker-<n>``."""
    learner.run(f"{command}; echo {marker}-$((40+2))")
    learner.wait_for_line(f"{marker}-42")


def test_the_example_pack_walks_through_in_the_browser(
    web_dist: Path,
    tmp_path_factory: pytest.TempPathFactory,
    fake_upstream: tuple[FakeAnthropic, str],
    browser: Any,
) -> None:
    fake, upstream = fake_upstream
    state_dir = tmp_path_factory.mktemp("pack-platform")
    with local_platform(state_dir, web_dist, {"CLARATEACH_MODEL_UPSTREAM": upstream}) as running:
        workshop = _demo_like_workshop(running)
        context = browser.new_context(viewport={"width": 1360, "height": 860})
        context.set_default_timeout(15_000)
        try:
            learner = LearnerPage(context.new_page(), running.url)
            seat = _walk(learner, workshop["code"], fake)
            _instructor_sees_progress(running, context, workshop, seat)
        finally:
            context.close()
    assert any(r.path == "/v1/messages" for r in fake.requests)


def _demo_like_workshop(running: RunningPlatform) -> dict[str, Any]:
    """Create, upload the pack and start, through the same client calls as the demo."""
    instructor = running.instructor()
    try:
        with ApiClient(running.url, running.admin_token) as client:
            created = client.create_workshop("Pack walk", 1, FAKE_API_KEY)
            content = client.put_content(created["id"], demo_content_zip())["content"]
        assert content["title"] == "Claude Code 101"
        return instructor.start(created["id"])
    finally:
        instructor.close()


def _walk(learner: LearnerPage, code: str, fake: FakeAnthropic) -> int:
    page = learner.page
    learner.open()
    learner.join(code)
    learner.wait_connected()
    learner.wait_for_prompt()
    seat = learner.seat()

    # 1. Explore: the starter repo is in the tree and in the shell; no check on this step.
    expect(page.locator("#guide-title")).to_have_text("Claude Code 101")
    step_line(page, 1, "Explore the starter repo")
    expect(page.locator("#guide-body h1")).to_have_text("Explore the starter repo")
    expect(page.locator("#guide-back")).to_be_disabled()
    expect(page.locator("#guide-check")).to_be_hidden()
    for path in ("README.md", "textstats", "tests"):
        expect(page.locator(f'[role=treeitem][data-path="{path}"]')).to_be_visible()
    run_and_wait(learner, "ls -1", "listed")
    for name in ("README.md", "textstats", "tests"):
        learner.wait_for_line(name)
    run_and_wait(learner, "git log --format=%s", "logged")
    learner.wait_for_line("initial")

    # Next and Back.
    page.locator("#guide-next").click()
    step_line(page, 2, "Ask Claude to explain a function")
    page.locator("#guide-back").click()
    step_line(page, 1, "Explore the starter repo")
    page.locator("#guide-next").click()

    # 2. Explain: fails until this seat has used Claude, then passes after a real `claude -p`.
    step_line(page, 2, "Ask Claude to explain a function")
    check(page, "Not yet", "No model requests from this seat yet")
    learner.run("claude -p 'Explain top_words in textstats/core.py'")
    try:
        # The answer's start: the whole of it wraps across terminal lines.
        learner.wait_for_text(fake.text().strip()[:30], timeout_ms=CLAUDE_ANSWER_TIMEOUT_MS)
    except PlaywrightTimeout as exc:
        raise AssertionError(f"no answer from Claude:\n{learner.terminal_text()}") from exc
    learner.wait_for_prompt()
    check(page, "Passed", re.compile(r"Claude has answered \d+ request\(s\) in this seat\."))
    step_line(page, 2, "Ask Claude to explain a function ✓")

    # 3. CLAUDE.md: missing, then without the test command, then right.
    page.locator("#guide-next").click()
    step_line(page, 3, "Write CLAUDE.md")
    check(page, "Not yet", "There is no CLAUDE.md in the project root yet.")
    run_and_wait(learner, "printf '# textstats\\n' > CLAUDE.md", "wrote")
    check(page, "Not yet", "CLAUDE.md exists but does not mention the test command")
    run_and_wait(learner, "printf 'Run the tests: python3 -m unittest -v\\n' >> CLAUDE.md", "more")
    check(page, "Passed", "CLAUDE.md is there and says how to run the tests.")

    # 4. Fix the failing test (by hand: the fake upstream cannot fix code).
    page.locator("#guide-next").click()
    step_line(page, 4, "Have Claude fix a failing test")
    check(page, "Not yet", "test_punctuation_collapses_to_one_dash")
    expect(page.locator("#check-message")).to_contain_text("The tests still fail:")
    run_and_wait(learner, "sed -i 's/\\[^a-z0-9\\]\"/[^a-z0-9]+\"/' textstats/core.py", "fixed")
    check(page, "Passed", "All tests pass.")

    # 5. Commit.
    page.locator("#guide-next").click()
    step_line(page, 5, "Commit your work")
    expect(page.locator("#guide-next")).to_be_disabled()
    check(page, "Not yet", "No commit yet besides 'initial'")
    expect(page.locator("#guide-body")).to_contain_text('git config user.email "you@example.com"')
    # The guide's first block: without an identity, git refuses to commit in a fresh seat.
    run_and_wait(learner, "git config user.name 'Ada Learner'", "named")
    run_and_wait(learner, "git config user.email ada@example.com", "mailed")
    run_and_wait(learner, "git add -A && git commit -q -m 'Fix slugify and add CLAUDE.md'", "done")
    check(page, "Passed", "Committed: Fix slugify and add CLAUDE.md")
    return seat


def _instructor_sees_progress(
    running: RunningPlatform, context: Any, workshop: dict[str, Any], seat: int
) -> None:
    with ApiClient(running.url, running.admin_token) as client:

        def reached() -> dict[str, Any] | None:
            found = client.progress(workshop["id"])
            entry = next((s for s in found["seats"] if s["seat"] == seat), None)
            done = entry and entry["step"] == 4 and len(entry["checks_passed"]) == 4
            return found if done else None

        progress = wait_for(
            reached, timeout=PROGRESS_TIMEOUT_S, interval=0.2, message="progress via the API"
        )
    (entry,) = [s for s in progress["seats"] if s["seat"] == seat]
    assert sorted(entry["checks_passed"]) == sorted(STEP_IDS[1:])
    assert [row["seats"] for row in progress["histogram"]] == [0, 0, 0, 0, 1]

    page = context.new_page()
    page.goto(f"{running.url}/instructor#token={running.admin_token}")
    row = page.locator("tr[data-workshop]").filter(has_text="Pack walk")
    row.locator('[data-action="open"]').click()
    tile = page.locator(f'.tile[data-seat="{seat}"]')
    expect(tile.locator(".tile-step")).to_have_text("step 5/5 · 4✓", timeout=30_000)
