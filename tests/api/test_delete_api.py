"""``DELETE /api/workshops/{id}``: only created or stopped workshops, with everything they own."""

from __future__ import annotations

from typing import Any

import pytest

from shared.bootstrap import Platform
from shared.domain.model import WorkshopStatus
from tests.api.conftest import Api, set_status
from tests.support.fakes import MemorySecrets


def test_a_created_workshop_is_deleted_with_its_key(
    api: Api, platform: Platform, secrets: MemorySecrets
) -> None:
    workshop = api.create()
    assert secrets.values  # the API key secret

    response = api.call("DELETE", f"/api/workshops/{workshop['id']}")

    assert response.status == 200 and response.json() == {"deleted": workshop["id"]}
    assert platform.store.get_workshop(workshop["id"]) is None
    assert not secrets.values
    assert api.call("GET", f"/api/workshops/{workshop['id']}").status == 404
    assert api.call("DELETE", f"/api/workshops/{workshop['id']}").status == 404


def test_a_stopped_workshop_is_deleted_with_its_seats(
    api: Api, platform: Platform, running: dict[str, Any]
) -> None:
    api.join(running["code"])
    set_status(platform, running["id"], WorkshopStatus.STOPPED)

    assert api.call("DELETE", f"/api/workshops/{running['id']}").status == 200
    assert platform.store.list_seats(running["id"]) == []


@pytest.mark.parametrize(
    "status", [WorkshopStatus.RUNNING, WorkshopStatus.PROVISIONING, WorkshopStatus.FAILED]
)
def test_a_workshop_that_may_have_hosts_is_not_deleted(
    api: Api, platform: Platform, running: dict[str, Any], status: WorkshopStatus
) -> None:
    set_status(platform, running["id"], status)

    response = api.call("DELETE", f"/api/workshops/{running['id']}")

    assert response.status == 409
    assert response.json()["error"]["code"] == "invalid_state"
    assert platform.store.get_workshop(running["id"]) is not None
