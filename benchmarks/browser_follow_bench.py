"""Write in the seat → the tree and the open editor tab updated, in headless Chromium.

Against ``clarateach local up``: one learner joins and opens ``follow-open.txt``; then, 200
times, the benchmark (standing in for Claude) creates a new file in the seat's workspace and
rewrites the open one, directly on disk, and times until the tree shows the new row and the
editor shows the new text (``requestAnimationFrame`` polling in the page). One change every
250 ms. Reported with the issue-21 target (tree within 1 s), never asserted.

    python -m benchmarks.browser_follow_bench [--changes 200]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._stats import print_table, summarize
from tests.e2e.conftest import CHROMIUM_ARGS, WEB_DIR
from tests.e2e.learner import LearnerPage
from tests.e2e.platform_process import local_platform

ROW_JS = '([path]) => !!document.querySelector(`[role=treeitem][data-path="${path}"]`)'
TEXT_JS = "([text]) => document.querySelector('.cm-content')?.innerText.includes(text)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=200)
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None or not (WEB_DIR / "dist" / "index.html").is_file():
        print("needs Debian chromium and a built web/dist (cd web && npm ci && npm run build)")
        return 1
    from playwright.sync_api import sync_playwright

    tree: list[float] = []
    editor: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, local_platform(Path(tmp), WEB_DIR / "dist") as up:
        instructor = up.instructor()
        workshop = instructor.running_workshop("bench follow", seats=1)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
            learner = LearnerPage(browser.new_context().new_page(), up.url)
            learner.open()
            learner.join(workshop["code"])
            learner.wait_for_prompt()
            seat = learner.seat()
            (work,) = Path(tmp).glob(f"**/seats/{seat}/work")
            opened = work / "follow-open.txt"
            opened.write_text("start\n")
            page = learner.page
            page.wait_for_function(ROW_JS, arg=[opened.name], polling="raf")
            page.locator(f'[role=treeitem][data-path="{opened.name}"] .tree-label').click()
            page.wait_for_function(TEXT_JS, arg=["start"], polling="raf")
            started = time.perf_counter()
            for i in range(args.changes):
                name = f"follow-{i:03}.txt"
                t0 = time.perf_counter()
                (work / name).write_text(f"{i}\n")
                page.wait_for_function(ROW_JS, arg=[name], polling="raf", timeout=30_000)
                tree.append(time.perf_counter() - t0)
                text = f"version {i} of the open file"
                t1 = time.perf_counter()
                opened.write_text(text + "\n")
                page.wait_for_function(TEXT_JS, arg=[text], polling="raf", timeout=30_000)
                editor.append(time.perf_counter() - t1)
                time.sleep(0.25)  # pace like an agent editing files (not a wait for a result)
            wall = time.perf_counter() - started
            browser.close()
        instructor.close()
    print_table(
        "browser follows disk (headless Chromium, local up); target: tree < 1 s",
        [
            summarize("write -> tree row", tree, wall),
            summarize("write -> editor text", editor, wall),
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
