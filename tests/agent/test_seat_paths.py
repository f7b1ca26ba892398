"""Canonical seat paths: agent routes accept only ASCII decimal seat numbers without leading
zeros (``workspace_agent/seat_paths.py``). Python's ``int()`` takes ``"01"``, ``"+1"``,
a full-width one and more, so before one parser guarded every route, seat 1 answered
under many names. Every route family is checked with a token that *is* valid for seat 1, so
only the spelling of the path can be what refuses it."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from yarl import URL

from tests.agent.conftest import Tokens
from tests.agent.terminal_client import subprotocols
from workspace_agent.seat_paths import parse_seat

Client = TestClient[Any, Any]

#: Spellings of seat 1 (or of no seat at all) that must not reach seat 1.
NON_CANONICAL = [
    "01", "001", "+1", "0", "-1", "1.0", "1_0", " 1", "1 ", "0x1",
    "\uff11",  # FULLWIDTH DIGIT ONE
    "\u0661",  # ARABIC-INDIC DIGIT ONE
    "\u00b9",  # SUPERSCRIPT ONE
    "\U0001d7cf",  # MATHEMATICAL BOLD DIGIT ONE
    "1000000",  # more than six digits
]  # fmt: skip


def path(seat: str, rest: str) -> URL:
    return URL(f"/seats/{quote(seat, safe='')}/{rest}", encoded=True)


@pytest.mark.parametrize("raw", NON_CANONICAL)
def test_the_parser_refuses_every_other_spelling(raw: str) -> None:
    assert parse_seat(raw) is None


@pytest.mark.parametrize(("raw", "seat"), [("1", 1), ("10", 10), ("999999", 999999)])
def test_the_parser_accepts_canonical_numbers(raw: str, seat: int) -> None:
    assert parse_seat(raw) == seat


@pytest.mark.parametrize("raw", NON_CANONICAL)
async def test_files_routes_refuse_non_canonical_seats(
    agent: Client, tokens: Tokens, raw: str
) -> None:
    headers = {"Authorization": f"Bearer {tokens.learner(1)}"}
    for method, rest in [
        ("GET", "files?path="),
        ("GET", "files/stat?path=a"),
        ("GET", "files/content?path=a"),
        ("PUT", "files/content?path=a"),
        ("POST", "files/mkdir?path=d"),
        ("DELETE", "files?path=a"),
        ("GET", "archive.zip"),
    ]:
        resp = await agent.request(method, path(raw, rest), headers=headers, data=b"x")
        assert resp.status == 404, (method, rest, resp.status)
        assert (await resp.json())["error"]["code"] == "unknown_seat"
    # The canonical spelling works with the same token.
    ok = await agent.get(path("1", "files?path="), headers=headers)
    assert ok.status == 200


@pytest.mark.parametrize("raw", NON_CANONICAL)
async def test_terminal_refuses_non_canonical_seats_before_the_upgrade(
    agent: Client, tokens: Tokens, raw: str
) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await agent.ws_connect(path(raw, "terminal"), protocols=subprotocols(tokens.learner(1)))
    assert refused.value.status == 404
