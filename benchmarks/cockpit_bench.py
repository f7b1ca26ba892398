"""The instructor cockpit with a full room: API load, keystroke → tile latency, first render.

Against ``clarateach local up`` (real agents): a workshop of ``--seats`` seats (default 200,
20 per host), every seat joined through ``POST /api/join``, one cockpit open in headless
Chromium. Reported, never asserted:

* API requests per minute caused by the open cockpit (counted in the browser, over
  ``--window`` seconds), and the agents' requests per minute (``/control/activity``);
* keystroke → tile change: a learner's terminal (a WebSocket client) sends one key on a
  seat that never typed; the time until that seat's idle time stops being a dash (p50/p99);
* grid first render: "Open" click → every tile in the DOM.

    python -m benchmarks.cockpit_bench [--seats 200] [--samples 30] [--window 60]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from benchmarks._stats import print_table, summarize
from tests.e2e.conftest import CHROMIUM_ARGS, WEB_DIR
from tests.e2e.platform_process import local_platform


async def _keystroke(endpoint: str, seat: int, token: str) -> float:
    """Open the seat's terminal, wait for the hello, send one key; the send's monotonic time."""
    protocols = ("clarateach.terminal.v1", f"bearer.{token}")
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{endpoint}/seats/{seat}/terminal", protocols=protocols) as ws,
    ):
        while True:
            message = await ws.receive(timeout=30)
            if message.type is aiohttp.WSMsgType.TEXT and '"hello"' in message.data:
                break
        sent = time.monotonic()
        await ws.send_bytes(b"#")
        await asyncio.sleep(0.2)  # let the frame reach the agent before closing
        return sent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seats", type=int, default=200)
    parser.add_argument("--per-host", type=int, default=20)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--window", type=float, default=60.0)
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None or not (WEB_DIR / "dist" / "index.html").is_file():
        print("needs Debian chromium and a built web/dist (cd web && npm ci && npm run build)")
        return 1
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, local_platform(Path(tmp), WEB_DIR / "dist") as up:
        instructor = up.instructor()
        started = time.monotonic()
        workshop = instructor.running_workshop(
            "bench", seats=args.seats, seats_per_host=args.per_host
        )
        print(f"{args.seats} seats running in {time.monotonic() - started:.1f} s")
        grants: list[dict[str, Any]] = []
        with httpx.Client(base_url=up.url, timeout=30) as http:
            for _ in range(args.seats):
                response = http.post("/api/join", json={"code": workshop["code"]})
                response.raise_for_status()
                grants.append(response.json())
        print(f"{len(grants)} seats joined")

        api_requests: list[float] = []
        agent_requests: list[float] = []
        latencies: list[float] = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 1000})

            def count(request: Any) -> None:
                url = request.url
                if url.startswith(up.url + "/api/"):
                    api_requests.append(time.monotonic())
                elif "/control/activity" in url:
                    agent_requests.append(time.monotonic())

            page.on("request", count)
            page.goto(f"{up.url}/instructor#token={up.admin_token}")
            page.wait_for_selector('[data-action="open"]')
            clicked = time.monotonic()
            page.locator('[data-action="open"]').first.click()
            page.wait_for_function(
                f"() => document.querySelectorAll('.tile').length === {args.seats}"
            )
            first_render = time.monotonic() - clicked
            page.wait_for_function(
                "() => document.querySelectorAll('.tile[data-state=\"disconnected\"]').length > 0",
                timeout=30_000,
            )

            window_start = time.monotonic()
            aside = ThreadPoolExecutor(max_workers=1)
            for grant in grants[: args.samples]:
                seat = grant["seat"]
                tile = f'.tile[data-seat="{seat}"] .tile-idle'
                idle = f"document.querySelector('{tile}')?.textContent ?? ''"
                changed = f"() => !['\\u2013', ''].includes({idle})"
                # Keystrokes at random moments, not in step with the page's polls.
                page.wait_for_timeout(random.uniform(0, 2000))
                # Playwright's sync API owns this thread's event loop: the client runs aside.
                keystroke = _keystroke(grant["endpoint"], seat, grant["token"])
                sent = aside.submit(asyncio.run, keystroke).result()
                page.wait_for_function(changed, timeout=15_000)
                latencies.append(time.monotonic() - sent)
            aside.shutdown()
            left = args.window - (time.monotonic() - window_start)
            if left > 0:
                page.wait_for_timeout(left * 1000)
            window = time.monotonic() - window_start
            in_window = [t for t in api_requests if t >= window_start]
            agents_in_window = [t for t in agent_requests if t >= window_start]
            browser.close()
        instructor.close()

    hosts = -(-args.seats // args.per_host)
    print_table(
        f"cockpit, {args.seats} joined seats on {hosts} hosts, one open cockpit",
        [
            summarize("keystroke -> tile change", latencies, window),
            summarize("grid first render (Open -> every tile)", [first_render], first_render),
        ],
    )
    print(f"API requests/min caused by the cockpit: {len(in_window) * 60 / window:.1f}")
    agent_rate = len(agents_in_window) * 60 / window
    print(f"agent /control/activity requests/min (all hosts): {agent_rate:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
