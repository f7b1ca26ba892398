"""``start`` on GCP refuses a host image without the workspace agent (plain Debian and other
public OS images), before anything is written or published: such hosts could only fail."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from functions.errors import error_response
from shared.auth.instructor import LOCAL_ADMIN, Instructor
from shared.bootstrap import Platform
from shared.services.host_image import HostImageNotBaked, require_baked_host_image
from shared.services.workshops import start_workshop
from shared.settings import Settings
from tests.api.conftest import Api
from tests.support.fakes import RecordingBus


@pytest.mark.parametrize(
    "image",
    [
        "",
        "projects/debian-cloud/global/images/family/debian-12",
        "https://www.googleapis.com/compute/v1/projects/debian-cloud/global/images/debian-12-bookworm-v20251111",
        "projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64",
    ],
)
def test_start_with_a_public_os_image_is_refused_with_what_to_do(
    platform: Platform, api: Api, bus: RecordingBus, image: str
) -> None:
    created = api.create(seats=5)
    platform.settings = replace(platform.settings, mode="gcp", gce_image=image)

    with pytest.raises(HostImageNotBaked) as refused:
        start_workshop(platform, Instructor(owner=LOCAL_ADMIN, is_admin=True), created["id"])
    response = error_response(refused.value)  # what the API edge answers

    assert response.status == 503
    error = response.json()["error"]
    assert error["code"] == "host_image_not_baked"
    assert "images/host" in error["message"] and "docs/deployment.md" in error["message"]
    assert bus.events == []
    assert platform.store.get_workshop(created["id"]).status.value == "created"


@pytest.mark.parametrize(
    "image",
    [
        "projects/my-workshops/global/images/family/clarateach-host",
        "projects/debian-cloud-mirror-of-mine/global/images/clarateach-host-2",
    ],
)
def test_a_baked_image_of_the_deployment_passes(image: str) -> None:
    require_baked_host_image(Settings(mode="gcp", gce_image=image))


def test_local_mode_has_no_host_image(api: Api, bus: RecordingBus) -> None:
    created: dict[str, Any] = api.create(seats=5)
    assert api.call("POST", f"/api/workshops/{created['id']}/start").status == 202
    assert [e.type for e in bus.events] == ["workshop.start_requested"]
