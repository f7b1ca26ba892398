"""Claude Code end to end, once: ``clarateach local up`` (which installs the pinned Claude
Code for its seats) with its agents' gateways pointed at the fake Anthropic upstream; a
learner joins in Chromium, types ``claude -p hello`` in the web terminal and sees the fake's
answer on the screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from clarateach.claude_code import pinned_version
from tests.e2e.learner import LearnerPage
from tests.e2e.platform_process import FAKE_API_KEY, local_platform
from tests.gateway.fake_upstream import FakeAnthropic

pytestmark = pytest.mark.e2e

#: Claude Code's cold start in a fresh seat, plus the round trip, on a loaded machine.
CLAUDE_ANSWER_TIMEOUT_MS = 90_000


def test_claude_p_hello_in_the_web_terminal_shows_the_fakes_answer(
    web_dist: Path,
    tmp_path_factory: pytest.TempPathFactory,
    fake_upstream: tuple[FakeAnthropic, str],
    browser: Any,
) -> None:
    fake, upstream = fake_upstream
    state_dir = tmp_path_factory.mktemp("claude-platform")
    with local_platform(state_dir, web_dist, {"CLARATEACH_MODEL_UPSTREAM": upstream}) as running:
        banner = running.log_path.read_text()
        assert f"Claude Code:      {pinned_version()}" in banner, banner  # local up printed it
        instructor = running.instructor()
        try:
            workshop = instructor.running_workshop("Claude e2e", seats=1)
        finally:
            instructor.close()
        context = browser.new_context()
        try:
            learner = LearnerPage(context.new_page(), running.url)
            learner.open()
            learner.join(workshop["code"])
            learner.wait_connected()
            learner.wait_for_prompt()

            learner.run("claude -p hello")

            learner.wait_for_text(fake.text().strip(), timeout_ms=CLAUDE_ANSWER_TIMEOUT_MS)
            assert "login" not in learner.terminal_text().lower()
        finally:
            context.close()
    messages = [r for r in fake.requests if r.path == "/v1/messages"]
    assert len(messages) == 1
    assert messages[0].headers["x-api-key"] == FAKE_API_KEY  # the gateway added the key
