"""Editing alongside Claude Code (issue 21), in Chromium against ``clarateach local up``.

No edit is lost without the learner choosing it; the tree and the editor follow changes made
in the terminal (a ``python3`` script standing in for Claude) without a click on refresh.
Every wait is a Playwright deadline. The deadlines are generous for a loaded CI machine; the
1 s target itself is measured by ``benchmarks/editor_follow_bench.py``.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import pytest
from playwright.sync_api import Page, WebSocketRoute, expect

from tests.e2e.learner import LearnerPage
from tests.e2e.platform_process import Instructor, PlatformUnderTest
from tests.e2e.test_learner_journey import joined

pytestmark = pytest.mark.e2e

FOLLOW_MS = 5_000


def row(page: Page, path: str) -> Any:
    return page.locator(f'[role=treeitem][data-path="{path}"]')


def run_python(learner: LearnerPage, code: str) -> None:
    """Run a python3 one-liner in the seat's terminal and wait until it finished."""
    marker = f"done-{secrets.token_hex(4)}"
    learner.run(f"python3 -c {quote(code)} && echo {marker}")
    learner.wait_for_line(marker)


def quote(code: str) -> str:
    return "'" + code.replace("'", "'\"'\"'") + "'"


def editor_text(page: Page) -> str:
    return str(page.evaluate("() => document.querySelector('.cm-content').innerText"))


def test_reactivating_a_tab_or_its_tree_row_keeps_unsaved_edits(
    platform: PlatformUnderTest, workshop: dict[str, Any], context
) -> None:
    learner = joined(context, platform, workshop)
    page = learner.page
    expect(page.locator(".editor-empty")).to_contain_text("“+ File”")  # the button that exists
    first = f"keep-{secrets.token_hex(3)}.py"
    second = f"other-{secrets.token_hex(3)}.py"
    learner.create_file(first)
    learner.type_in_editor("unsaved = 1")
    expect(learner.tab(first)).to_have_attribute("data-dirty", "true")

    learner.tab(first).click()  # the tab that is already active
    expect(page.locator(".cm-content")).to_contain_text("unsaved = 1")
    expect(learner.tab(first)).to_have_attribute("data-dirty", "true")
    row(page, first).locator(".tree-label").click()  # its row in the tree
    expect(page.locator(".cm-content")).to_contain_text("unsaved = 1")
    expect(learner.tab(first)).to_have_attribute("data-dirty", "true")

    learner.create_file(second)  # switch away and back
    learner.tab(first).click()
    expect(page.locator(".cm-content")).to_contain_text("unsaved = 1")
    expect(learner.tab(first)).to_have_attribute("data-dirty", "true")


def test_closing_a_tab_with_unsaved_edits_asks_first(
    platform: PlatformUnderTest, workshop: dict[str, Any], context
) -> None:
    learner = joined(context, platform, workshop)
    page = learner.page
    name = f"close-{secrets.token_hex(3)}.py"
    learner.create_file(name)
    learner.type_in_editor("precious = True")
    page.get_by_role("button", name=f"Close {name}").click()
    dialog = page.locator("dialog.modal")
    expect(dialog).to_contain_text("unsaved changes")
    dialog.get_by_role("button", name="Cancel").click()
    expect(learner.tab(name)).to_be_visible()
    expect(page.locator(".cm-content")).to_contain_text("precious = True")

    page.get_by_role("button", name=f"Close {name}").click()
    page.locator("dialog.modal").get_by_role("button", name="Discard changes").click()
    expect(learner.tab(name)).to_have_count(0)


def test_a_conflicting_save_is_refused_and_offers_three_choices(
    platform: PlatformUnderTest, workshop: dict[str, Any], context
) -> None:
    """The watch socket is held back, so only the save's If-Match can notice the change."""
    page = context.new_page()
    held: list[WebSocketRoute] = []
    page.route_web_socket(re.compile(r"/seats/\d+/watch$"), lambda ws: held.append(ws))  # held
    learner = LearnerPage(page, platform.url)
    learner.open()
    learner.join(workshop["code"])
    learner.wait_for_prompt()
    name = f"conflict-{secrets.token_hex(3)}.py"
    learner.create_file(name)
    learner.type_in_editor("mine = 1")
    learner.save()
    expect(learner.tab(name)).to_have_attribute("data-dirty", "false")
    learner.type_in_editor("\nmine = 2")
    run_python(learner, f"open({name!r}, 'w').write('theirs = 1\\n')")

    with page.expect_response(re.compile(r"/files/content\?")) as refused:
        page.locator(".cm-content").click()
        learner.save()
    assert refused.value.status == 409
    assert refused.value.request.headers.get("if-match")
    banner = page.locator("#disk-banner")
    expect(banner).to_contain_text("changed on disk")
    for choice in ("Keep mine", "Take theirs", "Show diff"):
        expect(banner.get_by_role("button", name=choice)).to_be_visible()

    banner.get_by_role("button", name="Show diff").click()
    diff = page.locator("#conflict-diff")
    expect(diff.locator(".cm-mergeView")).to_be_visible()
    expect(diff).to_contain_text("mine = 2")
    expect(diff).to_contain_text("theirs = 1")
    page.locator("dialog.modal").get_by_role("button", name="Close").click()
    expect(page.locator(".cm-content")).to_contain_text("mine = 2")  # nothing chosen yet

    banner.get_by_role("button", name="Keep mine").click()
    expect(banner).to_be_hidden()
    expect(learner.tab(name)).to_have_attribute("data-dirty", "false")
    learner.run(f"grep -c mine {name}")
    learner.wait_for_line("2")

    learner.type_in_editor("\nmine = 3")
    run_python(learner, f"open({name!r}, 'w').write('theirs = 2\\n')")
    page.locator(".cm-content").click()
    learner.save()
    expect(banner).to_contain_text("changed on disk")
    banner.get_by_role("button", name="Take theirs").click()
    expect(banner).to_be_hidden()
    expect(page.locator(".cm-content")).to_have_text("theirs = 2")
    expect(learner.tab(name)).to_have_attribute("data-dirty", "false")


def test_tree_and_editor_follow_a_python_script_in_the_terminal(
    platform: PlatformUnderTest, workshop: dict[str, Any], context
) -> None:
    learner = joined(context, platform, workshop)
    page = learner.page
    folder = f"live-{secrets.token_hex(3)}"
    target = f"{folder}/app.py"
    lines = "".join(f"line_{i} = {i}\\n" for i in range(200))

    run_python(
        learner, f"import os; os.makedirs({folder!r}); open({target!r}, 'w').write('{lines}')"
    )
    expect(row(page, folder)).to_be_visible(timeout=FOLLOW_MS)  # no refresh click
    row(page, folder).locator(".tree-label").click()
    expect(row(page, target)).to_be_visible(timeout=FOLLOW_MS)
    row(page, target).locator(".tree-label").click()
    expect(page.locator(".cm-content")).to_contain_text("line_0 = 0")

    # no local edits: reloads in place, keeping the scroll position
    page.locator(".cm-scroller").evaluate("(el) => { el.scrollTop = 1500; }")
    before = page.locator(".cm-scroller").evaluate("(el) => el.scrollTop")
    assert before > 0
    edited = lines.replace("line_80 = 80", 'line_80 = "edited"')  # in view at that scroll
    run_python(learner, f"open({target!r}, 'w').write('{edited}')")
    expect(page.locator(".cm-content")).to_contain_text('line_80 = "edited"', timeout=FOLLOW_MS)
    expect(learner.tab(target)).to_have_attribute("data-dirty", "false")
    expect(page.locator("#disk-banner")).to_be_hidden()
    assert page.locator(".cm-scroller").evaluate("(el) => el.scrollTop") == before

    # with local edits: a banner, and the learner's text stays until they choose
    page.locator(".cm-content").click()
    page.keyboard.press("Control+Home")
    page.keyboard.type("# mine\n")
    run_python(learner, f"open({target!r}, 'a').write('added = True\\n')")
    banner = page.locator("#disk-banner")
    expect(banner).to_contain_text("changed on disk", timeout=FOLLOW_MS)
    expect(page.locator(".cm-content")).to_contain_text("# mine")
    expect(banner.get_by_role("button", name="Show diff")).to_be_visible()
    banner.get_by_role("button", name="Take theirs").click()
    expect(page.locator(".cm-content")).not_to_contain_text("# mine")

    # created and deleted by the script: the tree follows; the open tab is marked, not closed
    extra = f"{folder}/extra.txt"
    run_python(learner, f"open({extra!r}, 'w').write('x')")
    expect(row(page, extra)).to_be_visible(timeout=FOLLOW_MS)
    run_python(learner, f"import os; os.remove({target!r}); os.remove({extra!r})")
    expect(row(page, extra)).to_have_count(0, timeout=FOLLOW_MS)
    expect(row(page, target)).to_have_count(0, timeout=FOLLOW_MS)
    expect(learner.tab(target)).to_have_attribute("data-deleted", "true", timeout=FOLLOW_MS)
    expect(page.locator("#disk-banner")).to_contain_text("deleted on disk")
    page.locator(".cm-content").click()
    learner.save()  # saving recreates it
    expect(learner.tab(target)).to_have_attribute("data-deleted", "false")
    expect(row(page, target)).to_be_visible(timeout=FOLLOW_MS)


def test_open_tabs_come_back_after_a_reload_and_icons_are_svg(
    platform: PlatformUnderTest, workshop: dict[str, Any], context
) -> None:
    learner = joined(context, platform, workshop)
    page = learner.page
    names = [f"tab-{i}-{secrets.token_hex(2)}.py" for i in range(2)]
    for name in names:
        learner.create_file(name)
    learner.tab(names[0]).click()
    page.reload()
    learner.wait_connected()
    for name in names:
        expect(learner.tab(name)).to_be_visible()
    expect(learner.tab(names[0])).to_have_attribute("aria-selected", "true")
    row(page, names[0]).hover()
    for label in (f"Rename {names[0]}", f"Delete {names[0]}", "Refresh file list", "Upload files"):
        button = page.get_by_role("button", name=label)
        expect(button.locator("svg")).to_have_count(1)
    glyphs = page.locator(".sidebar, .tabs").evaluate_all(
        "(els) => els.map((el) => el.innerText).join('')"
    )
    assert not re.search(r"[\U0001F000-\U0001FFFF\u2190-\u21FF\u2700-\u27BF]", glyphs), glyphs


def test_the_toolbars_do_not_wrap_at_800_px(
    platform: PlatformUnderTest, workshop: dict[str, Any], browser
) -> None:
    context = browser.new_context(viewport={"width": 800, "height": 700})
    try:
        learner = joined(context, platform, workshop)
        page = learner.page
        for selector in (".tree-toolbar", ".topbar"):
            tops = page.locator(f"{selector} > :visible").evaluate_all(
                "(els) => els.map((el) => Math.round(el.getBoundingClientRect().top + "
                "el.getBoundingClientRect().height / 2))"
            )
            assert len(tops) >= 3 and max(tops) - min(tops) <= 4, (selector, tops)
    finally:
        context.close()


def test_the_changes_view_shows_what_changed_with_a_diff(
    platform: PlatformUnderTest, workshop: dict[str, Any], context
) -> None:
    learner = joined(context, platform, workshop)
    page = learner.page
    name = f"review-{secrets.token_hex(3)}.py"
    run_python(learner, f"open({name!r}, 'w').write('answer = 41\\n')")
    page.locator("#changes-button").click()
    dialog = page.locator("#changes-dialog")
    dialog.get_by_role("button", name="Mark all as reviewed").click()
    expect(dialog).to_have_count(0)

    run_python(learner, f"open({name!r}, 'w').write('answer = 42\\n')")  # "Claude" edits it
    page.locator("#changes-button").click()
    entry = dialog.locator(f'button.change[data-path="{name}"]')
    expect(entry).to_have_attribute("data-status", "modified")
    entry.click()
    diff = page.locator("#changes-diff")
    expect(diff.locator(".cm-mergeView")).to_be_visible()
    expect(diff).to_contain_text("answer = 41")
    expect(diff).to_contain_text("answer = 42")
    expect(diff.locator(".cm-changedLine")).not_to_have_count(0)
    dialog.get_by_role("button", name="Mark all as reviewed").click()
    page.locator("#changes-button").click()
    expect(dialog.locator(f'button.change[data-path="{name}"]')).to_have_count(0)


def test_after_the_workshop_stops_the_page_says_so_and_blames_no_network(
    platform: PlatformUnderTest, instructor: Instructor, context
) -> None:
    workshop = instructor.running_workshop("E2E editor after stop", seats=1)
    learner = joined(context, platform, workshop)
    page = learner.page
    instructor.stop(workshop["id"])
    status = page.locator("#connection-state")
    expect(status).to_have_attribute("data-state", "disconnected", timeout=30_000)
    expect(status).to_have_text("Workshop ended")
    page.get_by_role("button", name="Refresh file list").click()
    toasts = page.locator(".toast")
    expect(toasts.last).to_contain_text(
        re.compile("stopped this workshop|no longer running"), timeout=10_000
    )
    expect(toasts.filter(has_text="Check your connection")).to_have_count(0)
