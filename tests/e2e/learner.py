"""A page object for the learner web client: what a learner does, in the tests' vocabulary.

Terminal text is read through the client's ``window.__claraTerm`` hook (the xterm buffer,
scrollback included). Every wait is a Playwright wait with a deadline, never a sleep.
"""

from __future__ import annotations

import re
import time

from playwright.sync_api import Locator, Page, expect

PROMPT_TIMEOUT_MS = 30_000
# Generous: a loaded two-core CI machine can stall a seat for seconds; this bounds a hang.
OUTPUT_TIMEOUT_MS = 30_000

# A shell prompt: a line whose last non-blank character is one of $ # % > .
_PROMPT_JS = r"""
() => {
  const term = window.__claraTerm;
  if (!term) return false;
  const isPrompt = (line) => /[$#%>]\s*$/.test(line.trimEnd()) && line.trim().length > 1;
  return term.text().split("\n").some(isPrompt);
}
"""

_LINE_JS = """
([wanted]) => {
  const term = window.__claraTerm;
  return !!term && term.text().split("\\n").some((line) => line.trim() === wanted);
}
"""

_CONTAINS_JS = """
([wanted]) => !!window.__claraTerm && window.__claraTerm.text().includes(wanted)
"""


class LearnerPage:
    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    # ------------------------------------------------------------------ join
    def open(self, query: str = "") -> None:
        self.page.goto(f"{self.base_url}/{query}")

    def join(self, code: str) -> float:
        """Type the code and click Join; return the monotonic time of the click."""
        self.page.get_by_label("Workshop code", exact=True).first.fill(code)
        clicked = time.monotonic()
        self.page.get_by_role("button", name="Join workshop").click()
        return clicked

    def join_retrying_when_told_to_wait(self, code: str, deadline_s: float = 30.0) -> None:
        """Join as a learner does when the page says "Too many attempts. Please wait N
        seconds": try again (polled until ``deadline_s``). Every e2e browser shares one client
        address, 127.0.0.1, with the tests that type wrong codes on purpose, and a client's
        own failures lock it out for a few seconds (docs/protocol.md, join rate limits)."""
        deadline = time.monotonic() + deadline_s
        state = self.page.locator("#connection-state")
        error = self.page.locator("#join-error")
        while True:
            self.join(code)
            expect(state.or_(error.filter(has_text="Too many attempts"))).to_be_attached()
            if state.count() or time.monotonic() > deadline:
                return

    def rejoin(self, code: str, reconnect_code: str) -> None:
        self.page.get_by_text("Already have a seat? Rejoin with your reconnect code").click()
        self.page.locator("#rejoin-code").fill(code)
        self.page.locator("#rejoin-reconnect-code").fill(reconnect_code)
        self.page.get_by_role("button", name="Rejoin my seat").click()

    def join_error(self) -> str:
        error = self.page.locator("#join-error")
        expect(error).not_to_be_empty()
        return error.inner_text()

    # ------------------------------------------------------------- workspace
    def seat(self) -> int:
        badge = self.page.locator("#seat-badge")
        expect(badge).to_have_text(re.compile(r"Seat \d+"))
        return int(badge.inner_text().split()[-1])

    def reconnect_code(self) -> str:
        """The reconnect code from the seat banner (opened from the header if dismissed)."""
        code = self.page.locator("#reconnect-code")
        if not code.is_visible():
            self.page.get_by_role("button", name="Reconnect code").click()
        expect(code).to_be_visible()
        return code.inner_text().strip()

    def wait_connected(self) -> None:
        expect(self.page.locator("#connection-state")).to_have_attribute(
            "data-state", "connected", timeout=PROMPT_TIMEOUT_MS
        )

    def wait_for_prompt(self) -> None:
        self.page.wait_for_function(_PROMPT_JS, timeout=PROMPT_TIMEOUT_MS)

    def terminal_text(self) -> str:
        return str(self.page.evaluate("() => window.__claraTerm ? window.__claraTerm.text() : ''"))

    def run(self, command: str) -> None:
        """Type a command into the terminal and press Enter."""
        self.page.locator(".terminal-host").click()
        self.page.keyboard.type(command)
        self.page.keyboard.press("Enter")

    def wait_for_line(self, text: str, timeout_ms: int = OUTPUT_TIMEOUT_MS) -> None:
        """Wait until some terminal line is exactly ``text`` (output, not the echoed command)."""
        self.page.wait_for_function(_LINE_JS, arg=[text], timeout=timeout_ms)

    def wait_for_text(self, text: str, timeout_ms: int = OUTPUT_TIMEOUT_MS) -> None:
        self.page.wait_for_function(_CONTAINS_JS, arg=[text], timeout=timeout_ms)

    # ------------------------------------------------------------ files/editor
    def create_file(self, name: str) -> None:
        self.page.get_by_role("button", name="New file").click()
        dialog = self.page.locator("dialog.modal")
        dialog.get_by_label("File name").fill(name)
        dialog.get_by_role("button", name="Create").click()
        expect(self.page.locator(f'.tab[data-path="{name}"]')).to_be_visible()

    def type_in_editor(self, text: str) -> None:
        self.page.locator(".cm-content").click()
        self.page.keyboard.type(text)

    def save(self) -> None:
        self.page.keyboard.press("Control+s")

    def tab(self, path: str) -> Locator:
        return self.page.locator(f'.tab[data-path="{path}"]')
