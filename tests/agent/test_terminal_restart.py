"""Terminals survive an agent restart (issue 20): a real ``python -m workspace_agent`` with the
default ``buffered`` backend and its terminal holder, killed with SIGTERM or SIGKILL and
started again on the same port, while the seat runs ``yes``, ``vim`` or a 10 MB burst.

Afterwards the shell has the same PID, the job still runs, the environment is intact, and a
reconnecting client's screen — rendered by a headless terminal emulator (pyte) — matches the
screen before the restart (or, for output produced during the gap, the screen the complete
output stream renders). Twenty restarts leak no descriptor and no process.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pyte
import pytest

from tests.agent.conftest import ISSUER, WORKSHOP, Tokens
from tests.agent.terminal_client import Terminal
from tests.agent.test_process import Platform, platform  # noqa: F401 - the fixture
from tests.support.net import free_port
from tests.support.wait import async_wait_for, wait_for
from workspace_agent.terminal import holder_wire
from workspace_agent.terminal.fanout import RESET
from workspace_agent.terminal.holder_client import stop_holder

pytestmark = pytest.mark.slow

COLS, ROWS = 80, 24
SIGNALS = [signal.SIGTERM, signal.SIGKILL]
SIG_IDS = ["sigterm", "sigkill"]


class RestartableAgent:
    """One host's agent process on a fixed port, killed and started again at will."""

    def __init__(self, tmp_path: Path, platform: Platform) -> None:  # noqa: F811
        self.state = tmp_path / "st"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / "agent.log"
        self.env = {
            "PATH": os.environ["PATH"],
            "CLARATEACH_AGENT_WORKSHOP_ID": WORKSHOP,
            "CLARATEACH_AGENT_HOST_INDEX": "0",
            "CLARATEACH_AGENT_SEATS": "1-2",
            "CLARATEACH_AGENT_ISSUER": ISSUER,
            "CLARATEACH_AGENT_JWKS_URL": platform.url("/api/jwks.json"),
            "CLARATEACH_AGENT_STATE_DIR": str(self.state),
            "CLARATEACH_AGENT_PORT": str(self.port),
            "CLARATEACH_AGENT_GATEWAY": "false",
            "CLARATEACH_AGENT_BWRAP": "auto",
        }
        self.proc: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(  # noqa: ASYNC220 - returns at once
                [sys.executable, "-m", "workspace_agent"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        async def ready() -> bool:
            assert self.proc is not None and self.proc.poll() is None, self.log_path.read_text()
            try:
                async with aiohttp.ClientSession() as s, s.get(self.url + "/readyz") as resp:
                    return resp.status == 200
            except aiohttp.ClientError:
                return False

        await async_wait_for(ready, timeout=45, interval=0.1, message="agent /readyz")

    def kill(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        self.proc.wait(timeout=20)

    async def restart(self, sig: signal.Signals) -> None:
        self.kill(sig)
        await self.start()

    @property
    def ps(self) -> psutil.Process:
        assert self.proc is not None
        return psutil.Process(self.proc.pid)

    def holder(self) -> psutil.Process:
        pid = int((holder_wire.holder_dir(self.state) / holder_wire.PID_NAME).read_text())
        return psutil.Process(pid)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        stop_holder(self.state)


@pytest.fixture
async def agent(tmp_path: Path, platform: Platform) -> AsyncIterator[RestartableAgent]:  # noqa: F811
    agent = RestartableAgent(tmp_path, platform)
    try:
        await agent.start()
        yield agent
    finally:
        agent.stop()


# -- client side ---------------------------------------------------------------------------
class _PyteScreen(pyte.Screen):  # type: ignore[misc]
    def select_graphic_rendition(self, *attrs: int, private: bool = False, **kw: Any) -> None:
        if not private:  # vim's ESC[>4;2m (modifyOtherKeys) is no colour; pyte 0.8 chokes on it
            super().select_graphic_rendition(*attrs)


class Screen:
    """A client's terminal: everything it received, rendered by pyte."""

    def __init__(self) -> None:
        self.screen = _PyteScreen(COLS, ROWS)
        self.stream = pyte.ByteStream(self.screen)

    def feed(self, data: bytes) -> None:
        self.stream.feed(data)

    @property
    def rows(self) -> list[str]:
        return [line.rstrip() for line in self.screen.display]

    @property
    def cursor(self) -> tuple[int, int]:
        return self.screen.cursor.x, self.screen.cursor.y


async def open_term(agent: RestartableAgent, session: aiohttp.ClientSession, token: str) -> Any:
    ws = await session.ws_connect(
        f"{agent.url}/seats/1/terminal?cols={COLS}&rows={ROWS}",
        protocols=["clarateach.terminal.v1", f"bearer.{token}"],
        max_msg_size=0,
    )
    term = await Terminal._after_upgrade(ws)
    term.ack_every = 64 * 1024
    return term


async def settle(term: Terminal, quiet: float = 0.6, timeout: float = 30.0) -> None:
    """Pump until no output arrives for ``quiet`` seconds (deadline ``timeout``)."""
    loop_deadline = time.monotonic() + timeout
    while time.monotonic() < loop_deadline:
        try:
            if not await term.pump(quiet):
                return
        except TimeoutError:
            await term.ack()
            return
    raise AssertionError("output never went quiet")


def render(data: bytes) -> Screen:
    screen = Screen()
    screen.feed(bytes(data))
    return screen


def foreground_pid(shell_pid: int) -> int:
    """The PID of the shell's foreground job (the tty's foreground process group leader)."""
    stat = Path(f"/proc/{shell_pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[5])  # tpgid


def host_shell(agent: RestartableAgent) -> int:
    """The seat's login shell as this machine sees it (in bubblewrap ``$$`` is namespaced):
    the outermost ``bash`` below the holder."""

    def find() -> int | None:
        for proc in agent.holder().children(recursive=True):
            with_parent = proc.parent()
            if proc.name() == "bash" and (with_parent is None or with_parent.name() != "bash"):
                return proc.pid
        return None

    return wait_for(find, message="the seat's shell under the holder")


async def shell_pid(term: Terminal) -> int:
    await term.type("echo PID-$$-END\r")
    found = await term.read_until(r"PID-(\d+)-END\r?\n", timeout=20)
    return int(found.group(1))


async def login(agent: RestartableAgent, session: aiohttp.ClientSession, token: str) -> Any:
    term = await open_term(agent, session, token)
    await term.type("export CT_MARK=kept-$((40+2))\r")
    pid = await shell_pid(term)
    return term, pid


async def check_shell_kept(term: Terminal, pid: int) -> None:
    """Same shell, same environment, still taking input."""
    since = len(term.output)
    await term.type('echo "MARK-$CT_MARK"\r')
    await term.read_until(r"MARK-kept-42", timeout=20, since=since)
    assert await shell_pid(term) == pid


# -- the scenarios -------------------------------------------------------------------------
@pytest.mark.parametrize("sig", SIGNALS, ids=SIG_IDS)
async def test_restart_during_yes_keeps_the_job_and_the_screen(
    agent: RestartableAgent, tokens: Tokens, sig: signal.Signals
) -> None:
    token = tokens.learner(1)
    async with aiohttp.ClientSession() as session:
        term, pid = await login(agent, session, token)
        host = host_shell(agent)
        await term.type("yes\r")
        await term.read_until(r"(y\r\n){200}", timeout=20)
        job = await async_wait_for(lambda: foreground_pid(host) != host and foreground_pid(host))
        assert psutil.Process(job).name() == "yes"
        before = render(term.output).rows
        assert before[: ROWS - 1] == ["y"] * (ROWS - 1)
        await term.ws.close()

        await agent.restart(sig)

        assert psutil.Process(host).is_running() and foreground_pid(host) == job
        term = await open_term(agent, session, token)
        await term.read_until(r"(y\r\n){2000}", timeout=30)
        got = len(term.output)
        await term.read_until(r"(y\r\n){2000}", timeout=30, since=got)  # still producing
        assert render(term.output).rows[: ROWS - 1] == before[: ROWS - 1]
        await term.type("\x03")
        await async_wait_for(lambda: foreground_pid(host) == host, message="yes interrupted")
        await settle(term)
        await check_shell_kept(term, pid)


@pytest.mark.skipif(shutil.which("vim") is None, reason="vim is not installed")
@pytest.mark.parametrize("sig", SIGNALS, ids=SIG_IDS)
async def test_restart_during_vim_restores_the_exact_screen(
    agent: RestartableAgent, tokens: Tokens, sig: signal.Signals
) -> None:
    work = agent.state / "seats" / "1" / "work"
    (work / "poem.txt").write_text("".join(f"line {i}: the quick brown fox\n" for i in range(40)))
    token = tokens.learner(1)
    async with aiohttp.ClientSession() as session:
        term, pid = await login(agent, session, token)
        host = host_shell(agent)
        await term.type("vim -u NONE -N poem.txt\r")
        await term.read_until(r'"poem\.txt" 40L', timeout=20)
        await settle(term)
        vim = foreground_pid(host)
        assert psutil.Process(vim).name() == "vim"
        before = render(term.output)
        assert before.rows[0] == "line 0: the quick brown fox"
        await term.ws.close()

        await agent.restart(sig)

        term = await open_term(agent, session, token)
        await settle(term)
        after = render(term.output)
        assert term.output.startswith(RESET)
        assert (after.rows, after.cursor) == (before.rows, before.cursor)
        assert foreground_pid(host) == vim
        await term.type("ggiEDITED \x1b")  # the same vim takes keystrokes
        await term.read_until("EDITED", timeout=20, since=len(term.output))
        await term.type(":q!\r")
        await async_wait_for(lambda: foreground_pid(host) == host, message="vim exited")
        await settle(term)
        await check_shell_kept(term, pid)


BURST_LINES = 1_500_000  # `seq` output: 10.4 MB


@pytest.mark.parametrize("sig", SIGNALS, ids=SIG_IDS)
async def test_restart_during_a_10mb_burst_keeps_the_output_of_the_gap(
    agent: RestartableAgent, tokens: Tokens, sig: signal.Signals
) -> None:
    """The agent dies mid-burst; the holder drains the rest into the ring while no agent is
    there; the reconnected screen shows the end of the burst exactly as the whole stream
    renders it, and the replayed tail is the stream's tail with nothing lost or reordered."""
    token = tokens.learner(1)
    async with aiohttp.ClientSession() as session:
        term, pid = await login(agent, session, token)
        await term.type(f"seq 1 {BURST_LINES}; echo BURST-DONE\r")
        await term.read_until(r"\r\n100000\r\n", timeout=30)
        agent.kill(sig)  # mid-burst: most of it is produced while no agent runs
        tail_seen = term.output[-4096:]
        assert b"BURST-DONE" not in tail_seen
        await term.ws.close()
        await agent.start()

        term = await open_term(agent, session, token)
        await term.read_until(r"BURST-DONE\r\n", timeout=60)
        await settle(term)
        replay = bytes(term.output)
        assert replay.startswith(RESET)
        body = replay[len(RESET) :]
        assert len(body) >= 400 * 1024  # the ring's worth, not just what came after
        lines = body.split(b"\r\n")
        numbers = [int(x) for x in lines[1:] if re.fullmatch(rb"\d+", x)]
        assert numbers[-1] == BURST_LINES
        assert numbers == list(range(numbers[0], BURST_LINES + 1))  # no gap, no duplicate
        expected = b"\r\n".join(str(n).encode() for n in range(BURST_LINES - 40, BURST_LINES + 1))
        prompt = lines[-1]
        reference = render(expected + b"\r\nBURST-DONE\r\n" + prompt)
        assert render(replay).rows == reference.rows
        await check_shell_kept(term, pid)


# -- no leaks ------------------------------------------------------------------------------
def holder_state(agent: RestartableAgent) -> tuple[int, set[int]]:
    holder = agent.holder()
    children = {c.pid for c in holder.children() if c.status() != psutil.STATUS_ZOMBIE}
    return holder.num_fds(), children


async def test_twenty_restarts_leak_no_descriptor_or_process(
    agent: RestartableAgent, tokens: Tokens
) -> None:
    token = tokens.learner(1)
    async with aiohttp.ClientSession() as session:
        term, pid = await login(agent, session, token)
        await term.ws.close()
        holder_pid = agent.holder().pid
        await async_wait_for(lambda: len(holder_state(agent)[1]) == 1, message="one shell")
        baseline = holder_state(agent)
        agent_fds: list[int] = []
        for i in range(20):
            await agent.restart(SIGNALS[i % 2])
            term = await open_term(agent, session, token)
            assert await shell_pid(term) == pid
            await term.ws.close()
            if not agent_fds:
                await settle(term)
                agent_fds.append(agent.ps.num_fds())
        assert agent.holder().pid == holder_pid  # one holder throughout
        try:
            await async_wait_for(lambda: holder_state(agent) == baseline, timeout=20)
        except AssertionError as exc:
            raise AssertionError(f"holder not back to {baseline}: {holder_state(agent)}") from exc
        # The agent inherits nothing from its predecessors: no more descriptors than the first.
        await async_wait_for(lambda: agent.ps.num_fds() <= agent_fds[0], message="agent fds")
        holders = [
            p
            for p in psutil.process_iter(["cmdline"])
            if "workspace_agent.terminal.holder" in " ".join(p.info["cmdline"] or [])
            and str(agent.state.resolve()) in " ".join(p.info["cmdline"] or [])
        ]
        assert [p.pid for p in holders] == [holder_pid]
        assert agent.ps.children() == []  # the shells are the holder's, not the agent's


async def test_final_stop_hangs_up_every_shell(agent: RestartableAgent, tokens: Tokens) -> None:
    async with aiohttp.ClientSession() as session:
        term, _ = await login(agent, session, tokens.learner(1))
        pid = host_shell(agent)
        await term.type("sleep 1000 &\r")
        await async_wait_for(lambda: len(psutil.Process(pid).children()) == 1)
        (sleeper,) = psutil.Process(pid).children()
        holder = agent.holder()
        agent.kill(signal.SIGTERM)
        assert psutil.Process(pid).is_running()  # a restart-style stop keeps the shell
        assert stop_holder(agent.state)
        wait_for(lambda: not holder.is_running(), timeout=15, message="holder exited")
        for proc in (pid, sleeper.pid):
            wait_for(lambda p=proc: not psutil.pid_exists(p), timeout=15, message="shell gone")
        assert not (holder_wire.holder_dir(agent.state) / holder_wire.SOCKET_NAME).exists()
