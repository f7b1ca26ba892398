"""The join page tells learners clearly why they cannot join (issue 6 §3)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Route, expect

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


def test_wrong_reconnect_code_is_explained(
    platform: PlatformUnderTest, workshop: dict[str, Any], context
) -> None:
    learner = LearnerPage(context.new_page(), platform.url)
    learner.open()
    learner.rejoin(workshop["code"], "ZZZZZZ")
    error = learner.page.locator("#rejoin-error")
    expect(error).to_contain_text("reconnect code doesn't match")


def test_rate_limiting_shows_how_long_to_wait(platform: PlatformUnderTest, context) -> None:
    """The server's 429 is hard to provoke without locking out the other tests' client
    address, so the browser gets the exact response the protocol defines."""
    page = context.new_page()
    page.route(
        "**/api/join",
        lambda route: route.fulfill(
            status=429,
            headers={"Retry-After": "42", "Content-Type": "application/json"},
            body=json.dumps({"error": {"code": "rate_limited", "message": "slow down"}}),
        ),
    )
    learner = LearnerPage(page, platform.url)
    learner.open()
    learner.join("CLAUDE-ABCD")
    assert "wait 42 seconds" in learner.join_error()


def test_network_failure_is_explained_and_the_retry_reuses_the_nonce(
    platform: PlatformUnderTest, workshop: dict[str, Any], context
) -> None:
    page = context.new_page()
    nonces: list[str] = []

    def fail_once(route: Route) -> None:
        nonces.append(json.loads(route.request.post_data or "{}").get("client_nonce", ""))
        if len(nonces) == 1:
            route.abort("internetdisconnected")
        else:
            route.continue_()

    page.route("**/api/join", fail_once)
    learner = LearnerPage(page, platform.url)
    learner.open()
    learner.join(workshop["code"])
    assert "Can't reach ClaraTeach" in learner.join_error()
    page.get_by_role("button", name="Join workshop").click()
    learner.wait_connected()
    assert len(nonces) == 2
    assert nonces[0] and nonces[0] == nonces[1]
