"""One simulated learner: join with the code, open the terminal, wait for the prompt, run a
command, then type at a steady rate (measuring each keystroke's echo) and optionally make
model requests through the seat's gateway, as Claude Code in the seat would.

Every number is a measurement of this learner's own traffic (``time.perf_counter``); a
failure stops the learner and is recorded with a short, stable cause (``join:workshop_full``,
``terminal:http_429``, ``prompt:timeout``, ``echo:timeout``, ``model:http_529`` ...) so the
report can group them. Nothing secret (learner token, reconnect code, gateway token) is
kept in the result.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from clarateach.loadtest.terminal import ANSI_RE, Terminal, TerminalClosed, TerminalRefused

#: A bash/zsh-style prompt at the very end of the output so far (not ``>``: that is the
#: continuation prompt, and the gateway line ends with one).
PROMPT_RE = re.compile(rb"[$#%] ?$")
#: The command run at the first prompt; its *output* (42, not the typed ``$((40+2))``) proves
#: the shell works.
READY_COMMAND = b"echo ct-ready-$((40+2))\r"
READY_RE = re.compile(rb"ct-ready-42")
#: Prints the seat's gateway URL and token (the variables Claude Code reads); the typed line
#: itself cannot match (it shows ``%s``, not a URL).
GATEWAY_COMMAND = b'printf \'ct-gw<%s><%s>\\n\' "$ANTHROPIC_BASE_URL" "$ANTHROPIC_AUTH_TOKEN"\r'
GATEWAY_RE = re.compile(rb"ct-gw<(https?://[^<>\s]+)><([A-Za-z0-9_\-.]+)>")
#: Typed text: lower-case letters only (escape sequences are stripped before matching), in
#: comment lines so the shell runs nothing.
LETTERS = b"abcdefghijklmnopqrstuvwxyz"
LINE_LENGTH = 30
MAX_JOIN_RETRIES = 3
MAX_RETRY_AFTER_S = 10.0


@dataclass(frozen=True)
class LearnerPlan:
    code: str
    api_url: str
    origin: str
    duration: float
    type_rate: float
    model_requests: int
    #: Seconds each step may take before it counts as a failure.
    step_timeout: float = 30.0
    echo_timeout: float = 5.0
    model: str = "claude-sonnet-4-20250514"


@dataclass
class LearnerResult:
    index: int
    stage: str = "waiting"  # waiting → arrived → joined → prompt → done (or failed)
    seat: int | None = None
    host: int | None = None
    join_s: float | None = None
    join_retries: int = 0
    connect_s: float | None = None
    first_output_s: float | None = None
    code_to_prompt_s: float | None = None
    echo_s: list[float] = field(default_factory=list)
    model_s: list[float] = field(default_factory=list)
    cause: str | None = None
    detail: str = ""

    def fail(self, cause: str, detail: str = "") -> None:
        if self.cause is None:
            self.cause, self.detail, self.stage = cause, detail[:200], "failed"


class LearnerFailed(Exception):
    def __init__(self, cause: str, detail: str = "") -> None:
        super().__init__(cause)
        self.cause, self.detail = cause, detail


EndpointRewrite = Any  # Callable[[str], str]; a seam for tests (e.g. a slowed agent)


class EchoMeter:
    """Matches typed letters to their echo in the output, in order."""

    def __init__(self, result: LearnerResult) -> None:
        self.pending: deque[tuple[int, float]] = deque()
        self.result = result

    def typed(self, char: int, at: float) -> None:
        self.pending.append((char, at))

    def output(self, data: bytes, at: float) -> None:
        if not self.pending:
            return
        for char in ANSI_RE.sub(b"", data):
            if not self.pending:
                return
            if char == self.pending[0][0]:
                self.result.echo_s.append(at - self.pending.popleft()[1])

    def oldest_age(self, now: float) -> float:
        return now - self.pending[0][1] if self.pending else 0.0


async def run_learner(
    index: int,
    plan: LearnerPlan,
    session: aiohttp.ClientSession,
    result: LearnerResult,
    rewrite: EndpointRewrite = None,
) -> LearnerResult:
    """Run one learner to the end (or its first failure); never raises except on cancel."""
    terminal: Terminal | None = None
    result.stage = "arrived"
    try:
        started = time.perf_counter()
        joined = await _join(session, plan, result)
        result.stage = "joined"
        endpoint = str(joined["endpoint"])
        if rewrite is not None:
            endpoint = rewrite(endpoint)
        opened = time.perf_counter()
        try:
            terminal = await Terminal.open(
                session,
                endpoint,
                int(joined["seat"]),
                str(joined["token"]),
                plan.origin,
                timeout=plan.step_timeout,
            )
        except TerminalRefused as exc:
            cause = f"terminal:http_{exc.status}" if exc.status else "terminal:unreachable"
            raise LearnerFailed(cause, str(exc)) from None
        result.connect_s = time.perf_counter() - opened
        await _step(terminal.wait_for(PROMPT_RE, plan.step_timeout), "prompt")
        if terminal.first_output_at is not None:
            result.first_output_s = terminal.first_output_at - opened
        terminal.mark()
        await terminal.send(READY_COMMAND)
        await _step(terminal.wait_for(READY_RE, plan.step_timeout), "command")
        result.code_to_prompt_s = time.perf_counter() - started
        result.stage = "prompt"
        # The next prompt, before anything else is typed: its letters must never be taken
        # for the echo of a keystroke.
        await _step(terminal.wait_for(PROMPT_RE, plan.step_timeout), "prompt")
        gateway: tuple[str, str] | None = None
        if plan.model_requests:
            terminal.mark()
            await terminal.send(GATEWAY_COMMAND)
            found = await _step(terminal.wait_for(GATEWAY_RE, plan.step_timeout), "gateway")
            gateway = (found.group(1).decode(), found.group(2).decode())
            await _step(terminal.wait_for(PROMPT_RE, plan.step_timeout), "prompt")
            if rewrite is not None:
                gateway = (rewrite(gateway[0]), gateway[1])
        model_task = None
        if gateway is not None:
            model_task = asyncio.create_task(_model_requests(session, plan, gateway, result))
        await _type(terminal, plan, result)
        if model_task is not None:
            await model_task
        if result.cause is None:
            result.stage = "done"
    except LearnerFailed as exc:
        result.fail(exc.cause, exc.detail)
    except TerminalClosed as exc:
        result.fail(f"terminal:closed_{exc.code}", str(exc))
    except (aiohttp.ClientError, OSError) as exc:
        result.fail("network", type(exc).__name__)
    finally:
        if terminal is not None:
            await terminal.close()
    return result


async def _step(awaitable: Any, name: str) -> Any:
    try:
        return await awaitable
    except TimeoutError:
        raise LearnerFailed(f"{name}:timeout") from None


async def _join(
    session: aiohttp.ClientSession, plan: LearnerPlan, result: LearnerResult
) -> dict[str, Any]:
    """``POST /api/join`` with a per-learner client nonce; a 429 is retried after its
    ``Retry-After`` (at most ``MAX_JOIN_RETRIES`` times), as the web client does."""
    body = {"code": plan.code, "client_nonce": f"loadtest-{secrets.token_hex(12)}"}
    url = f"{plan.api_url.rstrip('/')}/api/join"
    while True:
        began = time.perf_counter()
        try:
            async with session.post(
                url, json=body, timeout=aiohttp.ClientTimeout(total=plan.step_timeout)
            ) as response:
                payload = await _json(response)
                status = response.status
                retry_after = response.headers.get("Retry-After", "1")
        except TimeoutError:
            raise LearnerFailed("join:timeout") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise LearnerFailed("join:unreachable", type(exc).__name__) from None
        if status == 200 and isinstance(payload, dict) and "token" in payload:
            result.join_s = time.perf_counter() - began
            result.seat, result.host = int(payload["seat"]), int(payload["host"])
            return payload
        error = payload.get("error") if isinstance(payload, dict) else None
        code = error.get("code") if isinstance(error, dict) else f"http_{status}"
        if status == 429 and result.join_retries < MAX_JOIN_RETRIES:
            result.join_retries += 1
            await asyncio.sleep(min(_seconds(retry_after), MAX_RETRY_AFTER_S))
            continue
        message = str(error.get("message", "")) if isinstance(error, dict) else ""
        raise LearnerFailed(f"join:{code}", message)


async def _type(terminal: Terminal, plan: LearnerPlan, result: LearnerResult) -> None:
    """Type comment lines at ``plan.type_rate`` keys/s for ``plan.duration`` seconds."""
    if plan.duration <= 0 or plan.type_rate <= 0:
        return
    meter = EchoMeter(result)
    terminal.on_output = meter.output
    interval = 1.0 / plan.type_rate
    end = time.perf_counter() + plan.duration
    column = 0
    next_key = time.perf_counter()
    terminal.mark()
    await terminal.send(b"#")
    while time.perf_counter() < end:
        now = time.perf_counter()
        if meter.oldest_age(now) > plan.echo_timeout:
            raise LearnerFailed("echo:timeout", f"no echo for {plan.echo_timeout:g} s")
        if next_key > now:
            await asyncio.sleep(next_key - now)  # the typing rate itself
        next_key += interval
        if column == LINE_LENGTH:
            await _end_line(terminal, meter, plan)
            column = 0
            next_key = max(next_key, time.perf_counter())
            continue
        char = LETTERS[(result.index + len(result.echo_s) + len(meter.pending)) % len(LETTERS)]
        meter.typed(char, time.perf_counter())
        await terminal.send(bytes([char]))
        column += 1
    deadline = time.perf_counter() + plan.echo_timeout
    while meter.pending and time.perf_counter() < deadline:
        await terminal.wait_output(deadline - time.perf_counter())
    if meter.pending:
        raise LearnerFailed("echo:timeout", f"{len(meter.pending)} keystrokes never echoed")


async def _end_line(terminal: Terminal, meter: EchoMeter, plan: LearnerPlan) -> None:
    """Enter, then wait for the next prompt (so its letters are never taken for an echo)."""
    deadline = time.perf_counter() + plan.echo_timeout
    while meter.pending:
        if time.perf_counter() > deadline:
            raise LearnerFailed("echo:timeout", f"no echo for {plan.echo_timeout:g} s")
        await terminal.wait_output(deadline - time.perf_counter())
    terminal.mark()
    await terminal.send(b"\r")
    await _step(terminal.wait_for(PROMPT_RE, plan.step_timeout), "prompt")
    terminal.mark()
    await terminal.send(b"#")


async def _model_requests(
    session: aiohttp.ClientSession,
    plan: LearnerPlan,
    gateway: tuple[str, str],
    result: LearnerResult,
) -> None:
    """``plan.model_requests`` Messages calls spread over the typing time, one at a time."""
    base, token = gateway
    gap = plan.duration / plan.model_requests if plan.model_requests else 0.0
    body = {
        "model": plan.model,
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "Say hello (clarateach loadtest)."}],
    }
    headers = {"x-api-key": token, "anthropic-version": "2023-06-01"}
    for n in range(plan.model_requests):
        began = time.perf_counter()
        try:
            async with session.post(
                f"{base.rstrip('/')}/v1/messages",
                json=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=plan.step_timeout),
            ) as response:
                payload = await _json(response)
                status = response.status
        except TimeoutError:
            result.fail("model:timeout")
            return
        except (aiohttp.ClientError, OSError) as exc:
            result.fail("model:unreachable", type(exc).__name__)
            return
        if status != 200:
            error = payload.get("error") if isinstance(payload, dict) else None
            kind = error.get("type", "") if isinstance(error, dict) else ""
            result.fail(f"model:http_{status}", str(kind))
            return
        result.model_s.append(time.perf_counter() - began)
        if n + 1 < plan.model_requests:
            await asyncio.sleep(max(0.0, began + gap - time.perf_counter()))  # the request rate


async def _json(response: aiohttp.ClientResponse) -> Any:
    try:
        return json.loads(await response.read() or b"null")
    except ValueError:
        return None


def _seconds(value: str) -> float:
    try:
        return max(0.0, float(value))
    except ValueError:
        return 1.0
