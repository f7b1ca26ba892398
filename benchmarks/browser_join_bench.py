"""Join click → first shell prompt, in headless Chromium against ``clarateach local up``.

Each sample is a fresh browser context (a new learner) on the same running workshop:
type the code, click Join, then wait until the terminal shows a prompt. Also measured:
click → "Connected" badge, and page reload → the earlier output back on screen (seat resumed
from localStorage, screen replayed by the agent). Reported, never asserted.

    python -m benchmarks.browser_join_bench [--learners 8]
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._stats import print_table, summarize
from tests.e2e.conftest import CHROMIUM_ARGS, WEB_DIR
from tests.e2e.learner import LearnerPage
from tests.e2e.platform_process import local_platform


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=8)
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None or not (WEB_DIR / "dist" / "index.html").is_file():
        print("needs Debian chromium and a built web/dist (cd web && npm ci && npm run build)")
        return 1
    from playwright.sync_api import sync_playwright

    to_prompt: list[float] = []
    to_connected: list[float] = []
    reload_restored: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, local_platform(Path(tmp), WEB_DIR / "dist") as up:
        instructor = up.instructor()
        workshop = instructor.running_workshop("bench", seats=args.learners)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
            started = time.perf_counter()
            for _ in range(args.learners):
                context = browser.new_context()
                learner = LearnerPage(context.new_page(), up.url)
                learner.open()
                clicked = learner.join(workshop["code"])
                learner.wait_connected()
                to_connected.append(time.monotonic() - clicked)
                learner.wait_for_prompt()
                to_prompt.append(time.monotonic() - clicked)

                marker = f"bench-{secrets.token_hex(3)}"
                learner.run(f"echo {marker}")
                learner.wait_for_line(marker)
                reloaded = time.monotonic()
                learner.page.reload()
                learner.wait_for_line(marker)
                reload_restored.append(time.monotonic() - reloaded)
                context.close()
            wall = time.perf_counter() - started
            browser.close()
        instructor.close()
    print_table(
        "browser join (headless Chromium, local up)",
        [
            summarize("click -> connected", to_connected, wall),
            summarize("click -> first prompt", to_prompt, wall),
            summarize("reload -> screen restored", reload_restored, wall),
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
