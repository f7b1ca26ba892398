"""The cockpit's model controls in a real browser against ``clarateach local up`` whose
gateways talk to the fake Anthropic upstream: pausing ONE seat shows on its tile and refuses
that learner's gateway call (429) while another seat's call goes through; the learner's display
name shows on the tile as text; the refused call shows as a model error on the tile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.learner import LearnerPage
from tests.e2e.platform_process import local_platform
from tests.e2e.test_cockpit import TILE_DEADLINE_MS, tile
from tests.gateway.fake_upstream import FakeAnthropic

pytestmark = pytest.mark.e2e

XSS_LEARNER = '<img src=x onerror="window.__xss=3">Ada'
#: One Messages call through the seat's own gateway; prints ``code-<HTTP status>``.
GATEWAY_CALL = (
    "curl -s -o /dev/null -w 'code-%{http_code}\\n' -X POST \"$ANTHROPIC_BASE_URL/v1/messages\""
    " -H \"Authorization: Bearer $ANTHROPIC_AUTH_TOKEN\" -H 'content-type: application/json'"
    " -H 'anthropic-version: 2023-06-01'"
    ' -d \'{"model":"claude-haiku-4-5","max_tokens":8,'
    '"messages":[{"role":"user","content":"hi"}]}\''
)


def test_pausing_one_seat_refuses_only_that_learner(
    web_dist: Path,
    tmp_path_factory: pytest.TempPathFactory,
    fake_upstream: tuple[FakeAnthropic, str],
    browser: Any,
) -> None:
    fake, upstream = fake_upstream
    state_dir = tmp_path_factory.mktemp("cockpit-model")
    with local_platform(state_dir, web_dist, {"CLARATEACH_MODEL_UPSTREAM": upstream}) as running:
        instructor = running.instructor()
        try:
            workshop = instructor.running_workshop("Model controls", seats=2)
        finally:
            instructor.close()
        contexts = [browser.new_context() for _ in range(3)]
        try:
            learners = []
            for ctx, name in zip(contexts[:2], (XSS_LEARNER, ""), strict=True):
                learner = LearnerPage(ctx.new_page(), running.url)
                learner.open()
                learner.page.locator("#join-name").fill(name)
                learner.join_retrying_when_told_to_wait(workshop["code"])
                learner.wait_connected()
                learner.wait_for_prompt()
                learners.append(learner)
            paused, other = learners

            page = contexts[2].new_page()
            page.goto(f"{running.url}/instructor#token={running.admin_token}")
            page.locator('[data-action="open"]').click()
            seat = paused.seat()
            # The name is the learner's text: shown as typed, never as markup.
            expect(tile(page, seat).locator(".tile-name")).to_have_text(
                XSS_LEARNER, timeout=TILE_DEADLINE_MS
            )
            assert tile(page, seat).locator("img").count() == 0
            assert page.evaluate("() => window.__xss") is None

            tile(page, seat).locator('[data-action="pause-model"]').click()
            expect(tile(page, seat)).to_have_class("tile model-paused", timeout=TILE_DEADLINE_MS)
            expect(tile(page, seat)).to_contain_text("paused")
            expect(tile(page, other.seat())).not_to_contain_text("paused")

            paused.run(GATEWAY_CALL)
            paused.wait_for_line("code-429")
            other.run(GATEWAY_CALL)
            other.wait_for_line("code-200")
            assert len(fake.requests) == 1  # the paused seat's call never left the host

            # The refusal is counted for that seat and shows on its tile within a poll.
            expect(tile(page, seat).locator(".tile-errors")).to_have_text(
                "⚠ 1", timeout=TILE_DEADLINE_MS
            )
            expect(tile(page, other.seat()).locator(".tile-errors")).to_have_text("")
            page.locator("#filter-errors").check()
            expect(page.locator(".tile:visible")).to_have_count(1)
            page.locator("#filter-errors").uncheck()

            tile(page, seat).locator('[data-action="resume-model"]').click()
            expect(tile(page, seat).locator('[data-action="pause-model"]')).to_be_attached(
                timeout=TILE_DEADLINE_MS
            )
            paused.run(GATEWAY_CALL.replace("code-", "again-"))
            paused.wait_for_line("again-200")
        finally:
            for ctx in contexts:
                ctx.close()
