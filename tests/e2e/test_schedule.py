"""The workshop's end in a real browser, on Playwright's fake clock in the page: the header
countdown, the 15- and 5-minute warnings (page banner and terminal status line, never in the
shell), an extension clearing them, and "Workshop ended — download your work" in the grace."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.platform_process import Instructor, PlatformUnderTest
from tests.e2e.test_learner_journey import joined

pytestmark = pytest.mark.e2e
SECOND = 1000
MINUTE = 60 * SECOND


def ms_until(page: Any, when: str, offset_ms: int) -> int:
    """Milliseconds of page time from now until ``when`` + ``offset_ms``."""
    now = page.evaluate("() => Date.now()")
    return int(datetime.fromisoformat(when).timestamp() * 1000 + offset_ms - now)


def test_countdown_warnings_extension_and_grace_download(
    platform: PlatformUnderTest,
    workshop: dict[str, Any],
    instructor: Instructor,
    context: Any,
) -> None:
    context.clock.install()  # page time flows normally until fast-forwarded
    learner = joined(context, platform, workshop)
    page = learner.page
    countdown = page.locator("#workshop-countdown")
    banner = page.locator("#schedule-banner")
    status_line = page.locator("#terminal-status")
    current = instructor.workshop(workshop["id"])
    ends_at = current["schedule"]["ends_at"]

    expect(countdown).to_have_text(re.compile(r"^Ends in \d+:\d\d:\d\d$"))
    expect(countdown).to_have_attribute("data-phase", "open")
    expect(banner).to_be_hidden()
    expect(status_line).to_be_hidden()

    page.clock.fast_forward(ms_until(page, ends_at, -15 * MINUTE + 2 * SECOND))
    expect(banner).to_have_attribute("data-minutes", "15")
    expect(banner).to_contain_text("The workshop ends in 15 minutes")
    expect(status_line).to_contain_text("The workshop ends in 15 minutes")
    expect(countdown).to_have_attribute("data-phase", "ending")
    expect(countdown).to_have_text(re.compile(r"^Ends in 14:5\d$"))

    page.clock.fast_forward(ms_until(page, ends_at, -5 * MINUTE + 2 * SECOND))
    expect(banner).to_have_attribute("data-minutes", "5")
    expect(status_line).to_contain_text("ends in 5 minutes")

    # The instructor extends; the page's next schedule read (every 30 s) moves the end.
    extended = instructor.change_schedule(workshop["id"], {"extend_minutes": 60})
    page.clock.fast_forward(31 * SECOND)
    expect(countdown).to_have_attribute("data-phase", "open")
    expect(banner).to_be_hidden()
    expect(status_line).to_be_hidden()
    ends_at = extended["schedule"]["ends_at"]

    page.clock.fast_forward(ms_until(page, ends_at, 2 * SECOND))
    expect(banner).to_have_attribute("data-kind", "ended")
    expect(banner).to_contain_text("Workshop ended — download your work")
    expect(status_line).to_have_text("Workshop ended — download your work.")
    expect(countdown).to_contain_text("Ended · download until")
    with page.expect_download() as download:
        page.locator("#ended-download").click()
    assert download.value.suggested_filename.endswith(f"-seat{learner.seat()}.zip")

    grace = extended["schedule"]["grace_ends_at"]
    page.clock.fast_forward(ms_until(page, grace, 2 * SECOND))
    expect(banner).to_have_attribute("data-kind", "over")
    expect(countdown).to_have_text("Workshop over")

    # Warnings are page elements only: nothing was written into the learner's shell.
    text = learner.terminal_text()
    assert "ends in" not in text and "Workshop ended" not in text
