"""What only the ``buffered`` terminal backend has: the replay ring, several viewers sharing
one agent-owned PTY (a stalled one must not block the others nor grow memory), resize
ownership, shells hung up at shutdown. Shared behaviour is in test_terminal.py (both backends).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import psutil
import pytest
from aiohttp.test_utils import TestClient

from tests.agent.conftest import AgentFactory, Tokens
from tests.agent.terminal_client import Terminal
from tests.support.wait import async_wait_for
from workspace_agent.app import CONTEXT
from workspace_agent.settings import AgentSettings
from workspace_agent.terminal.fanout import RESET, FanoutViewer
from workspace_agent.terminal.flow import HIGH_WATER, READ_SIZE
from workspace_agent.terminal.holder_client import HeldPty, stop_holder
from workspace_agent.terminal.ring import OutputRing
from workspace_agent.terminal.shared_ring import SharedRing, create_ring_fd
from workspace_agent.terminal.shell import RING_BYTES, SeatShells

Client = TestClient[Any, Any]


@pytest.fixture(params=[True, False], ids=["held", "own"])
def settings(settings: AgentSettings, request: pytest.FixtureRequest) -> AgentSettings:
    """Every test twice: shells in the terminal holder (the default; shared-memory ring) and
    shells as the agent's own children (``CLARATEACH_AGENT_SHELL_HOLDER=false``)."""
    return dataclasses.replace(settings, terminal_backend="buffered", shell_holder=request.param)


def shells(client: Client) -> SeatShells:
    found = client.server.app[CONTEXT].shells
    assert found is not None
    return found


def fanout_viewers(client: Client) -> list[FanoutViewer]:
    found = client.server.app[CONTEXT].registry.viewers()
    assert all(isinstance(v, FanoutViewer) for v in found)
    return found  # type: ignore[return-value]


def shell_pid(client: Client, seat: int) -> int:
    shell = shells(client).get(seat)
    assert shell is not None
    return shell.pid


# -- the ring ------------------------------------------------------------------------------
def shared_ring(capacity: int) -> SharedRing:
    fd = create_ring_fd(capacity)
    try:
        return SharedRing(fd)
    finally:
        os.close(fd)  # the mapping stays


RINGS = pytest.mark.parametrize("make_ring", [OutputRing, shared_ring], ids=["local", "shared"])


@RINGS
def test_ring_keeps_the_newest_bytes_under_absolute_offsets(make_ring: Any) -> None:
    ring = make_ring(10)
    ring.append(b"hello ")
    assert (ring.start, ring.end, ring.read(0, 100)) == (0, 6, b"hello ")
    ring.append(b"world!!")
    assert (ring.start, ring.end, len(ring)) == (3, 13, 10)
    assert ring.read(3, 4) == b"lo w"
    assert ring.read(13, 4) == b""
    with pytest.raises(ValueError):
        ring.read(2, 1)  # overwritten: the caller must resynchronise
    with pytest.raises(ValueError):
        ring.read(14, 1)


@RINGS
def test_ring_replay_starts_on_a_line_once_output_was_dropped(make_ring: Any) -> None:
    ring = make_ring(16)
    ring.append(b"ab\ncd")
    assert ring.replay_start() == 0  # nothing dropped: replay everything
    ring.append(b"ef\ngh\nij\nklmno")  # 19 bytes in all: the 3 oldest are gone
    assert ring.start == 3
    assert ring.read(ring.replay_start(), 100) == b"gh\nij\nklmno"  # not "def\n..."
    ring.clear()
    assert (len(ring), ring.replay_start()) == (0, ring.end)


def test_a_shared_ring_is_the_same_ring_in_another_mapping() -> None:
    """What a restarted agent sees: a second mapping of the memfd has the same offsets and
    bytes, across the wrap point and after an append larger than the ring."""
    fd = create_ring_fd(8)
    try:
        writer = SharedRing(fd)
        writer.append(b"abcdef")
        writer.append(b"ghij")  # wraps
        reader = SharedRing(fd)
        assert (reader.start, reader.end, reader.read(2, 100)) == (2, 10, b"cdefghij")
        reader.append(b"0123456789xy")  # larger than the ring: only its tail is kept
        again = SharedRing(fd)
        assert (again.start, again.end, again.read(again.start, 100)) == (14, 22, b"456789xy")
        assert again.replay_start() == 14  # dropped, but no newline near the front
    finally:
        os.close(fd)


def test_a_memfd_that_is_not_a_ring_is_refused() -> None:
    fd = os.memfd_create("not-a-ring")
    try:
        os.ftruncate(fd, 4096)
        with pytest.raises(ValueError, match="bad magic"):
            SharedRing(fd)
    finally:
        os.close(fd)


# -- the wire ------------------------------------------------------------------------------
async def test_reconnect_resets_the_screen_then_replays(agent: Client, tokens: Tokens) -> None:
    term = await Terminal.open(agent, 1, tokens.learner(1))
    await term.type("echo before-$((20+1))\r")
    await term.read_until(r"before-21")
    await term.close()
    back = await Terminal.open(agent, 1, tokens.learner(1))
    await back.read_until(r"before-21")
    assert bytes(back.output).startswith(RESET)
    await back.close()


async def test_a_stalled_viewer_neither_blocks_the_others_nor_grows_memory(
    agent: Client, tokens: Tokens
) -> None:
    live = await Terminal.open(agent, 1, tokens.learner(1))
    stalled = await Terminal.open(agent, 1, tokens.learner(1))  # e.g. a throttled second tab
    assert len(fanout_viewers(agent)) == 2
    stalled.ack_every = 1 << 60  # never acks, never reads
    # Four rings' worth of output must reach the live viewer although one viewer is stalled.
    await live.type(f"head -c {4 * RING_BYTES} /dev/zero | base64; echo flood-$((3*11))\r")
    live.ack_every = 64 * 1024
    await live.read_until(r"flood-33", timeout=60)
    shell = shells(agent).get(1)
    assert shell is not None
    (behind,) = [v for v in fanout_viewers(agent) if v.cursor < shell.ring.end]
    assert behind.sent - behind.acked <= behind.window + READ_SIZE + len(RESET)
    assert behind._transport.get_write_buffer_size() <= HIGH_WATER + READ_SIZE
    # What the agent holds for the stalled viewer is bounded (process RSS is measured by
    # benchmarks/terminal_bench.py; here the test's own client buffers would blur it).
    assert len(shell.ring) <= shell.ring.capacity
    # It catches up: reset + replay from the ring (it lost more than the ring holds).
    stalled.ack_every = 16 * 1024
    await stalled.ack()
    await stalled.read_until(r"flood-33", timeout=30)
    assert behind.resyncs >= 1
    assert RESET in stalled.output
    await live.close()
    await stalled.close()


async def test_read_only_viewers_never_resize_the_shell(agent: Client, tokens: Tokens) -> None:
    learner = await Terminal.open(agent, 1, tokens.learner(1))
    await learner.resize(101, 33)
    shadow = await Terminal.open(agent, 1, tokens.instructor(), params={"cols": 20, "rows": 5})
    await shadow.resize(30, 7)
    await learner.type("echo size-$(stty size | tr ' ' x)\r")
    await learner.read_until(r"size-33x101")
    await shadow.read_until(r"size-33x101")
    await learner.close()
    await shadow.close()


async def test_the_shell_starts_in_the_workspace_with_the_clean_seat_environment(
    agent: Client, tokens: Tokens, settings: AgentSettings
) -> None:
    term = await Terminal.open(agent, 10, tokens.learner(10))
    await term.type('echo "[$PWD|$HOME|$CLARATEACH_SEAT|${JWKS_LEAK:-none}]"\r')
    workspace = os.path.realpath(settings.workspace(10))  # noqa: ASYNC240 - a cheap local call
    await term.read_until(rf"\[{workspace}\|{workspace}\|10\|none\]")
    await term.close()


async def test_an_exited_shell_is_replaced_by_a_fresh_one(agent: Client, tokens: Tokens) -> None:
    term = await Terminal.open(agent, 2, tokens.learner(2))
    first = shell_pid(agent, 2)
    await term.type("exit\r")
    while await term.pump(timeout=10):
        pass
    assert term.ws.close_code == 1000
    assert shells(agent).get(2) is None
    again = await Terminal.open(agent, 2, tokens.learner(2))
    assert shell_pid(agent, 2) != first
    assert not psutil.pid_exists(first) or psutil.Process(first).status() == psutil.STATUS_ZOMBIE
    await again.type("echo fresh-$((4+4))\r")
    await again.read_until(r"fresh-8")
    await again.close()


async def test_a_hundred_connect_cycles_leak_nothing(agent: Client, tokens: Tokens) -> None:
    me = psutil.Process()
    token = tokens.learner(1)
    warm = await Terminal.open(agent, 1, token)
    # Baseline with the shell idle at its prompt: a starting login shell briefly runs
    # children of its own (profile scripts), which are not ours to count.
    await warm.type("echo settled-$((6*7))\r")
    await warm.read_until(r"settled-42", timeout=20)
    await warm.close()
    await async_wait_for(lambda: not fanout_viewers(agent))
    pid = shell_pid(agent, 1)
    baseline = (me.num_fds(), len(me.children(recursive=True)))
    for _ in range(100):
        term = await Terminal.open(agent, 1, token)
        await term.close()

    def settled() -> bool:
        # Below the baseline is no leak: a previous test's child may still have been exiting
        # when it was taken. A leak over 100 cycles shows as growth.
        now = (me.num_fds(), len(me.children(recursive=True)))
        return not fanout_viewers(agent) and now[0] <= baseline[0] and now[1] <= baseline[1]

    await async_wait_for(settled, timeout=20, message=f"fds/children back to {baseline}")
    assert shell_pid(agent, 1) == pid  # one shell all along: sockets never touch it


async def test_agent_shutdown_hangs_up_every_shell(
    make_agent: AgentFactory, tokens: Tokens, settings: AgentSettings
) -> None:
    """Without a holder, a graceful stop hangs the shells up. With one it releases them (a
    restart adopts them: test_terminal_restart.py) and the host's final stop hangs them up."""
    client = await make_agent()
    term = await Terminal.open(client, 1, tokens.learner(1))
    await term.type("sleep 1000 & echo bg-$((5+5))\r")
    await term.read_until(r"bg-10")
    shell = psutil.Process(shell_pid(client, 1))
    family = [shell, *shell.children(recursive=True)]
    assert len(family) >= 2
    await client.close()  # graceful: sockets closed with 1001, then shells stopped
    if settings.shell_holder:
        assert all(p.is_running() for p in family)
        assert stop_holder(settings.state_dir)
    _, alive = psutil.wait_procs(family, timeout=10)
    assert not alive


def test_the_backend_is_chosen_by_its_documented_variable() -> None:
    assert AgentSettings.from_env({}).terminal_backend == "buffered"  # the default
    chosen = AgentSettings.from_env({"CLARATEACH_AGENT_TERMINAL_BACKEND": "tmux"})
    assert chosen.terminal_backend == "tmux"
    with pytest.raises(ValueError, match="CLARATEACH_AGENT_TERMINAL_BACKEND"):
        AgentSettings.from_env({"CLARATEACH_AGENT_TERMINAL_BACKEND": "screen"})


async def test_the_shell_and_its_ring_are_held_iff_the_holder_is_on(
    agent: Client, tokens: Tokens, settings: AgentSettings
) -> None:
    term = await Terminal.open(agent, 1, tokens.learner(1))
    await term.type("echo held-$((3*3))\r")
    await term.read_until(r"held-9")
    shell = shells(agent).get(1)
    assert shell is not None
    assert isinstance(shell._pty, HeldPty) is settings.shell_holder
    assert isinstance(shell.ring, SharedRing) is settings.shell_holder
    if settings.shell_holder:  # the holder's child, not the agent's
        assert shell.pid not in {c.pid for c in psutil.Process().children(recursive=True)}
    await term.close()
