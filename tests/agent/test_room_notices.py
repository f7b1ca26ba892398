"""Broadcast and raised hands on one host (``workspace_agent.activity.room``)."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.agent.conftest import Tokens

Client = TestClient[Any, Any]
SENT_AT = "2026-12-02T10:00:00+00:00"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def notices(agent: Client, token: str, seat: int) -> dict[str, Any]:
    response = await agent.get(f"/seats/{seat}/notices", headers=auth(token))
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def test_a_broadcast_reaches_every_seat_and_later_readers(
    agent: Client, tokens: Tokens
) -> None:
    assert (await notices(agent, tokens.learner(1), 1))["broadcast"] is None
    payload = "<script>alert(1)</script> Break: back at 11\x07"
    response = await agent.put(
        "/control/broadcast",
        json={"message": payload, "sent_at": SENT_AT},
        headers=auth(tokens.instructor()),
    )
    assert response.status == 200
    expected = {"message": "<script>alert(1)</script> Break: back at 11", "sent_at": SENT_AT}
    for seat in (1, 2, 10):
        assert (await notices(agent, tokens.learner(seat), seat))["broadcast"] == expected


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"message": "", "sent_at": SENT_AT}, 400),
        ({"message": "   ", "sent_at": SENT_AT}, 400),
        ({"message": "x" * 501, "sent_at": SENT_AT}, 400),
        ({"message": 5, "sent_at": SENT_AT}, 400),
        ({"message": "hi"}, 400),
    ],
)
async def test_bad_broadcasts_are_refused(
    agent: Client, tokens: Tokens, body: dict[str, Any], status: int
) -> None:
    response = await agent.put("/control/broadcast", json=body, headers=auth(tokens.instructor()))
    assert response.status == status
    assert (await response.json())["error"]["code"] == "invalid_request"


async def test_only_instructors_broadcast(agent: Client, tokens: Tokens) -> None:
    body = {"message": "hi", "sent_at": SENT_AT}
    learner = await agent.put("/control/broadcast", json=body, headers=auth(tokens.learner(1)))
    assert learner.status == 403
    assert (await agent.put("/control/broadcast", json=body)).status == 401


async def test_a_raised_hand_waits_in_line_until_done(agent: Client, tokens: Tokens) -> None:
    token = tokens.learner(2)
    raised = await agent.put("/seats/2/hand", json={"text": "stuck on step 3"}, headers=auth(token))
    assert raised.status == 200
    assert (await notices(agent, token, 2))["hand"]["text"] == "stuck on step 3"
    activity = await agent.get("/control/activity", headers=auth(tokens.instructor()))
    hands = {k: v["hand"] for k, v in (await activity.json())["seats"].items() if v["hand"]}
    assert list(hands) == ["2"] and hands["2"]["text"] == "stuck on step 3"

    done = await agent.delete("/control/hands/2", headers=auth(tokens.instructor()))
    assert done.status == 204
    assert (await notices(agent, token, 2))["hand"] is None


async def test_hands_belong_to_their_learner(agent: Client, tokens: Tokens) -> None:
    other = await agent.put("/seats/2/hand", json={}, headers=auth(tokens.learner(1)))
    assert other.status == 403
    shadow = await agent.put("/seats/2/hand", json={}, headers=auth(tokens.instructor()))
    assert shadow.status == 403
    too_long = await agent.put(
        "/seats/1/hand", json={"text": "x" * 141}, headers=auth(tokens.learner(1))
    )
    assert too_long.status == 400
    learner_done = await agent.delete("/control/hands/1", headers=auth(tokens.learner(1)))
    assert learner_done.status == 403
    unknown = await agent.delete("/control/hands/99", headers=auth(tokens.instructor()))
    assert unknown.status == 404


async def test_a_released_seat_refuses_the_old_learner_token(agent: Client, tokens: Tokens) -> None:
    import time

    from tests.agent.terminal_client import Terminal

    old = tokens.learner(1)
    terminal = await Terminal.open(agent, 1, old)
    await agent.put("/seats/1/hand", json={"text": "bye"}, headers=auth(old))
    released = await agent.put(
        "/control/seats/1/release",
        json={"issued_before": int(time.time())},
        headers=auth(tokens.instructor()),
    )
    assert released.status == 200 and (await released.json())["closed"] == 1
    while await terminal.pump(5):  # the learner's terminal is closed by the agent
        pass
    assert terminal.ws.close_code == 4403

    refused = await agent.get("/seats/1/notices", headers=auth(old))
    assert refused.status == 401
    assert (await refused.json())["error"]["code"] == "seat_released"
    later = tokens.learner(1, now=int(time.time()) + 2)  # the next learner's token
    assert (await notices(agent, later, 1))["hand"] is None
    assert (await notices(agent, tokens.learner(2), 2))["broadcast"] is None  # others unaffected
    learner_try = await agent.put(
        "/control/seats/2/release", json={"issued_before": 1}, headers=auth(tokens.learner(2))
    )
    assert learner_try.status == 403


@pytest.fixture
def settings(settings: Any) -> Any:
    import dataclasses

    return dataclasses.replace(settings, terminal_backend="buffered")


async def test_reset_gives_a_fresh_shell_and_an_empty_workspace(
    agent: Client, tokens: Tokens
) -> None:
    from tests.agent.terminal_client import Terminal
    from workspace_agent.app import CONTEXT

    ctx = agent.server.app[CONTEXT]
    workspace = ctx.settings.workspace(1)
    learner = await Terminal.open(agent, 1, tokens.learner(1))
    await learner.type(
        "mkdir -p deep/er && echo hi > deep/er/f && ln -s / root-link && echo ok-$((1+1))\r"
    )
    await learner.read_until("ok-2")
    old_pid = ctx.shells.get(1).pid
    outside = workspace.parent / "outside.txt"
    outside.write_text("keep")

    reset = await agent.put("/control/seats/1/reset", headers=auth(tokens.instructor()))

    assert reset.status == 200, await reset.text()
    assert list(workspace.iterdir()) == []
    assert outside.read_text() == "keep"  # nothing outside the workspace, links not followed
    while await learner.pump(5):  # the old socket ends: the shell was hung up
        pass
    again = await Terminal.open(agent, 1, tokens.learner(1))
    await again.type("ls -A | wc -l; echo n-$((2+2))\r")
    await again.read_until(r"\b0\r?\n.*n-4", timeout=10)
    assert ctx.shells.get(1).pid != old_pid
    learner_try = await agent.put("/control/seats/1/reset", headers=auth(tokens.learner(1)))
    assert learner_try.status == 403
