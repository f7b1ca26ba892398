"""Broadcast and raised hands survive an agent restart (workspace_agent.activity.notices_store).

The restart is a real one: the first agent is closed (its app torn down), a second agent is
created on the same state directory, and learners read from the new one, including a learner
whose first request comes after the restart.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from tests.agent.conftest import AgentFactory, Tokens
from workspace_agent.activity import notices_store
from workspace_agent.activity.notices_store import FILE_NAME
from workspace_agent.settings import AgentSettings

SENT_AT = "2026-12-02T10:00:00+00:00"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _notices(agent: TestClient[Any, Any], token: str, seat: int) -> dict[str, Any]:
    response = await agent.get(f"/seats/{seat}/notices", headers=auth(token))
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def test_a_broadcast_and_the_hand_queue_survive_a_restart(
    make_agent: AgentFactory, tokens: Tokens, settings: AgentSettings
) -> None:
    first = await make_agent()
    sent = await first.put(
        "/control/broadcast",
        json={"message": "Break until 11:00", "sent_at": SENT_AT},
        headers=auth(tokens.instructor()),
    )
    assert sent.status == 200
    for seat, text in ((2, "stuck on step 3"), (10, "")):
        raised = await first.put(
            f"/seats/{seat}/hand", json={"text": text}, headers=auth(tokens.learner(seat))
        )
        assert raised.status == 200
    before = (await _notices(first, tokens.learner(2), 2))["hand"]
    await first.close()

    second = await make_agent()
    # Seat 1 never asked the first agent: a learner who joins after the restart.
    assert (await _notices(second, tokens.learner(1), 1))["broadcast"] == {
        "message": "Break until 11:00",
        "sent_at": SENT_AT,
    }
    after = (await _notices(second, tokens.learner(2), 2))["hand"]
    assert after["text"] == "stuck on step 3"
    assert after["waited"] >= before["waited"]  # still in line, time kept counting
    activity = await second.get("/control/activity", headers=auth(tokens.instructor()))
    hands = {k: v["hand"] for k, v in (await activity.json())["seats"].items() if v["hand"]}
    assert sorted(hands) == ["10", "2"]

    done = await second.delete("/control/hands/2", headers=auth(tokens.instructor()))
    assert done.status == 204
    await second.close()
    third = await make_agent()
    assert (await _notices(third, tokens.learner(2), 2))["hand"] is None
    assert (await _notices(third, tokens.learner(10), 10))["hand"] is not None


async def test_the_file_is_private_and_replaced_whole(
    agent: TestClient[Any, Any], tokens: Tokens, settings: AgentSettings
) -> None:
    await agent.put("/seats/1/hand", json={"text": "help"}, headers=auth(tokens.learner(1)))
    path = settings.state_dir / FILE_NAME
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.loads(path.read_text())["hands"]["1"]["text"] == "help"
    assert not [p for p in settings.state_dir.iterdir() if p.name.endswith(".tmp")]


def test_a_damaged_or_hostile_file_is_an_empty_room(tmp_path: Path) -> None:
    path = tmp_path / FILE_NAME
    assert notices_store.load(path) == (None, {})
    path.write_text("{not json")
    assert notices_store.load(path) == (None, {})
    path.write_text(
        json.dumps(
            {
                "broadcast": {"message": "x" * 501, "sent_at": SENT_AT},
                "hands": {
                    "1": {"text": "ok", "raised_at": 5},
                    "2": {"text": "y" * 1000, "raised_at": 5},
                    "x": {"text": "bad seat", "raised_at": 5},
                    "3": {"text": "no time"},
                    "4": {"text": "bool time", "raised_at": True},
                },
            }
        )
    )
    assert notices_store.load(path) == (None, {1: ("ok", 5.0)})
