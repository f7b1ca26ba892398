"""Real shells, real PTYs: what a learner does all day in the terminal.

Every test runs against both terminal backends (``buffered``, the default, and ``tmux``):
the wire behaviour (docs/protocol.md §3) must not depend on the backend.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import struct
import termios
import time
from typing import Any

import aiohttp
import psutil
import pytest
from aiohttp.test_utils import TestClient

from tests.agent.conftest import AgentFactory, Tokens
from tests.agent.terminal_client import Terminal
from tests.support.wait import async_wait_for
from workspace_agent.app import CONTEXT
from workspace_agent.settings import AgentSettings
from workspace_agent.terminal.flow import READ_SIZE, ViewerSocket

Client = TestClient[Any, Any]


@pytest.fixture(params=["tmux", "buffered"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(settings: AgentSettings, backend: str) -> AgentSettings:
    return dataclasses.replace(settings, terminal_backend=backend)  # type: ignore[arg-type]


def viewers(client: Client) -> list[ViewerSocket]:
    return client.server.app[CONTEXT].registry.viewers()


def output_left_unread(viewer: ViewerSocket) -> bool:
    """Reads are paused and output is waiting in the PTY that nobody takes (the line discipline
    holds up to ~4 KiB): what a stalled client must lead to."""
    pty = getattr(viewer, "_pty", None) or viewer._shell._pty  # type: ignore[attr-defined]
    pending = struct.unpack("i", fcntl.ioctl(pty.fd, termios.FIONREAD, b"\0\0\0\0"))[0]
    return viewer.output_paused and pending >= 1024


async def test_type_a_command_and_see_its_output(agent: Client, tokens: Tokens) -> None:
    term = await Terminal.open(agent, 1, tokens.learner(1))
    assert term.hello == {"type": "hello", "seat": 1, "readonly": False, "window": 256 * 1024}
    assert term.ws.protocol == "clarateach.terminal.v1"  # the token is never echoed back
    await term.type("echo $((6 * 7))-answer\r")
    await term.read_until(r"42-answer")
    await term.close()


async def test_reconnect_shows_what_ran_while_away_and_the_shell_survives(
    agent: Client, tokens: Tokens, settings: AgentSettings
) -> None:
    gate = settings.state_dir / "gate"
    os.mkfifo(gate)
    term = await Terminal.open(agent, 1, tokens.learner(1))
    # The command blocks on a FIFO we control, so its output happens while no one watches.
    started = settings.workspace(1) / "started"
    await term.type(f"KEEP=kept-$((40+2)); touch started; cat {gate}; echo while-away-$((100+1))\r")
    await async_wait_for(started.exists, message="command running")
    await term.close()
    await async_wait_for(lambda: not viewers(agent), message="viewer closed")

    def release_gate() -> bool:
        try:
            fd = os.open(gate, os.O_WRONLY | os.O_NONBLOCK)  # ENXIO until `cat` opened it
        except OSError:
            return False
        os.write(fd, b"go\n")
        os.close(fd)
        return True

    await async_wait_for(release_gate, message="cat reading the FIFO")
    back = await Terminal.open(agent, 1, tokens.learner(1))
    await back.read_until(r"while-away-101")
    await back.type("echo $KEEP\r")
    await back.read_until(r"kept-42")  # same shell, same variables
    await back.close()


async def test_two_viewers_see_the_same_output(agent: Client, tokens: Tokens) -> None:
    first = await Terminal.open(agent, 2, tokens.learner(2))
    second = await Terminal.open(agent, 2, tokens.learner(2))
    await first.type("echo shared-$((7*6))\r")
    await first.read_until(r"shared-42")
    await second.read_until(r"shared-42")
    await first.close()
    await second.close()


async def test_instructor_shadows_read_only(
    agent: Client, tokens: Tokens, settings: AgentSettings
) -> None:
    learner = await Terminal.open(agent, 1, tokens.learner(1))
    shadow = await Terminal.open(agent, 1, tokens.instructor())
    assert shadow.hello["readonly"] is True
    await shadow.type("touch shadow-was-here\r")
    await learner.type("echo learner-$((2+2))\r")
    await shadow.read_until(r"learner-4")  # the instructor sees the learner's work
    await learner.read_until(r"learner-4")
    assert "shadow-was-here" not in learner.text
    assert not (settings.workspace(1) / "shadow-was-here").exists()
    await learner.close()
    await shadow.close()


async def test_resize_is_honoured_and_clamped(agent: Client, tokens: Tokens) -> None:
    term = await Terminal.open(agent, 1, tokens.learner(1))
    # SIGWINCH reaches tmux asynchronously: the shell waits for the size (bounded by read_until).
    await term.resize(123, 45)
    await term.type('until [ "$(stty size)" = "45 123" ]; do sleep 0.02; done; echo ok-$((1+1))\r')
    await term.read_until(r"ok-2")
    await term.resize(10**9, 10**9)
    await term.type('until [ "$(stty size)" = "200 500" ]; do sleep 0.02; done; echo ok-$((2+2))\r')
    await term.read_until(r"ok-4")
    await term.close()


async def test_malformed_control_messages_are_ignored(agent: Client, tokens: Tokens) -> None:
    term = await Terminal.open(agent, 1, tokens.learner(1))
    for junk in [
        "not json",
        "[]",
        "null",
        '{"type": "resize", "cols": "x", "rows": 3}',
        '{"type": "ack", "bytes": -5}',
        '{"type": "ack", "bytes": true}',
        '{"type": "nope"}',
        "{" * 10000,
    ]:
        await term.ws.send_str(junk)
    await term.type("echo still-$((1+1))\r")
    await term.read_until(r"still-2")
    assert not term.controls  # no error frames, no tracebacks
    await term.close()


async def test_oversized_input_frame_closes_with_1009(agent: Client, tokens: Tokens) -> None:
    term = await Terminal.open(agent, 1, tokens.learner(1))
    await term.ws.send_bytes(b"x" * (64 * 1024 + 1))
    while await term.pump(timeout=10):
        pass
    assert term.ws.close_code == 1009


async def test_invalid_utf8_and_a_big_burst_do_not_hurt(agent: Client, tokens: Tokens) -> None:
    term = await Terminal.open(agent, 1, tokens.learner(1))
    other = await Terminal.open(agent, 2, tokens.learner(2))
    await term.ws.send_bytes(b"echo \xff\xfe\xc3\xed\xa0\x80 bad-$((2+1))\r")  # invalid UTF-8 in
    await term.read_until(r"bad-3")
    # Random bytes minus C0 controls: invalid UTF-8 galore, but no escape that reprograms the
    # terminal (charset switches would garble the marker we wait for).
    await term.type(
        "head -c 10000000 /dev/urandom | tr -d '\\000-\\037'; echo; echo burst-$((5*5))\r"
    )
    await other.type("echo other-seat-$((3*3))\r")
    await other.read_until(r"other-seat-9")  # a flood on seat 1 does not block seat 2
    term.ack_every = 64 * 1024
    await term.read_until(r"burst-25", timeout=60)
    await term.close()
    await other.close()


async def test_slow_reader_pauses_the_pty_and_recovers(agent: Client, tokens: Tokens) -> None:
    term = await Terminal.open(agent, 1, tokens.learner(1))
    (viewer,) = viewers(agent)
    term.ack_every = 1 << 60  # never ack: a stalled xterm.js
    await term.type("yes flood\r")
    await async_wait_for(lambda: viewer.sent - viewer.acked > viewer.window, message="window full")
    rss = psutil.Process().memory_info().rss
    sent = viewer.sent
    # Keep the client stalled while `yes` keeps writing: output piles up unread in the PTY.
    await async_wait_for(lambda: output_left_unread(viewer), message="PTY reads paused")
    assert viewer.sent - viewer.acked <= viewer.window + READ_SIZE
    assert viewer.sent == sent
    assert psutil.Process().memory_info().rss - rss < 5 * 1024 * 1024
    # Recovery: the client catches up and acks; output flows again.
    term.ack_every = 16 * 1024
    await term.ack()
    while viewer.sent <= sent + 2 * viewer.window:  # more than another window flows
        assert await term.pump(timeout=10)
    await term.read_until(r"flood", since=len(term.output) - 1000)
    await term.ws.send_bytes(b"\x03")
    await term.type("echo stopped-$((8*8))\r")
    await term.read_until(r"stopped-64", timeout=30)
    await term.close()


async def test_token_expiry_closes_the_socket_with_4401(agent: Client, tokens: Tokens) -> None:
    token = tokens.learner(1, now=int(time.time()) - 3599, ttl_seconds=3600)  # expires in ~1 s
    term = await Terminal.open(agent, 1, token)
    while await term.pump(timeout=10):
        pass
    assert term.ws.close_code == 4401
    assert {"type": "error", "code": "token_expired", "message": "token_expired"} in term.controls


async def test_socket_caps_refuse_before_upgrade(
    make_agent: AgentFactory, tokens: Tokens, settings: AgentSettings
) -> None:
    client = await make_agent(dataclasses.replace(settings, max_viewers_per_seat=2))
    first = await Terminal.open(client, 1, tokens.learner(1))
    second = await Terminal.open(client, 1, tokens.learner(1))
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await Terminal.open(client, 1, tokens.learner(1))
    assert refused.value.status == 429
    await first.close()
    await second.close()


async def test_connect_disconnect_cycles_leak_nothing(agent: Client, tokens: Tokens) -> None:
    me = psutil.Process()
    token = tokens.learner(1)
    warm = await Terminal.open(agent, 1, token)
    await warm.close()
    await async_wait_for(lambda: not viewers(agent))
    baseline = (me.num_fds(), len(me.children(recursive=True)))
    for _ in range(30):
        term = await Terminal.open(agent, 1, token)
        await term.close()

    def settled() -> bool:
        # Below the baseline is no leak: a login shell's profile children, or a previous
        # test's, may still have been exiting when it was taken. A leak shows as growth.
        now = (me.num_fds(), len(me.children(recursive=True)))
        return not viewers(agent) and now[0] <= baseline[0] and now[1] <= baseline[1]

    await async_wait_for(settled, timeout=20, message=f"fds/children back to {baseline}")


async def test_session_ended_by_exit_is_recreated_on_reconnect(
    agent: Client, tokens: Tokens, settings: AgentSettings
) -> None:
    term = await Terminal.open(agent, 2, tokens.learner(2))
    await term.type("exit\r")
    while await term.pump(timeout=10):
        pass
    assert term.ws.close_code == 1000
    again = await Terminal.open(agent, 2, tokens.learner(2))
    await again.type("echo fresh-$((9+9)) $PWD\r")
    workspace = os.path.realpath(settings.workspace(2))  # noqa: ASYNC240 - a cheap local call
    await again.read_until(r"fresh-18 " + workspace)
    await again.close()


def test_hello_is_json_text() -> None:
    hello = {"type": "hello", "seat": 1, "readonly": False, "window": 1}
    assert json.loads(json.dumps(hello)) == hello


async def test_a_client_that_stops_reading_is_bounded_by_the_socket_buffer(
    make_agent: AgentFactory, tokens: Tokens, settings: AgentSettings
) -> None:
    """A client that acks without reading (or a huge window): the transport's write buffer,
    not the window, must stop PTY reads; reads resume once the socket drains."""
    client = await make_agent(dataclasses.replace(settings, flow_window=1 << 30))
    term = await Terminal.open(client, 1, tokens.learner(1))
    (viewer,) = viewers(client)
    transport = viewer._transport
    await term.type("yes flood\r")  # and now the client reads nothing at all
    await async_wait_for(lambda: viewer.output_paused and viewer.sent > 1 << 20,
                         timeout=30, message="paused on a full socket")  # fmt: skip
    assert transport.get_write_buffer_size() <= 2 * READ_SIZE + 256 * 1024
    sent = viewer.sent
    await async_wait_for(lambda: output_left_unread(viewer), message="output left in the PTY")
    assert viewer.sent == sent
    # Reading again drains the socket; the transport resumes writing and PTY reads restart
    # long before the client has caught up with what the kernel buffered.
    while viewer.sent < sent + 64 * 1024:
        assert await term.pump(timeout=10)
    await term.ws.send_bytes(b"\x03")
    await term.close()
