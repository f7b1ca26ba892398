"""The agent's boot fetch (``workspace_agent.content_fetch``) against a real local API server
over HTTP: the host proves itself with its host events token, gets its workshop's pack and
unpacks it into ``content_dir``; a workshop without content leaves nothing; a refused or
unreachable API keeps the previous copy and never blocks the boot for long."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from shared.auth.instructor import Instructor
from shared.auth.platform_keys import host_events_token
from shared.content import installed_pack, pack_to_zip
from shared.services import workshops
from tests.api.conftest import API_KEY, force_running
from tests.cli.server import ApiServer, ScriptedProvisionerBus, run_api_server
from tests.support.content_packs import EXAMPLE
from tests.support.net import free_port
from workspace_agent.content_fetch import fetch_content
from workspace_agent.settings import AgentSettings

ADMIN = Instructor(owner="admin", is_admin=True)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiServer]:
    with run_api_server(tmp_path / "platform", ScriptedProvisionerBus()) as server:
        yield server


def running_workshop(api: ApiServer, *, content: bool) -> str:
    workshop = workshops.create_workshop(
        api.platform, ADMIN, name="Fetch", seats=2, api_key=API_KEY
    )
    if content:
        api.platform.content.put(workshop.id, pack_to_zip(EXAMPLE))
    force_running(api.platform, workshop.id)
    return workshop.id


def agent_settings(api: ApiServer, tmp_path: Path, workshop_id: str, **kw: object) -> AgentSettings:
    token = host_events_token(api.state_dir, workshop_id, 0, 0)
    settings = AgentSettings(
        workshop_id=workshop_id,
        state_dir=tmp_path / "agent",
        events_url=f"hostapi:{api.url}",
        events_token=token,
    )
    return replace(settings, **kw)  # type: ignore[arg-type]


async def test_the_host_unpacks_its_workshops_pack(api: ApiServer, tmp_path: Path) -> None:
    wid = running_workshop(api, content=True)
    settings = agent_settings(api, tmp_path, wid)

    pack = await fetch_content(settings)

    assert pack is not None and pack.manifest.title == "Claude Code 101"
    assert settings.content_dir == tmp_path / "agent" / "content"
    assert (settings.content_dir / "starter" / "textstats" / "core.py").is_file()
    assert installed_pack(settings.content_dir) == pack


async def test_content_dir_can_be_set_and_no_content_leaves_nothing(
    api: ApiServer, tmp_path: Path
) -> None:
    wid = running_workshop(api, content=False)
    elsewhere = tmp_path / "elsewhere"
    settings = agent_settings(api, tmp_path, wid, content_path=str(elsewhere))
    elsewhere.mkdir()
    (elsewhere / "workshop.toml").write_text("stale")

    assert await fetch_content(settings) is None
    assert settings.content_dir == elsewhere and not elsewhere.exists()


async def test_a_refused_fetch_keeps_the_previous_pack(api: ApiServer, tmp_path: Path) -> None:
    wid = running_workshop(api, content=True)
    good = agent_settings(api, tmp_path, wid)
    assert await fetch_content(good) is not None

    wrong = replace(good, events_token="0" * 64)  # not this host's token: 401, permanent
    pack = await fetch_content(wrong, attempts=2, backoff_s=0.01)

    assert pack is not None and pack.manifest.steps[0].id == "explore"


async def test_an_unreachable_api_is_retried_a_bounded_number_of_times(tmp_path: Path) -> None:
    settings = AgentSettings(
        workshop_id="wabc",
        state_dir=tmp_path / "agent",
        events_url=f"hostapi:http://127.0.0.1:{free_port()}",
        events_token="t" * 64,
    )
    assert await fetch_content(settings, attempts=3, backoff_s=0.01) is None


async def test_without_a_host_api_nothing_is_fetched(tmp_path: Path) -> None:
    settings = AgentSettings(workshop_id="wabc", state_dir=tmp_path / "agent", events_url="")
    assert await fetch_content(settings) is None
