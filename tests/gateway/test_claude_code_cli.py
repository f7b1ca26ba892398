"""The real Claude Code CLI in a real seat: the agent (gateway + local runtime, sandboxed by
bubblewrap where it works, buffered terminal) runs the pinned ``claude`` the platform installs
(``clarateach.claude_code``), typed into the learner's web terminal, against the fake
Anthropic upstream (``fake_upstream.py``, streaming SSE as Anthropic does).

Claude Code is installed by the ``claude_code`` fixture through the same installer
``clarateach local up`` uses (cached per version under ``~/.cache/clarateach``). A failed
install is an error of these tests, never a skip: CI must run them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from clarateach.claude_code import Installation, ensure_installed, pinned_version
from shared.adapters.local_secrets import LocalSecrets
from shared.auth.tokens import SigningKey
from shared.domain.model_policy import ModelPolicy
from tests.agent.terminal_client import Terminal
from tests.gateway.conftest import ISSUER, WORKSHOP, learner_token
from tests.gateway.fake_upstream import FAKE_KEY, TOOL_DONE, FakeAnthropic
from tests.support.wait import async_wait_for
from workspace_agent.app import CONTEXT, GATEWAY, create_app
from workspace_agent.gateway.usage import TOKEN_FIELDS, ResponseUsage
from workspace_agent.runtimes.local import LocalRuntime
from workspace_agent.settings import AgentSettings
from workspace_agent.terminal.holder_client import stop_holder

#: Claude Code's cold start plus a model round trip, on a loaded 2-core machine.
CLAUDE_TIMEOUT = 120.0
LOGIN_WORDS = re.compile(r"login|authenticat", re.IGNORECASE)


@pytest.fixture(scope="session")
def claude_code() -> Installation:
    installation = ensure_installed(pinned_version())
    assert installation.claude.exists()
    return installation


@dataclass
class Seat:
    """Seat 1 of a running agent, and the learner's terminal on it."""

    url: str
    app: web.Application
    state_dir: Path
    terminal: Terminal
    runs: int = 0

    @property
    def work(self) -> Path:
        return self.state_dir / "seats" / "1" / "work"

    @property
    def gateway(self):  # type: ignore[no-untyped-def]
        return self.app[GATEWAY]

    async def run(self, command: str, timeout: float = CLAUDE_TIMEOUT) -> str:
        """Type ``command`` into the terminal; return what the learner saw until it ended."""
        self.runs += 1
        since = len(self.terminal.output)
        marker = f"DONE{self.runs}"
        # The shell computes the marker, so the echo of the typed line never matches it.
        await self.terminal.type(f'{command}; echo "DONE$((0+{self.runs}))=$?"\r')
        found = await self.terminal.read_until(rf"{marker}=(\d+)", timeout=timeout, since=since)
        seen = self.terminal.output[since:].decode("utf-8", "replace")
        return seen[: seen.index(found.group(0)) + len(found.group(0))]


SeatFactory = Callable[..., Awaitable[Seat]]


@pytest.fixture
async def seat_factory(
    tmp_path: Path, upstream_url: str, signing_key: SigningKey, claude_code: Installation
) -> AsyncIterator[SeatFactory]:
    stack = contextlib.AsyncExitStack()

    async def start(policy: ModelPolicy | None = None) -> Seat:
        state_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"ctcc-{os.getpid()}-{id(stack)}"
        state_dir.mkdir(mode=0o700)
        stack.callback(shutil.rmtree, state_dir, True)
        stack.callback(stop_holder, state_dir)  # after the agent: the held shells end here
        secrets_dir = tmp_path / "secrets"
        key_ref = LocalSecrets(secrets_dir).put("ws-gw-key", FAKE_KEY)
        sock = socket.create_server(("127.0.0.1", 0))
        sock.setblocking(False)
        port = sock.getsockname()[1]
        settings = AgentSettings(
            workshop_id=WORKSHOP, host_index=0, seats=(1,), issuer=ISSUER, state_dir=state_dir,
            port=port, public_url=f"http://127.0.0.1:{port}", secrets_url=f"local:{secrets_dir}",
            api_key_ref=key_ref, model_upstream=upstream_url, gateway=True,
            terminal_backend="buffered", bwrap=None, claude_code_dir=str(claude_code.prefix),
            model_policy=(policy or ModelPolicy()).model_dump_json(),
        )  # fmt: skip
        app = create_app(settings, keys={signing_key.kid: signing_key.public_key})
        runner = web.AppRunner(app)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        await web.SockSite(runner, sock).start()
        ctx = app[CONTEXT]
        await async_wait_for(lambda: ctx.readiness.ready, timeout=30, message="seat ready")
        assert isinstance(ctx.runtime, LocalRuntime)
        session = await stack.enter_async_context(aiohttp.ClientSession())
        url = f"http://127.0.0.1:{port}"
        terminal = await Terminal.open_url(session, url, 1, learner_token(signing_key, 1))
        stack.push_async_callback(terminal.close)
        return Seat(url, app, state_dir, terminal)

    yield start
    await stack.aclose()


def read_json_file(path: Path) -> dict[str, object]:
    doc = json.loads(path.read_text())
    assert isinstance(doc, dict)
    return doc


# ------------------------------------------------------------------------------ the CLI
async def test_the_seat_runs_the_pinned_claude_code(
    seat_factory: SeatFactory, claude_code: Installation
) -> None:
    seat = await seat_factory()
    seen = await seat.run("claude --version; command -v claude; tr '\\0' ' ' < /proc/1/cmdline")
    assert f"{claude_code.version} (Claude Code)" in seen
    assert f"{claude_code.prefix}/bin/claude" in seen
    if shutil.which("bwrap"):  # CI installs it: there the seat is the real sandbox
        assert re.search(r"bwrap .*--ro-bind " + re.escape(str(claude_code.prefix)), seen), seen


async def test_claude_print_json_answers_with_the_fakes_text_and_exact_usage(
    seat_factory: SeatFactory, fake: FakeAnthropic
) -> None:
    seat = await seat_factory()
    seen = await seat.run('claude -p "Say hello" --output-format json > out.json')
    assert re.search(r"DONE1=0", seen), seen

    result = read_json_file(seat.work / "out.json")
    assert result["is_error"] is False, result
    assert result["result"] == fake.text()
    usage = result["usage"]
    assert isinstance(usage, dict)
    assert {name: usage[name] for name in TOKEN_FIELDS} == fake.usage

    # What the gateway counted for the seat is exactly what the upstream reported.
    totals = seat.gateway.ledger.totals(1)
    assert totals.requests == len([r for r in fake.requests if r.path == "/v1/messages"]) == 1
    assert {name: getattr(totals, name) for name in TOKEN_FIELDS} == fake.usage

    # What Claude Code sent, as the README's gateway section says.
    sent = fake.requests[0]
    assert sent.query == "beta=true"
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.headers["x-app"] == "cli"
    assert sent.headers["x-claude-code-session-id"] == result["session_id"]
    assert sent.headers["x-api-key"] == FAKE_KEY
    assert "authorization" not in {name.lower() for name in sent.headers}


async def test_a_bash_tool_round_trip_runs_in_the_seat_workspace(
    seat_factory: SeatFactory, fake: FakeAnthropic
) -> None:
    fake.mode = "bash_tool"
    seat = await seat_factory()
    seen = await seat.run(
        'claude -p "Prove where you run" --allowedTools Bash --output-format json > out.json'
    )
    assert "DONE1=0" in seen, seen

    proof = seat.work / "tool-proof.txt"
    assert proof.read_text() == "tool-ran\n"
    result = read_json_file(seat.work / "out.json")
    assert result["is_error"] is False, result
    assert result["num_turns"] == 2
    # The second turn carried the tool's output (pwd: the workspace) back to the model.
    assert result["result"] == f"{TOOL_DONE} {seat.work.resolve()}"
    messages = [r for r in fake.requests if r.path == "/v1/messages"]
    assert len(messages) == 2
    assert seat.gateway.ledger.totals(1).requests == 2


# --------------------------------------------------------------------------- refusals
async def _learner_sees(seat: Seat) -> str:
    seen = await seat.run('claude -p "hello there"')
    assert "DONE1=1" in seen, seen  # Claude Code failed the run...
    return seen


def _assert_shown_as_itself(seen: str, message: str) -> None:
    """... and said why in the gateway's words, not as a login problem."""
    assert f"API Error: Request rejected (429) · {message}" in seen, seen
    assert not LOGIN_WORDS.search(seen), seen


async def test_a_paused_workshop_is_shown_as_paused_not_as_a_login_problem(
    seat_factory: SeatFactory, fake: FakeAnthropic
) -> None:
    seat = await seat_factory()
    await seat.gateway.set_paused(True)
    seen = await _learner_sees(seat)
    _assert_shown_as_itself(
        seen, "Model access is paused by the instructor. Please wait for them to resume it."
    )
    assert fake.requests == []


async def test_an_ended_workshop_is_shown_as_ended(
    seat_factory: SeatFactory, fake: FakeAnthropic
) -> None:
    seat = await seat_factory()
    seat.gateway.stop_workshop()
    _assert_shown_as_itself(
        await _learner_sees(seat), "The workshop has ended; model access is closed."
    )
    assert fake.requests == []


async def test_an_exhausted_budget_is_shown_with_its_numbers(
    seat_factory: SeatFactory, fake: FakeAnthropic
) -> None:
    policy = ModelPolicy.model_validate({"defaults": {"max_output_tokens": 100}})
    seat = await seat_factory(policy)
    seat.gateway.ledger.record(1, ResponseUsage(output_tokens=100), 0.0)  # earlier requests
    _assert_shown_as_itself(
        await _learner_sees(seat),
        "Seat budget reached (100 of 100 output tokens used). Ask your instructor.",
    )
    assert fake.requests == []


async def test_a_disallowed_model_is_refused_naming_the_allowed_ones(
    seat_factory: SeatFactory, fake: FakeAnthropic
) -> None:
    policy = ModelPolicy.model_validate(
        {"claude_code": {"allowed_models": ["claude-haiku-4-5", "claude-sonnet-4-6"],
                         "default_model": "claude-haiku-4-5"}}
    )  # fmt: skip
    seat = await seat_factory(policy)
    allowed = "Allowed models: claude-haiku-4-5, claude-sonnet-4-6."
    # With the seat's settings (availableModels) Claude Code itself declines the model and
    # falls back to its own default, which the gateway refuses in turn.
    seen = await seat.run('claude -p "hi" --model claude-opus-4-6')
    assert "claude-opus-4-6" in seen and "DONE1=1" in seen, seen
    assert f"is not enabled for this workshop. {allowed}" in seen, seen
    assert "API Error: Request rejected (429) · Model '" in seen and not LOGIN_WORDS.search(seen)
    # A learner who deletes the settings file meets the gateway, which names the model.
    await seat.run("rm ~/.claude/settings.json")
    seen = await seat.run('claude -p "hi" --model claude-opus-4-6')
    _assert_shown_as_itself(
        seen, f"Model 'claude-opus-4-6' is not enabled for this workshop. {allowed}"
    )
    assert fake.requests == []

    # The workshop's default model (ANTHROPIC_MODEL) is what Claude Code uses unprompted.
    seen = await seat.run('claude -p "hi" --output-format json > out.json')
    assert "DONE4=0" in seen, seen
    assert json.loads(fake.requests[-1].body)["model"] == "claude-haiku-4-5"


# ---------------------------------------------------------------------------- secrets
async def test_no_instructor_key_anywhere_in_the_seat_after_claude_ran(
    seat_factory: SeatFactory, fake: FakeAnthropic
) -> None:
    seat = await seat_factory()
    seen = await seat.run(
        'claude -p "hi" > answer.txt; env > env.txt; cat /proc/self/environ > environ.bin;'
        " ls -a ~ > home.txt"
    )
    assert "DONE1=0" in seen, seen
    assert (seat.work / "answer.txt").read_text().strip() == fake.text().strip()
    env = (seat.work / "env.txt").read_text()
    assert "ANTHROPIC_AUTH_TOKEN=" in env and "ANTHROPIC_API_KEY" not in env
    assert b"ANTHROPIC_BASE_URL=" in (seat.work / "environ.bin").read_bytes()
    assert ".claude" in (seat.work / "home.txt").read_text().split()  # Claude Code wrote it

    checked = 0
    for path in (seat.state_dir / "seats").rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert FAKE_KEY.encode() not in path.read_bytes(), path
            checked += 1
    assert checked >= 5
    assert FAKE_KEY not in seen
