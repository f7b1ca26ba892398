"""The instructor cockpit (``/instructor``) in a real browser against ``clarateach local up``.

The instructor signs in with the fragment link, creates and starts a workshop in the page,
watches the hosts boot, sees two learners' tiles change, shadows one of them (and cannot
type into the seat). Names are rendered as text, never as markup.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from tests.e2e.learner import LearnerPage
from tests.e2e.platform_process import FAKE_API_KEY, RunningPlatform

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
README_SCREENSHOT = ROOT / "docs" / "screenshots" / "cockpit.png"
XSS_NAME = '<img src=x onerror="window.__xss=1">Cockpit & co'
XSS_BROADCAST = "<script>window.__xss=2</script><b>Break</b> until 11"
BANNER_DEADLINE_MS = 4_000
#: The page polls every 2 s; the deadline leaves room for a loaded 2-core CI machine. The
#: real keystroke → tile latency is measured in benchmarks/bench_cockpit.py.
TILE_DEADLINE_MS = 6_000
HOST_BOOT_MS = 90_000


def _local(platform: Any) -> RunningPlatform:
    if not isinstance(platform, RunningPlatform):
        pytest.skip("needs `clarateach local up` (not the stub)")
    return platform


def tile(page: Page, seat: int) -> Any:
    return page.locator(f'.tile[data-seat="{seat}"]')


def sign_in(page: Page, platform: RunningPlatform) -> None:
    page.goto(f"{platform.url}/instructor#token={platform.admin_token}")
    expect(page.get_by_role("heading", name="Workshops")).to_be_visible()
    assert platform.admin_token not in page.url  # the fragment is removed at once
    stored = page.evaluate("() => Object.values(window.sessionStorage)")
    assert platform.admin_token in stored
    assert page.evaluate("() => Object.values(window.localStorage)") == []


def test_the_instructor_runs_a_room_from_the_cockpit(
    platform: Any, browser: Any, artifacts: Path
) -> None:
    running = _local(platform)
    instructor_ctx = browser.new_context(viewport={"width": 1360, "height": 900})
    instructor_ctx.set_default_timeout(15_000)
    learners = [browser.new_context(viewport={"width": 1200, "height": 800}) for _ in range(3)]
    try:
        page = instructor_ctx.new_page()
        sign_in(page, running)

        # Create (name with markup, API key in a password field) and start.
        page.locator("#create-name").fill(XSS_NAME)
        page.locator("#create-seats").fill("10")
        page.locator("#create-per-host").fill("5")
        key = page.locator("#create-key")
        assert key.get_attribute("type") == "password"
        key.fill(FAKE_API_KEY)
        page.locator("#create-budget").fill("5")
        page.get_by_role("button", name="Create").click()
        row = page.locator("tr[data-workshop]").filter(has_text="Cockpit & co")
        expect(row.locator(".workshop-name")).to_have_text(XSS_NAME)
        assert page.evaluate("() => window.__xss") is None
        assert row.locator("img").count() == 0
        expect(key).to_have_value("")
        row.locator('[data-action="start"]').click()
        row.locator('[data-action="open"]').click()

        # Progress while hosts boot, then every host ready.
        hosts = page.locator(".host-progress li")
        expect(hosts).to_have_count(2)
        expect(page.locator('.host-progress li[data-status="ready"]')).to_have_count(
            2, timeout=HOST_BOOT_MS
        )
        expect(page.locator(".money-line")).to_contain_text("running")
        expect(page.locator(".money-line")).to_contain_text("0/10 seats")
        expect(page.locator(".room-title")).to_have_text(XSS_NAME)
        expect(page.locator(".tile")).to_have_count(10)
        code = page.locator(".money-line").inner_text().rsplit("code ", 1)[1].strip()

        # Two learners join in their own browsers; their tiles turn connected, no reload.
        pages = []
        for ctx in learners[:2]:
            learner = LearnerPage(ctx.new_page(), running.url)
            learner.open()
            learner.join(code)
            learner.wait_connected()
            learner.wait_for_prompt()
            pages.append(learner)
            expect(tile(page, learner.seat())).to_have_attribute(
                "data-state", "connected", timeout=TILE_DEADLINE_MS
            )
        first, second = pages
        expect(page.locator(".money-line")).to_contain_text("2/10 seats")

        # Shadow: the learner's screen, live; the shadow's keys never reach the seat.
        seat = first.seat()
        first.run("echo before-$((6*7))")
        first.wait_for_line("before-42")
        tile(page, seat).click()
        pane = page.locator(f'.shadow-pane[data-seat="{seat}"]')
        expect(pane).to_contain_text("live")
        shadow_text = f"() => window.__claraShadows.get({seat})?.text() ?? ''"
        page.wait_for_function(f"() => ({shadow_text})().includes('before-42')")
        first.run("echo typed-$((40+2))")
        page.wait_for_function(f"() => ({shadow_text})().includes('typed-42')")
        pane.locator(".shadow-screen").click()
        page.keyboard.type("echo intruder-$((1+1))")
        page.keyboard.press("Enter")
        tile(page, second.seat()).click()  # several shadows at once
        expect(page.locator(".shadow-pane")).to_have_count(2)
        first.run("echo after-$((2+3))")
        first.wait_for_line("after-5")
        assert "intruder" not in first.terminal_text()
        assert "intruder" not in page.evaluate(shadow_text)

        # Idle and activity are the agent's truth: the foreground process shows on the tile.
        second.run("sleep 120")
        expect(tile(page, second.seat())).to_contain_text("sleep", timeout=TILE_DEADLINE_MS)
        page.screenshot(path=str(artifacts / "cockpit-10.png"), full_page=True)

        # Broadcast: a banner on both learner pages, as text; kept for a later joiner.
        page.locator("#broadcast-message").fill(XSS_BROADCAST)
        page.get_by_role("button", name="Send to everyone").click()
        for learner in pages:
            expect(learner.page.locator("#broadcast-text")).to_have_text(
                XSS_BROADCAST, timeout=BANNER_DEADLINE_MS
            )
            assert learner.page.evaluate("() => window.__xss") is None
            assert (
                learner.page.locator("#broadcast-banner b, #broadcast-banner script").count() == 0
            )
        first.page.get_by_role("button", name="Dismiss message").click()
        expect(first.page.locator("#broadcast-banner")).to_be_hidden()
        late = LearnerPage(learners[2].new_page(), running.url)
        late.open()
        late.join(code)
        late.wait_connected()
        expect(late.page.locator("#broadcast-text")).to_have_text(XSS_BROADCAST)
        expect(page.locator("#broadcast-current")).to_contain_text("Break")

        # Raise hand: the learner asks, the cockpit queues it, the instructor marks it done.
        first.page.locator("#help-button").click()
        first.page.locator("#dialog-input").fill("stuck on <step 3>")
        first.page.get_by_role("button", name="Raise my hand").click()
        queued = page.locator(f'#hand-queue li[data-seat="{seat}"]')
        expect(queued).to_contain_text("stuck on <step 3>", timeout=TILE_DEADLINE_MS)
        expect(queued).to_contain_text("waiting")
        page.locator("#filter-hand").check()
        expect(page.locator(".tile:visible")).to_have_count(1)
        page.locator("#filter-hand").uncheck()
        queued.get_by_role("button", name="Done").click()
        expect(queued).to_have_count(0)
        expect(first.page.locator("#help-button")).to_have_text(
            "I need help", timeout=TILE_DEADLINE_MS
        )

        # Reset the first learner's seat: after the confirmation naming it, the learner's
        # terminal comes back in a fresh shell with an empty workspace.
        first.run("touch keep-me.txt && echo made-$((3*3))")
        first.wait_for_line("made-9")
        pane.get_by_role("button", name="Reset seat").click()
        expect(page.get_by_role("heading", name=f"Reset seat {seat}?")).to_be_visible()
        page.get_by_role("button", name=f"Reset seat {seat}").click()
        expect(page.get_by_text(f"Seat {seat} reset.")).to_be_visible()
        first.wait_connected()
        first.page.wait_for_function(
            "() => !window.__claraTerm.text().includes('made-9')", timeout=TILE_DEADLINE_MS * 3
        )
        first.wait_for_prompt()
        first.run("ls -A | wc -l | sed 's/^/count-/'")
        first.wait_for_line("count-0")

        # Release the late learner's seat: confirmation names it; the seat is free again and
        # the learner's page loses its terminal (the old token is refused).
        late_seat = late.seat()
        tile(page, late_seat).click()
        late_pane = page.locator(f'.shadow-pane[data-seat="{late_seat}"]')
        late_pane.get_by_role("button", name="Release seat").click()
        expect(page.get_by_role("heading", name=f"Release seat {late_seat}?")).to_be_visible()
        page.get_by_role("button", name=f"Release seat {late_seat}").click()
        expect(tile(page, late_seat)).to_have_attribute(
            "data-state", "free", timeout=TILE_DEADLINE_MS
        )
        expect(late.page.locator("#connection-state")).not_to_have_attribute(
            "data-state", "connected", timeout=TILE_DEADLINE_MS
        )

        # A learner closes the browser: the tile says disconnected.
        gone = second.seat()
        learners[1].close()
        expect(tile(page, gone)).to_have_attribute(
            "data-state", "disconnected", timeout=TILE_DEADLINE_MS
        )
        page.locator("#filter-disconnected").check()
        expect(page.locator(".tile:visible")).to_have_count(1)
        expect(tile(page, gone)).to_be_visible()
    finally:
        for ctx in [instructor_ctx, *learners]:
            ctx.close()


def test_the_link_printed_by_local_up_signs_in(platform: Any, context: Any) -> None:
    """`clarateach local up` prints the cockpit link with the token in the fragment only."""
    running = _local(platform)
    banner = running.log_path.read_text(errors="replace")
    links = [line.split()[-1] for line in banner.splitlines() if "Cockpit:" in line]
    assert links == [f"{running.url}/instructor#token={running.admin_token}"]
    page = context.new_page()
    page.goto(links[0])
    expect(page.get_by_role("heading", name="Workshops")).to_be_visible()
    assert "token" not in page.url


def test_a_refused_token_returns_to_sign_in(platform: Any, context: Any) -> None:
    running = _local(platform)
    page = context.new_page()
    page.goto(f"{running.url}/instructor#token=not-the-token")
    expect(page.locator("#instructor-token")).to_be_visible()
    assert page.evaluate("() => Object.values(window.sessionStorage)") == []


def _fake_room(seats: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """A 200-seat room in every state, for the layout (no 200 real shells needed)."""
    hosts = [
        {"index": i, "name": f"h{i}", "status": "ready", "endpoint": f"http://127.0.0.1:9/{i}",
         "seat_first": i * 20 + 1, "seat_last": i * 20 + 20, "error": None, "timings": {}}
        for i in range(seats // 20)
    ]  # fmt: skip
    rows, activity = [], {}
    for n in range(1, seats + 1):
        claimed = n % 13 != 0
        spent = round((n % 9) * 0.6, 2) if claimed else 0.0
        rows.append(
            {"seat": n, "claimed": claimed,
             "claim": {"seat": n, "host": (n - 1) // 20, "joined_at": "", "last_seen": ""}
             if claimed else None,
             "requests": n % 40 if claimed else 0, "tokens": (n % 40) * 900 if claimed else 0,
             "cost_usd": spent, "budget_usd": 5.0, "budget_share": spent / 5}
        )  # fmt: skip
        activity[str(n)] = None if not claimed else {
            "sockets": 0 if n % 11 == 0 else 1, "shadows": 0, "input_age": (n * 37) % 900,
            "output_age": 1, "foreground": "claude" if n % 3 == 0 else None,
        }  # fmt: skip
    workshop = {
        "id": "wbig", "name": "Claude Code day (200 seats)", "code": "CLAUDE-BIG2", "seats": seats,
        "seats_per_host": 20, "status": "running", "error": None, "model_paused": False,
        "hosts": hosts,
        "cost": {"estimate": None, "so_far": {"vm_usd": 3.1, "model_usd": 41.5}, "final": None},
    }  # fmt: skip
    total = round(sum(r["cost_usd"] for r in rows), 2)
    return {"workshop": workshop, "seats": rows, "totals": {"cost_usd": total}}, activity


def test_the_grid_stays_readable_at_200_seats(platform: Any, context: Any, artifacts: Path) -> None:
    """Layout only: the API and the agents are replaced by recorded answers (page.route)."""
    room, activity = _fake_room(200)

    def api(route: Route) -> None:
        url = route.request.url
        if url.endswith("/room"):
            body: Any = room
        elif url.endswith("/shadow-token"):
            body = {"token": "t", "expires_in": 3600, "workshop": {}, "hosts": []}
        elif "/control/activity" in url:
            first = int(url.rsplit("/", 3)[-3]) * 20 + 1
            seats = range(first, first + 20)
            body = {"seats": {str(n): activity[str(n)] for n in seats if activity[str(n)]}}
        else:
            body = {"workshops": [room["workshop"]], "next_cursor": None}
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    context.route("**/api/**", api)
    context.route("http://127.0.0.1:9/**", api)
    page = context.new_page()
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(f"{platform.url}/instructor#token=fake")
    page.locator('[data-action="open"]').click()
    expect(page.locator(".tile")).to_have_count(200)
    expect(page.locator('.tile[data-state="connected"]').first).to_be_visible()
    expect(tile(page, 3)).to_contain_text("claude")
    expect(tile(page, 11)).to_have_attribute("data-state", "disconnected")
    expect(tile(page, 13)).to_have_attribute("data-state", "free")
    box = tile(page, 200).bounding_box()
    assert box is not None and box["y"] + box["height"] < 1000  # 200 seats fit one screen
    page.locator("#filter-budget").check()
    over = [r["seat"] for r in room["seats"] if r["budget_share"] >= 0.8]
    expect(page.locator(".tile:visible")).to_have_count(len(over))
    page.locator("#filter-budget").uncheck()
    page.screenshot(path=str(artifacts / "cockpit-200.png"))
    if os.environ.get("CLARATEACH_UPDATE_SCREENSHOTS") == "1":
        README_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(artifacts / "cockpit-200.png", README_SCREENSHOT)
