"""Fixtures for the browser tests: the built web client, ``clarateach local up``, Chromium.

Debian's ``chromium`` is driven through ``executable_path`` (``playwright install`` cannot
download browsers here). One platform and one browser serve the whole e2e session; every
test gets a fresh browser context (its own localStorage, i.e. its own learner).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.e2e.platform_process import (
    FAKE_API_KEY,
    Instructor,
    PlatformUnderTest,
    RunningPlatform,
    local_platform,
)
from tests.e2e.stub_platform import (
    STUB_WORKSHOP_ID,
    STUB_WORKSHOP_NAME,
    StubPlatform,
    stub_platform,
)
from tests.gateway.fake_upstream import FakeAnthropic

ROOT = Path(__file__).resolve().parents[2]
WEB_DIR = ROOT / "web"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="session")
def web_dist() -> Path:
    """``web/dist``, built with npm if it is missing (``nox -s tests`` builds it first)."""
    dist = WEB_DIR / "dist"
    if (dist / "index.html").is_file():
        return dist
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip(
            "web/dist is not built and npm is not installed (cd web && npm ci && npm run build)"
        )
    if not (WEB_DIR / "node_modules").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB_DIR, check=True)
    subprocess.run([npm, "run", "build"], cwd=WEB_DIR, check=True)
    return dist


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def _use_stub() -> bool:
    """``CLARATEACH_E2E_PLATFORM=stub``: the stub (fake join + real agent), not ``local up``."""
    return os.environ.get("CLARATEACH_E2E_PLATFORM", "local") == "stub"


# Package scope, not session: Playwright's sync API keeps an event loop registered on the
# main thread while it runs, which would break every asyncio test collected after tests/e2e.
@pytest.fixture(scope="package")
def platform(
    web_dist: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PlatformUnderTest]:
    state_dir = tmp_path_factory.mktemp("platform")
    if _use_stub():
        with stub_platform(state_dir, web_dist) as stub:
            yield stub
    else:
        with local_platform(state_dir, web_dist) as running:
            yield running


@pytest.fixture(scope="package")
def instructor(platform: PlatformUnderTest) -> Iterator[Instructor]:
    if not isinstance(platform, RunningPlatform):
        pytest.skip("needs the instructor API of `clarateach local up` (not the stub)")
    client = platform.instructor()
    yield client
    client.close()


@pytest.fixture(scope="package")
def workshop(platform: PlatformUnderTest, request: pytest.FixtureRequest) -> dict[str, Any]:
    """One running workshop shared by the browser tests; each test's learner takes a seat.

    About 20 tests take a seat; 30 seats on two hosts leave room and put later learners on
    the second host (a different agent endpoint), as in a real multi-host workshop.
    """
    if isinstance(platform, StubPlatform):
        return {"id": STUB_WORKSHOP_ID, "code": platform.code, "name": STUB_WORKSHOP_NAME}
    instructor: Instructor = request.getfixturevalue("instructor")
    return instructor.running_workshop("E2E journey", seats=30, seats_per_host=15)


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("Debian chromium is required in CI (scripts/system-deps.sh installs it)")
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def context(browser: Any, request: pytest.FixtureRequest, artifacts: Path) -> Iterator[Any]:
    """A fresh learner (own storage). On failure, a screenshot of each page lands in artifacts."""
    ctx = browser.new_context(viewport={"width": 1360, "height": 860}, accept_downloads=True)
    ctx.set_default_timeout(15_000)
    yield ctx
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        for i, page in enumerate(ctx.pages):
            page.screenshot(path=str(artifacts / f"FAILED-{request.node.name}-{i}.png"))
    ctx.close()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def fake_upstream() -> Iterator[tuple[FakeAnthropic, str]]:
    """The fake Anthropic API on a loopback port, served from its own thread's loop."""
    fake = FakeAnthropic(key=FAKE_API_KEY)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    box: dict[str, Any] = {}

    async def serve() -> None:
        runner = web.AppRunner(fake.app())
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        box["runner"], box["port"] = runner, runner.addresses[0][1]
        started.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(serve(), loop).result(timeout=10)
    assert started.is_set()
    yield fake, f"http://127.0.0.1:{box['port']}"
    asyncio.run_coroutine_threadsafe(box["runner"].cleanup(), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
