"""The join page tells learners clearly why they cannot join (issue 6 §3)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.learner import LearnerPage
from tests.e2e.platform_process import Instructor, PlatformUnderTest

pytestmark = pytest.mark.e2e

NOT_AVAILABLE = "No running workshop has that code"


def test_wrong_code_is_explained_and_the_join_page_is_captured(
    platform: PlatformUnderTest, context, artifacts: Path
) -> None:
    learner = LearnerPage(context.new_page(), platform.url)
    learner.open()
    expect(learner.page.get_by_role("heading", name="Join your workshop")).to_be_visible()
    learner.page.screenshot(path=str(artifacts / "join-page.png"))
    learner.join("zzzz-9999")
    assert NOT_AVAILABLE in learner.join_error()
    # Still on the join page, ready for another try.
    expect(learner.page.get_by_role("button", name="Join workshop")).to_be_enabled()


def test_stopped_workshop_says_no_running_workshop(
    platform: PlatformUnderTest, instructor: Instructor, context
) -> None:
    workshop = instructor.running_workshop("E2E stopped", seats=1)
    instructor.stop(workshop["id"])
    learner = LearnerPage(context.new_page(), platform.url)
    learner.open()
    learner.join(workshop["code"])
    assert NOT_AVAILABLE in learner.join_error()


def test_full_workshop_says_it_is_full(
    platform: PlatformUnderTest, instructor: Instructor, context
) -> None:
    workshop = instructor.running_workshop("E2E full", seats=1)
    taken = httpx.post(f"{platform.url}/api/join", json={"code": workshop["code"]}, timeout=10)
    assert taken.status_code == 200, taken.text
    learner = LearnerPage(context.new_page(), platform.url)
    learner.open()
    learner.join(workshop["code"])
    assert "This workshop is full" in learner.join_error()
