"""The workspace's tools in a real browser: file tree operations, heavy terminal output
(flow control), and what a learner sees when the instructor stops the workshop."""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import WebSocketRoute, expect

from tests.e2e.learner import LearnerPage
from tests.e2e.platform_process import Instructor, PlatformUnderTest
from tests.e2e.test_learner_journey import joined

pytestmark = pytest.mark.e2e


def test_upload_rename_and_delete_from_the_file_tree(
    platform: PlatformUnderTest, workshop: dict[str, Any], context, tmp_path: Path
) -> None:
    learner = joined(context, platform, workshop)
    page = learner.page
    local = tmp_path / f"upload-{secrets.token_hex(3)}.py"
    local.write_text("print('uploaded')\n")

    page.locator("input[type=file]").set_input_files(str(local))
    uploaded = page.locator(f'[role=treeitem][data-path="{local.name}"]')
    expect(uploaded).to_be_visible()
    learner.run(f"cat {local.name}")
    learner.wait_for_line("print('uploaded')")

    renamed = f"renamed-{secrets.token_hex(3)}.py"
    uploaded.hover()
    page.get_by_role("button", name=f"Rename {local.name}").click()
    page.locator("dialog.modal").get_by_label("New name").fill(renamed)
    page.locator("dialog.modal").get_by_role("button", name="Rename").click()
    expect(page.locator(f'[role=treeitem][data-path="{renamed}"]')).to_be_visible()
    expect(uploaded).to_have_count(0)

    page.locator(f'[role=treeitem][data-path="{renamed}"]').hover()
    page.get_by_role("button", name=f"Delete {renamed}").click()
    page.locator("dialog.modal").get_by_role("button", name="Delete").click()
    expect(page.locator(f'[role=treeitem][data-path="{renamed}"]')).to_have_count(0)
    marker = f"gone-{secrets.token_hex(3)}"
    learner.run(f"test -e {renamed} || echo {marker}")
    learner.wait_for_line(marker)


def test_drag_and_drop_uploads_into_the_workspace(
    platform: PlatformUnderTest, workshop: dict[str, Any], context
) -> None:
    learner = joined(context, platform, workshop)
    name = f"dropped-{secrets.token_hex(3)}.md"
    # A real OS drag can't be scripted headlessly; dispatch the same DOM events a drop fires.
    learner.page.evaluate(
        """([name]) => {
          const data = new DataTransfer();
          data.items.add(new File(["# dropped\\n"], name, { type: "text/markdown" }));
          const zone = document.querySelector(".sidebar");
          const init = { dataTransfer: data, bubbles: true, cancelable: true };
          zone.dispatchEvent(new DragEvent("dragover", init));
          zone.dispatchEvent(new DragEvent("drop", init));
        }""",
        [name],
    )
    expect(learner.page.locator(f'[role=treeitem][data-path="{name}"]')).to_be_visible()
    learner.run(f"cat {name}")
    learner.wait_for_line("# dropped")


def test_megabytes_of_output_keep_flowing(
    platform: PlatformUnderTest, workshop: dict[str, Any], context
) -> None:
    """Several windows' worth of output: without correct acks the agent would stall at 256 KiB."""
    learner = joined(context, platform, workshop)
    marker = f"after-flood-{secrets.token_hex(4)}"
    learner.run(f"head -c 4000000 /dev/zero | tr '\\0' 'x'; echo; echo {marker}")
    learner.wait_for_line(marker, timeout_ms=60_000)


def test_stopping_the_workshop_disconnects_the_learner(
    platform: PlatformUnderTest, instructor: Instructor, context
) -> None:
    workshop = instructor.running_workshop("E2E stop while joined", seats=1)
    learner = LearnerPage(context.new_page(), platform.url)
    learner.open(f"?code={workshop['code']}")
    expect(learner.page.get_by_label("Workshop code", exact=True).first).to_have_value(
        workshop["code"]
    )
    learner.page.get_by_role("button", name="Join workshop").click()
    learner.wait_connected()
    instructor.stop(workshop["id"])
    expect(learner.page.locator("#connection-state")).to_have_attribute(
        "data-state", "disconnected", timeout=30_000
    )
    # Either the agent's 4410 close or, if the host went first, the refused re-join says so.
    learner.page.wait_for_function(
        """() => /\\[ClaraTeach\\] (The instructor has stopped this workshop|"""
        """This workshop is no longer running)/.test(window.__claraTerm.text())""",
        timeout=30_000,
    )


def test_unsaved_changes_are_marked_and_guarded(
    platform: PlatformUnderTest, workshop: dict[str, Any], context
) -> None:
    learner = joined(context, platform, workshop)
    name = f"draft-{secrets.token_hex(3)}.md"
    learner.create_file(name)
    learner.type_in_editor("# not saved yet")
    expect(learner.tab(name).locator(".dirty-dot")).to_be_visible()
    learner.page.on("dialog", lambda dialog: dialog.dismiss())  # stay on the page
    with learner.page.expect_event("dialog") as leaving:
        learner.page.close(run_before_unload=True)
    assert leaving.value.type == "beforeunload"


def test_the_file_tree_works_from_the_keyboard(
    platform: PlatformUnderTest, workshop: dict[str, Any], context
) -> None:
    learner = joined(context, platform, workshop)
    folder = f"kbd-{secrets.token_hex(3)}"
    learner.run(f"mkdir {folder} && echo inside > {folder}/inner.txt && echo made-{folder}")
    learner.wait_for_line(f"made-{folder}")
    page = learner.page
    page.get_by_role("button", name="Refresh file list").click()
    row = page.locator(f'[role=treeitem][data-path="{folder}"]')
    expect(row).to_have_attribute("aria-expanded", "false")
    row.locator(".tree-label").focus()
    page.keyboard.press("ArrowRight")
    expect(row).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(learner.tab(f"{folder}/inner.txt")).to_be_visible()
    expect(page.locator(".cm-content")).to_contain_text("inside")


def proxied_learner(
    context, platform: PlatformUnderTest, workshop: dict[str, Any]
) -> tuple[LearnerPage, list[WebSocketRoute]]:
    """A joined learner whose terminal sockets pass through a proxy the test can cut."""
    page = context.new_page()
    routes: list[WebSocketRoute] = []

    def through_the_test(ws: WebSocketRoute) -> None:
        ws.connect_to_server()
        routes.append(ws)

    page.route_web_socket(re.compile(r"/seats/\d+/terminal$"), through_the_test)
    learner = LearnerPage(page, platform.url)
    learner.open()
    learner.join(workshop["code"])
    learner.wait_for_prompt()
    page.evaluate(
        """() => {
          window.__states = [];
          const badge = document.getElementById("connection-state");
          new MutationObserver(() => window.__states.push(badge.dataset.state))
            .observe(badge, { attributes: true, attributeFilter: ["data-state"] });
        }"""
    )
    return learner, routes


def test_a_dropped_connection_reconnects_by_itself_and_restores_the_screen(
    platform: PlatformUnderTest, workshop: dict[str, Any], context
) -> None:
    learner, routes = proxied_learner(context, platform, workshop)
    page = learner.page
    marker = f"before-drop-{secrets.token_hex(4)}"
    learner.run(f"echo {marker}")
    learner.wait_for_line(marker)

    routes[0].close(code=4000, reason="network blip")
    page.wait_for_function("() => window.__states.includes('connected')", timeout=15_000)
    states = page.evaluate("() => window.__states")
    assert states[0] == "reconnecting" and states[-1] == "connected", states
    assert "disconnected" not in states
    assert len(routes) == 2
    learner.wait_for_line(marker)  # replayed after the reconnect
    after = f"after-drop-{secrets.token_hex(4)}"
    learner.run(f"echo {after}")
    learner.wait_for_line(after)


def test_an_expired_token_close_refreshes_the_token_and_reconnects(
    platform: PlatformUnderTest, workshop: dict[str, Any], context
) -> None:
    learner, routes = proxied_learner(context, platform, workshop)
    page = learner.page
    old_token = page.evaluate("() => JSON.parse(localStorage['clarateach.session.v1']).token")
    with page.expect_request("**/api/join") as rejoin:
        routes[0].close(code=4401, reason="token expired")
    assert json.loads(rejoin.value.post_data or "{}").get("reconnect_code")
    page.wait_for_function("() => window.__states.includes('connected')", timeout=15_000)
    new_token = page.evaluate("() => JSON.parse(localStorage['clarateach.session.v1']).token")
    assert new_token != old_token
    marker = f"fresh-token-{secrets.token_hex(4)}"
    learner.run(f"echo {marker}")
    learner.wait_for_line(marker)
