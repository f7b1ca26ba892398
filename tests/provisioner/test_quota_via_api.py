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


def test_a_start_the_quotas_cannot_hold_is_refused_before_any_vm_naming_each_shortfall(
    make_platform: Callable[[Compute], Platform],
) -> None:
    """``regions.get`` and ``projects.get`` report ``quotas[]`` with ``metric``, ``limit``
    and ``usage`` (https://cloud.google.com/compute/docs/reference/rest/v1/regions/get,
    https://cloud.google.com/compute/docs/reference/rest/v1/projects/get); the fake answers in
    that shape, with a new project's typical limits (24 CPUs, 8 in-use addresses). 100 seats
    on e2-standard-4 at 10 per host need 40 vCPUs, 10 addresses and 500 GB of pd-balanced.
    Fails before the fix: the provisioner inserted VMs until GCE refused one."""
    api = functions_framework.create_app(
        target="api", source=str(FUNCTIONS / "main.py"), signature_type="http"
    ).test_client()
    provisioner = functions_framework.create_app(
        target="provisioner", source=str(FUNCTIONS / "events.py"), signature_type="cloudevent"
    ).test_client()
    with running_fake_gce() as fake:
        fake.quotas = {
            "CPUS": (24.0, 4.0),
            "IN_USE_ADDRESSES": (8.0, 1.0),
            "SSD_TOTAL_GB": (2048.0, 100.0),
            "PREEMPTIBLE_CPUS": (0.0, 0.0),
        }
        fake.project_quotas = {"CPUS_ALL_REGIONS": (32.0, 4.0)}
        config = GceHostConfig(
            project="proj",
            zone="us-central1-a",
            machine_type="e2-standard-4",
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
                json={"name": "Big day", "seats": 100, "api_key": API_KEY},
            )
            workshop_id = created.get_json()["workshop"]["id"]
            assert api.post(f"/api/workshops/{workshop_id}/start", headers=auth).status_code == 202
            assert isinstance(platform.bus, RecordingBus)
            [start] = platform.bus.published
            pushed = provisioner.post(
                "/", data=push_envelope(start, "m-q2", utcnow()), content_type="application/json"
            )
            assert pushed.status_code == 200
            shown = api.get(f"/api/workshops/{workshop_id}", headers=auth).get_json()["workshop"]
        finally:
            set_platform(None)
        assert fake.inserts() == []  # nothing was created
        paths = [r.path for r in fake.requests]
        assert "/compute/v1/projects/proj/regions/us-central1" in paths
        assert "/compute/v1/projects/proj" in paths
    assert shown["status"] == "failed"
    error = shown["error"]
    assert "CPUS: needs 40, 20 free (limit 24)" in error
    assert "CPUS_ALL_REGIONS: needs 40, 28 free (limit 32)" in error
    assert "IN_USE_ADDRESSES: needs 10, 7 free (limit 8)" in error
    assert "SSD_TOTAL_GB" not in error  # 500 GB fits in 1948 free
