"""A learner's journey in a real browser against ``clarateach local up`` (issue 6 §3).

Each test is a new browser context, i.e. a new learner taking a new seat in the shared
running workshop.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.learner import LearnerPage
from tests.e2e.platform_process import PlatformUnderTest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
README_SCREENSHOT = ROOT / "docs" / "screenshots" / "workspace.png"


def joined(context, platform: PlatformUnderTest, workshop: dict[str, Any]) -> LearnerPage:
    learner = LearnerPage(context.new_page(), platform.url)
    learner.open()
    learner.join_retrying_when_told_to_wait(workshop["code"])
    learner.wait_connected()
    learner.wait_for_prompt()
    return learner


def save_workspace_screenshot(learner: LearnerPage, artifacts: Path) -> None:
    """Save test-artifacts/workspace.png; with CLARATEACH_UPDATE_SCREENSHOTS=1, the README one."""
    learner.page.screenshot(path=str(artifacts / "workspace.png"))
    if os.environ.get("CLARATEACH_UPDATE_SCREENSHOTS") == "1":
        README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(artifacts / "workspace.png", README_SCREENSHOT)


def test_join_reaches_a_prompt_and_runs_a_command(
    platform: PlatformUnderTest, workshop: dict[str, Any], context, artifacts: Path
) -> None:
    learner = LearnerPage(context.new_page(), platform.url)
    learner.open()
    # Forgiving input: lower case and spaces instead of the dash.
    clicked = learner.join(f"  {workshop['code'].lower().replace('-', ' ')} ")
    learner.wait_for_prompt()
    join_to_prompt = time.monotonic() - clicked

    expect(learner.page.locator("#seat-banner")).to_be_visible()
    assert learner.seat() >= 1
    expect(learner.page).to_have_title(f"Seat {learner.seat()} · {workshop['name']} — ClaraTeach")
    assert learner.reconnect_code()
    marker = f"hello-{secrets.token_hex(4)}"
    learner.run(f"echo {marker}")
    learner.wait_for_line(marker)

    (artifacts / "join-to-prompt.json").write_text(
        json.dumps({"seconds": round(join_to_prompt, 3)})
    )
    print(f"join click -> first prompt: {join_to_prompt:.2f}s")


def test_saved_file_is_visible_in_the_terminal_and_in_the_zip(
    platform: PlatformUnderTest, workshop: dict[str, Any], context, tmp_path: Path, artifacts: Path
) -> None:
    learner = joined(context, platform, workshop)
    learner.page.get_by_role("button", name="I've written it down").click()
    expect(learner.page.locator("#seat-banner")).to_be_hidden()
    name = f"hello-{secrets.token_hex(3)}.py"
    content = f'message = "saved-from-editor-{secrets.token_hex(4)}"'
    learner.create_file(name)
    learner.type_in_editor(content + "\n")
    expect(learner.tab(name)).to_have_attribute("data-dirty", "true")
    learner.save()
    expect(learner.tab(name)).to_have_attribute("data-dirty", "false")

    learner.run(f"cat {name}")
    learner.wait_for_line(content)
    save_workspace_screenshot(learner, artifacts)

    with learner.page.expect_download() as download_info:
        learner.page.get_by_role("button", name="Download my work").click()
    download = download_info.value
    assert download.suggested_filename.endswith(f"-seat{learner.seat()}.zip")
    archive = tmp_path / "work.zip"
    download.save_as(archive)
    with zipfile.ZipFile(archive) as zf:
        members = {Path(n).name: n for n in zf.namelist()}
        assert name in members, zf.namelist()
        assert zf.read(members[name]).decode() == content + "\n"


def test_reload_keeps_the_seat_and_the_screen(
    platform: PlatformUnderTest, workshop: dict[str, Any], context
) -> None:
    learner = joined(context, platform, workshop)
    seat = learner.seat()
    marker = f"before-reload-{secrets.token_hex(4)}"
    learner.run(f"echo {marker}")
    learner.wait_for_line(marker)

    learner.page.reload()
    assert learner.seat() == seat
    learner.wait_connected()
    learner.wait_for_line(marker)  # replayed by the agent after the reconnect
    expect(learner.page.get_by_role("button", name="Join workshop")).to_have_count(0)


def test_returning_with_an_expired_token_rejoins_the_same_seat(
    platform: PlatformUnderTest, workshop: dict[str, Any], context
) -> None:
    learner = joined(context, platform, workshop)
    seat = learner.seat()
    # Pretend the stored token has lapsed: the client must re-join with the reconnect code.
    learner.page.evaluate(
        """() => {
          const key = "clarateach.session.v1";
          const session = JSON.parse(localStorage[key]);
          localStorage[key] = JSON.stringify({ ...session, expiresAt: 0 });
        }"""
    )
    with learner.page.expect_request("**/api/join") as join_request:
        learner.page.reload()
    body = json.loads(join_request.value.post_data or "{}")
    assert body.get("reconnect_code") and body.get("code")
    assert learner.seat() == seat
    learner.wait_connected()
    expires = learner.page.evaluate(
        "() => JSON.parse(localStorage['clarateach.session.v1']).expiresAt"
    )
    assert expires > time.time() * 1000


def test_join_links_resume_the_same_workshop_but_not_another(
    platform: PlatformUnderTest, workshop: dict[str, Any], context
) -> None:
    learner = joined(context, platform, workshop)
    seat = learner.seat()
    learner.open(f"?code={workshop['code'].lower()}")  # the same workshop's link: resume
    assert learner.seat() == seat
    expect(learner.page).to_have_url(f"{platform.url}/")  # the code is tidied out of the URL

    learner.open("?code=CLAUDE-ZZZZ")  # another workshop's link: ask, don't resume
    expect(learner.page.get_by_role("status")).to_contain_text(f"You still have seat {seat}")
    expect(learner.page.locator("#join-code")).to_have_value("CLAUDE-ZZZZ")


def test_a_second_learner_gets_a_different_seat(
    platform: PlatformUnderTest, workshop: dict[str, Any], browser
) -> None:
    seats = []
    contexts = [browser.new_context() for _ in range(2)]
    try:
        for ctx in contexts:
            seats.append(joined(ctx, platform, workshop).seat())
    finally:
        for ctx in contexts:
            ctx.close()
    assert seats[0] != seats[1]


def test_reconnect_code_brings_the_seat_to_another_device(
    platform: PlatformUnderTest, workshop: dict[str, Any], context, browser
) -> None:
    first = joined(context, platform, workshop)
    seat, reconnect_code = first.seat(), first.reconnect_code()
    marker = f"from-first-device-{secrets.token_hex(4)}"
    first.run(f"echo {marker}")
    first.wait_for_line(marker)

    other = browser.new_context()
    try:
        second = LearnerPage(other.new_page(), platform.url)
        second.open()
        second.rejoin(workshop["code"], reconnect_code)
        assert second.seat() == seat
        second.wait_connected()
        second.wait_for_line(marker)
    finally:
        other.close()


def test_ctrl_c_reaches_the_shell(
    platform: PlatformUnderTest, workshop: dict[str, Any], context
) -> None:
    learner = joined(context, platform, workshop)
    # The job announces itself from inside the child that becomes the sleep, so once its line
    # shows, the child holds the terminal's foreground (bash hands it over before exec) and
    # Ctrl-C cannot land in the window where the shell itself would take it.
    started = f"sleeping-{secrets.token_hex(4)}"
    learner.run(f"sh -c 'echo {started}; exec sleep 600'")
    learner.wait_for_line(started)
    learner.page.keyboard.press("Control+c")
    marker = f"after-interrupt-{secrets.token_hex(4)}"
    learner.run(f"echo {marker}")
    # Only an interrupted sleep lets the echo run within the timeout.
    learner.wait_for_line(marker)
