"""GceCompute through the real google-cloud-compute client (REST) against the local fake API.

Asserts the exact request bodies GCE would receive, and the error mapping.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from google.auth.credentials import AnonymousCredentials

from shared.adapters.gce_compute import HOST_SCOPES, GceCompute, GceHostConfig
from shared.domain.errors import PermanentError, TransientError
from shared.host_bootstrap import render_startup_script
from shared.ports.compute import HostSpec
from tests.support.fake_gce import FakeGce, running_fake_gce

CONFIG = GceHostConfig(
    project="proj",
    zone="europe-west1-b",
    machine_type="e2-standard-4",
    image="projects/proj/global/images/family/clarateach-host",
    disk_gb=60,
    network="global/networks/clarateach",
    subnetwork="regions/europe-west1/subnetworks/hosts",
    tags=("clarateach-host", "allow-agent"),
    spot=False,
    service_account="ct-host@proj.iam.gserviceaccount.com",
)
AGENT_CONFIG = {
    "CLARATEACH_AGENT_WORKSHOP_ID": "ws01",
    "CLARATEACH_AGENT_HOST_INDEX": "1",
    "CLARATEACH_AGENT_SEATS": "11-20",
    "CLARATEACH_AGENT_API_KEY_REF": "projects/proj/secrets/ws01-key",
    "CLARATEACH_AGENT_JWKS_URL": "https://api.example.com/api/jwks.json",
}
SPEC = HostSpec("ws01", 1, "ct-ws01-h1", 11, 20, AGENT_CONFIG)
SCRIPTS: list[dict] = []


def script(*, workshop_id: str, host_index: int, agent_config: dict[str, str]) -> str:
    SCRIPTS.append({"workshop_id": workshop_id, "host_index": host_index, **agent_config})
    return "#!/bin/bash\nexec /opt/clarateach/start-agent\n"


@pytest.fixture
def fake() -> Iterator[FakeGce]:
    with running_fake_gce() as server:
        yield server


def compute(fake: FakeGce, config: GceHostConfig = CONFIG, **kwargs: object) -> GceCompute:
    return GceCompute.for_endpoint(
        config, fake.url, AnonymousCredentials(), startup_script=script, **kwargs
    )  # type: ignore[arg-type]


def test_insert_sends_exactly_the_configured_instance(fake: FakeGce) -> None:
    info = compute(fake).create_host(SPEC)

    assert info.name == "ct-ws01-h1" and info.state == "running" and info.address == "203.0.113.7"
    [insert] = fake.inserts()
    assert insert.path == "/compute/v1/projects/proj/zones/europe-west1-b/instances"
    assert insert.body == {
        "name": "ct-ws01-h1",
        "machineType": "zones/europe-west1-b/machineTypes/e2-standard-4",
        "labels": {"clarateach": "host", "workshop": "ws01", "host-index": "1"},
        "tags": {"items": ["clarateach-host", "allow-agent"]},
        "metadata": {
            "items": [
                *({"key": k, "value": v} for k, v in sorted(AGENT_CONFIG.items())),
                {
                    "key": "startup-script",
                    "value": "#!/bin/bash\nexec /opt/clarateach/start-agent\n",
                },
                {"key": "disable-legacy-endpoints", "value": "true"},
            ]
        },
        "disks": [
            {
                "boot": True,
                "autoDelete": True,
                "initializeParams": {
                    "sourceImage": "projects/proj/global/images/family/clarateach-host",
                    "diskSizeGb": "60",
                    "diskType": "zones/europe-west1-b/diskTypes/pd-balanced",
                },
            }
        ],
        "networkInterfaces": [
            {
                "network": "global/networks/clarateach",
                "subnetwork": "regions/europe-west1/subnetworks/hosts",
                "accessConfigs": [{"name": "External NAT", "type": "ONE_TO_ONE_NAT"}],
            }
        ],
        "serviceAccounts": [
            {"email": "ct-host@proj.iam.gserviceaccount.com", "scopes": list(HOST_SCOPES)}
        ],
        "shieldedInstanceConfig": {
            "enableSecureBoot": True,
            "enableVtpm": True,
            "enableIntegrityMonitoring": True,
        },
    }
    assert SCRIPTS[-1]["workshop_id"] == "ws01" and SCRIPTS[-1]["host_index"] == 1


def test_scopes_are_minimal(fake: FakeGce) -> None:
    compute(fake).create_host(SPEC)
    scopes = fake.inserts()[0].body["serviceAccounts"][0]["scopes"]
    assert "https://www.googleapis.com/auth/cloud-platform" not in scopes
    assert not any("compute" in s or "devstorage.full" in s for s in scopes)
    assert not any("devstorage.read_write" in s for s in scopes)


def test_hosts_can_pull_the_seat_image_from_artifact_registry(fake: FakeGce) -> None:
    """Artifact Registry accepts a Compute Engine VM's service-account token for
    ``docker pull`` only if the VM's access scopes include
    ``https://www.googleapis.com/auth/devstorage.read_only`` (read) or ``cloud-platform``;
    without either, the pull is refused even when IAM grants the reader role
    (https://cloud.google.com/artifact-registry/docs/access-control#compute)."""
    compute(fake).create_host(SPEC)
    scopes = fake.inserts()[0].body["serviceAccounts"][0]["scopes"]
    readable = {
        "https://www.googleapis.com/auth/devstorage.read_only",
        "https://www.googleapis.com/auth/cloud-platform",
    }
    assert readable & set(scopes)


def test_spot_hosts_get_spot_scheduling(fake: FakeGce) -> None:
    compute(fake, replace(CONFIG, spot=True)).create_host(SPEC)
    assert fake.inserts()[0].body["scheduling"] == {
        "provisioningModel": "SPOT",
        "instanceTerminationAction": "DELETE",
        "automaticRestart": False,
        "onHostMaintenance": "TERMINATE",
    }


def test_no_secret_value_reaches_the_instance(fake: FakeGce) -> None:
    compute(fake).create_host(SPEC)
    body = str(fake.inserts()[0].body)
    assert "sk-ant" not in body
    assert not any("API_KEY=" in k or k.endswith("API_KEY") for k in AGENT_CONFIG)


def test_already_exists_is_success_and_returns_the_existing_host(fake: FakeGce) -> None:
    gce = compute(fake)
    first = gce.create_host(SPEC)
    second = gce.create_host(SPEC)
    assert first == second
    assert fake.created_count(SPEC.name) == 1 and len(fake.inserts()) == 2


def test_pending_operations_are_awaited_with_zone_operations_wait(fake: FakeGce) -> None:
    fake.operations_pending = True
    compute(fake).create_host(SPEC)
    assert any(r.path.endswith("/wait") for r in fake.requests)


def test_an_operation_that_never_finishes_times_out_as_transient(fake: FakeGce) -> None:
    fake.operations_pending = True
    gce = compute(fake, operation_timeout=0.0)
    with pytest.raises(TransientError, match="timed out"):
        gce.create_host(SPEC)


def test_delete_waits_and_a_missing_host_is_success(fake: FakeGce) -> None:
    gce = compute(fake)
    gce.create_host(SPEC)
    gce.delete_host(SPEC.name)
    gce.delete_host(SPEC.name)
    assert gce.get_host(SPEC.name) is None
    assert [r.method for r in fake.deletes()] == ["DELETE", "DELETE"]


def test_list_filters_on_labels(fake: FakeGce) -> None:
    gce = compute(fake)
    gce.create_host(SPEC)
    gce.create_host(replace(SPEC, workshop_id="ws02", name="ct-ws02-h0", index=0))
    assert [h.name for h in gce.list_hosts({"workshop": "ws02"})] == ["ct-ws02-h0"]
    assert len(gce.list_hosts()) == 2
    list_request = [r for r in fake.requests if r.method == "GET" and r.path.endswith("/instances")]
    assert list_request[0].query["filter"] == ['labels.workshop = "ws02"']


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("QUOTA_EXCEEDED", "out of quota"),
        ("ZONE_RESOURCE_POOL_EXHAUSTED", "no capacity"),
        ("RESOURCE_NOT_FOUND", "image or machine type does not exist"),
    ],
)
def test_permanent_operation_errors_carry_an_instructor_readable_reason(
    fake: FakeGce, code: str, expected: str
) -> None:
    fake.fail_operation(code, "details from GCE")
    with pytest.raises(PermanentError, match=expected) as caught:
        compute(fake).create_host(SPEC)
    assert "details from GCE" in str(caught.value) and "http" not in str(caught.value)


@pytest.mark.parametrize(
    ("status", "reason", "error"),
    [
        (429, "rateLimitExceeded", TransientError),
        (500, "backendError", TransientError),
        (503, "backendError", TransientError),
        (403, "quotaExceeded", PermanentError),
        (400, "invalid", PermanentError),
        (404, "notFound", PermanentError),
    ],
)
def test_http_errors_are_mapped(fake: FakeGce, status: int, reason: str, error: type) -> None:
    fake.fail_http("insert", status, reason, f"{reason} happened")
    with pytest.raises(error):
        compute(fake, rate_limit_backoff=()).create_host(SPEC)


def test_a_brief_read_outage_is_retried_by_the_client(fake: FakeGce) -> None:
    gce = compute(fake)
    gce.create_host(SPEC)
    fake.fail_http("get", 503, "backendError", "unavailable")
    assert gce.get_host(SPEC.name) is not None


def test_a_refused_read_is_permanent(fake: FakeGce) -> None:
    fake.fail_http("get", 403, "forbidden", "Required 'compute.instances.get' permission")
    with pytest.raises(PermanentError, match="permission denied"):
        compute(fake).get_host(SPEC.name)


def test_the_default_startup_script_is_the_host_bootstrap_template() -> None:
    gce = GceCompute(CONFIG, instances=object(), operations=object())  # type: ignore[arg-type]
    assert gce._startup_script is render_startup_script


def test_the_real_bootstrap_template_renders_for_a_provisioner_configuration(fake: FakeGce) -> None:
    from shared.domain.model import Workshop, plan_hosts
    from shared.services.agent_config import agent_config
    from shared.settings import Settings

    settings = Settings(
        mode="gcp",
        gcp_project="proj",
        public_api_url="https://api.example.com",
        seat_image="europe-docker.pkg.dev/proj/seats/seat:1",
    )
    workshop = Workshop(
        id="ws0real",
        name="n",
        code="CLAUDE-ABCD",
        seats=20,
        seats_per_host=10,
        owner="t@example.com",
        api_key_ref="projects/proj/secrets/ws0real-key",
    )
    host = plan_hosts(workshop)[1]
    real = GceCompute.for_endpoint(CONFIG, fake.url, AnonymousCredentials())
    real.create_host(
        HostSpec(
            workshop.id,
            host.index,
            host.name,
            host.seat_first,
            host.seat_last,
            agent_config(settings, workshop, host),
        )
    )

    items = {i["key"]: i["value"] for i in fake.inserts()[0].body["metadata"]["items"]}
    assert items["startup-script"].startswith("#!")
    assert items["disable-legacy-endpoints"] == "true"
    assert items["CLARATEACH_AGENT_EVENTS"] == "hostapi:https://api.example.com"
    assert (
        "CLARATEACH_AGENT_EVENTS_TOKEN" not in items
    )  # GCE hosts prove who they are with identity tokens
    # The VM reads its key from the API with its identity token, never from Secret Manager.
    assert items["CLARATEACH_AGENT_SECRETS"] == "hostcred:https://api.example.com"


def test_a_configuration_the_template_refuses_is_a_permanent_error(fake: FakeGce) -> None:
    leaky = replace(
        SPEC,
        agent_config={
            **AGENT_CONFIG,
            "CLARATEACH_AGENT_MODEL_UPSTREAM": "sk-ant-api03-" + "x" * 40,
        },
    )
    real = GceCompute.for_endpoint(CONFIG, fake.url, AnonymousCredentials())
    with pytest.raises(PermanentError, match="invalid host configuration") as caught:
        real.create_host(leaky)
    assert "sk-ant" not in str(caught.value)
    assert fake.inserts() == []


# ---------------------------------------------------------------- rate limits (issue 12 item 8)
def test_a_rate_limited_insert_is_retried_with_backoff_and_then_succeeds(fake: FakeGce) -> None:
    """Compute answers a request over a per-minute rate quota with HTTP 403, reason
    ``rateLimitExceeded``, domain ``usageLimits``, and a message "Quota exceeded for quota
    metric 'Queries' ..."; Google says to wait and retry, the quota refills every minute
    (https://cloud.google.com/compute/api-quota, "Rate quotas"; the error body shape:
    https://cloud.google.com/compute/docs/troubleshooting/troubleshoot-operation-limits).
    It must not become the permanent QUOTA_EXCEEDED that fails the workshop."""
    slept: list[float] = []
    fake.rate_limit("insert", times=2)
    info = compute(fake, sleep=slept.append).create_host(SPEC)
    assert info.name == SPEC.name
    assert slept == [2.0, 4.0]  # exponential backoff between the three attempts
    assert len(fake.inserts()) == 3


def test_a_rate_limit_that_outlasts_the_backoff_is_transient_not_quota(fake: FakeGce) -> None:
    """Still rate limited after the backoff: ``TransientError`` (Pub/Sub redelivers later),
    never ``PermanentError`` "out of quota" (https://cloud.google.com/compute/api-quota)."""
    fake.rate_limit("insert", times=10)
    slept: list[float] = []
    with pytest.raises(TransientError, match="rate limit") as caught:
        compute(fake, sleep=slept.append, rate_limit_backoff=(1.0, 2.0)).create_host(SPEC)
    assert "out of quota" not in str(caught.value)
    assert slept == [1.0, 2.0]


def test_rate_limited_reads_and_operation_waits_are_retried(fake: FakeGce) -> None:
    """Reads (``compute.googleapis.com/read_requests``) and ``zoneOperations.wait``
    (operation read requests) have their own per-minute rate quotas
    (https://cloud.google.com/compute/api-quota) and are rate limited the same way."""
    fake.operations_pending = True
    fake.rate_limit("wait")
    fake.rate_limit("get")
    slept: list[float] = []
    assert compute(fake, sleep=slept.append).create_host(SPEC).name == SPEC.name
    assert slept == [2.0, 2.0]


def test_a_real_quota_error_is_still_permanent_and_not_retried(fake: FakeGce) -> None:
    """``quotaExceeded`` (a resource quota such as CPUS) does not refill by waiting."""
    fake.fail_http("insert", 403, "quotaExceeded", "Quota 'CPUS' exceeded. Limit: 24.0")
    slept: list[float] = []
    with pytest.raises(PermanentError, match="out of quota"):
        compute(fake, sleep=slept.append).create_host(SPEC)
    assert slept == []
