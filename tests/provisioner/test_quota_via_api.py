"""A quota error during provisioning is what the instructor sees on ``GET /api/workshops/{id}``.

The whole production path through functions-framework: ``POST /api/workshops`` and
``.../start`` on the ``api`` function, the published start event pushed to the ``provisioner``
function, ``GceCompute`` (real client) refused by the fake Compute API with QUOTA_EXCEEDED.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import functions_framework
from google.auth.credentials import AnonymousCredentials

from functions.runtime import set_platform
from shared.adapters.gce_compute import GceCompute, GceHostConfig
from shared.adapters.local_bus import push_envelope
from shared.auth.instructor import ensure_admin_token
from shared.bootstrap import Platform
from shared.domain.model import utcnow
from shared.ports.compute import Compute
from tests.provisioner.conftest import RecordingBus, fake_startup_script
from tests.support.fake_gce import running_fake_gce

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
API_KEY = "sk-ant-api03-" + "quotaTestKey_" * 4


def test_quota_failure_is_visible_through_the_api(
    make_platform: Callable[[Compute], Platform],
) -> None:
    api = functions_framework.create_app(
        target="api", source=str(FUNCTIONS / "main.py"), signature_type="http"
    ).test_client()
    provisioner = functions_framework.create_app(
        target="provisioner", source=str(FUNCTIONS / "events.py"), signature_type="cloudevent"
    ).test_client()
    with running_fake_gce() as fake:
        config = GceHostConfig(
            project="proj",
            zone="us-central1-a",
            machine_type="n2-standard-8",
            image="projects/proj/global/images/family/clarateach-host",
        )
        platform = make_platform(
            GceCompute.for_endpoint(
                config, fake.url, AnonymousCredentials(), startup_script=fake_startup_script
            )
        )
        set_platform(platform)
        try:
            auth = {"Authorization": f"Bearer {ensure_admin_token(platform.settings)}"}
            created = api.post(
                "/api/workshops",
                headers=auth,
                json={"name": "Quota day", "seats": 10, "api_key": API_KEY},
            )
            assert created.status_code == 201, created.get_json()
            workshop_id = created.get_json()["workshop"]["id"]
            assert api.post(f"/api/workshops/{workshop_id}/start", headers=auth).status_code == 202
            assert isinstance(platform.bus, RecordingBus)
            [start] = platform.bus.published
            fake.fail_operation(
                "QUOTA_EXCEEDED", "Quota 'CPUS' exceeded.  Limit: 24.0 in region us-central1."
            )

            pushed = provisioner.post(
                "/", data=push_envelope(start, "m-quota", utcnow()), content_type="application/json"
            )
            assert pushed.status_code == 200  # acknowledged: retrying cannot fix a quota

            shown = api.get(f"/api/workshops/{workshop_id}", headers=auth).get_json()["workshop"]
        finally:
            set_platform(None)
    assert shown["status"] == "failed"
    assert "out of quota" in shown["error"] and "Limit: 24.0" in shown["error"]
    assert "api_key" not in shown and API_KEY not in str(shown)
