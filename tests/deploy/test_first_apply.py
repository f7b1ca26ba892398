"""What a first ``terraform apply`` on a fresh project needs, checked on the parsed config.

Issue 12 items 3 (seat image tag), 9 (deploy ordering, build permissions, source bucket),
10 (the join rush) and 12 (the host-lifecycle role). Each test names the Google behaviour
it encodes and where it is documented.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.deploy.hcl import Config, Resource
from tests.deploy.iam_grants import custom_role_permissions, grants

REPO = Path(__file__).resolve().parents[2]
APIS = "google_project_service.apis"


def _address(ref: str) -> str | None:
    """The resource address a dotted reference points at (``None`` for var/local/each...)."""
    parts = ref.split(".")
    if parts[0] == "data" and len(parts) >= 3:
        return ".".join(parts[:3])
    if parts[0].startswith("google_") and len(parts) >= 2:
        return ".".join(parts[:2])
    return None


def _local_refs(tf: Config, name: str, seen: set[str]) -> set[str]:
    if name in seen or name not in tf.module["Locals"]:
        return set()
    seen.add(name)
    refs = tf.local(name).refs()
    for ref in list(refs):
        if ref.startswith("local."):
            refs |= _local_refs(tf, ref.split(".")[1], seen)
    return refs


def _upstream(tf: Config, resource: Resource) -> set[str]:
    """Every resource ``resource`` depends on, explicitly or through references, transitively."""
    by_address = {r.address: r for r in tf.resources}
    found: set[str] = set()
    todo = [resource]
    while todo:
        current = todo.pop()
        refs = set(current.refs()) | set(current.depends_on)
        for ref in list(refs):
            if ref.startswith("local."):
                refs |= _local_refs(tf, ref.split(".")[1], set())
        for ref in refs:
            address = _address(ref)
            if address and address not in found:
                found.add(address)
                if address in by_address:
                    todo.append(by_address[address])
    return found


# ---------------------------------------------------------------- item 9: deploy ordering
def test_every_resource_waits_for_the_apis_it_needs(tf: Config) -> None:
    """A fresh project has most APIs disabled; creating a service account before
    ``iam.googleapis.com`` is enabled fails with 403 SERVICE_DISABLED, and the Pub/Sub service
    agent ``service-<number>@gcp-sa-pubsub`` does not exist until the Pub/Sub API is enabled
    (https://cloud.google.com/iam/docs/service-agents,
    https://cloud.google.com/service-usage/docs/enable-disable). Terraform runs independent
    resources in parallel, so each resource must depend on ``google_project_service.apis``
    directly or through something it references."""
    missing = [
        r.address for r in tf.resources if r.address != APIS and APIS not in _upstream(tf, r)
    ]
    assert missing == []


def test_service_accounts_roles_and_the_pubsub_agent_grants_depend_on_the_apis_directly(
    tf: Config,
) -> None:
    """The resources of the issue, explicitly (they reference nothing that would order them)."""
    explicit = [
        *tf.of_type("google_service_account", "google_project_iam_custom_role"),
        *(r for r in tf.resources if "gcp-sa-pubsub" in _source(r)),
    ]
    assert len(explicit) >= 6 + 6 + 3
    assert [r.address for r in explicit if APIS not in r.depends_on] == []


def _source(resource: Resource) -> str:
    member = resource.attr("member")
    return member.source if member else ""


def test_the_functions_source_object_outlives_every_bucket_lifecycle_rule(tf: Config) -> None:
    """A Delete lifecycle rule with ``age`` removes every object older than that, whoever
    manages it (https://cloud.google.com/storage/docs/lifecycle#conditions). Cloud Functions
    needs the archive it was built from for every rebuild, so no rule may match the
    Terraform-managed ``functions-source-*.zip``."""
    bucket = tf.resource("google_storage_bucket.functions_source")
    object_name = tf.resource("google_storage_bucket_object.functions_source").attr("name")
    assert object_name is not None and object_name.source.startswith('"functions-source-')
    for rule in bucket.body.blocks("lifecycle_rule"):
        action = rule.blocks("action")[0].value("type")
        condition = rule.blocks("condition")[0]
        prefixes = condition.attr("matches_prefix")
        if action == "Delete":
            assert prefixes is not None, "a Delete rule without a prefix matches the archive"
            assert not any("functions-source-".startswith(p) for p in prefixes.value())


def test_the_build_account_has_what_google_documents_for_2nd_gen_builds(tf: Config) -> None:
    """A custom Cloud Build service account for functions needs ``roles/logging.logWriter``,
    ``roles/artifactregistry.writer`` and Storage object access to read the source
    (https://cloud.google.com/functions/docs/securing/build-custom-sa; for 2nd gen Cloud
    Functions copies the source into ``gcf-v2-sources-<number>-<region>``, for which Google
    lists ``roles/storage.objectAdmin``). Our grants stay resource-scoped where they can."""
    build = {(g.scope, g.role): g for g in grants(tf) if g.member == "sa:build"}
    assert ("project", "roles/logging.logWriter") in build
    assert (
        "google_artifact_registry_repository_iam_member",
        "roles/artifactregistry.writer",
    ) in build
    assert ("google_storage_bucket_iam_member", "roles/storage.objectViewer") in build
    sources = build[("project", "roles/storage.objectAdmin")]
    assert sources.condition is not None
    assert "buckets/gcf-v2-sources-${local.project_number}-${var.region}" in sources.condition
    fn = tf.resource("google_cloudfunctions2_function.fn")
    build_config = fn.body.blocks("build_config")[0]
    assert build_config.attr("service_account").source == "google_service_account.build.id"  # type: ignore[union-attr]


def test_the_guide_names_cloud_resource_manager_as_a_prerequisite() -> None:
    """The provider reads the project (``data.google_project``, project IAM) through the
    Cloud Resource Manager API and enables APIs through Service Usage, so both must be on
    before the first plan (https://cloud.google.com/resource-manager/reference/rest)."""
    guide = (REPO / "docs" / "deployment.md").read_text()
    prerequisites = guide.split("## Prerequisites", 1)[1].split("\n## ", 1)[0]
    assert "cloudresourcemanager.googleapis.com" in prerequisites
    assert "serviceusage.googleapis.com" in prerequisites
    assert "gcloud services enable" in prerequisites


# ---------------------------------------------------------------- item 10: the join rush
def test_join_serves_many_requests_per_instance_with_a_whole_vcpu(tf: Config) -> None:
    """On Cloud Functions 2nd gen, concurrency above 1 requires at least 1 vCPU
    (https://cloud.google.com/functions/docs/configuring/concurrency); 500 joins at
    concurrency 1 would need 500 instances (and overflow max_instances into 429s)."""
    functions = tf.local("function_specs").value()
    join = functions["join_workshop"]
    assert join["concurrency"] >= 20
    assert float(join["cpu"]) >= 1
    assert join["concurrency"] * join["max_instances"] >= 500 * 2
    for name, spec in functions.items():
        if spec["concurrency"] > 1:
            assert float(spec["cpu"]) >= 1, name
    service = tf.resource("google_cloudfunctions2_function.fn").body.blocks("service_config")[0]
    assert service.attr("max_instance_request_concurrency").source == "each.value.concurrency"  # type: ignore[union-attr]
    assert service.attr("available_cpu").source == "each.value.cpu"  # type: ignore[union-attr]


def test_an_instructor_can_keep_join_instances_warm(tf: Config) -> None:
    """``min_instance_count`` keeps idle instances (billed at the idle rate,
    https://cloud.google.com/functions/docs/configuring/min-instances) so the first joins do
    not wait for cold starts; a variable, 0 by default, documented with its cost."""
    variable = tf.variables["join_min_instances"]
    assert "$" in variable["Description"] and "per hour" in variable["Description"]
    assert tf.local("min_instances").source == "{ join_workshop = var.join_min_instances }"
    service = tf.resource("google_cloudfunctions2_function.fn").body.blocks("service_config")[0]
    assert "local.min_instances" in service.attr("min_instance_count").source  # type: ignore[union-attr]
    assert "join_min_instances" in (REPO / "docs" / "deployment.md").read_text()


# ------------------------------------------------------ item 12: the host-lifecycle role
#: What instances.insert / instances.delete check for the request GceCompute sends
#: (https://cloud.google.com/compute/docs/instances/create-start-instance#required-permissions,
#: https://cloud.google.com/compute/docs/instances/create-use-spot (setScheduling),
#: https://cloud.google.com/compute/docs/reference/rest/v1/instances/delete: a boot disk with
#: autoDelete is deleted as the caller, so compute.disks.delete is needed on it).
INSTANCE_NEEDS = {
    "compute.instances.create",  # the VM
    "compute.disks.create",  # its new boot disk (initializeParams)
    "compute.instances.setMetadata",  # startup-script, agent configuration
    "compute.instances.setTags",  # the firewall's target tag
    "compute.instances.setLabels",  # clarateach=host, workshop labels
    "compute.instances.setServiceAccount",  # runs as the host account
    "compute.instances.setScheduling",  # Spot: provisioningModel SPOT
    "compute.instances.delete",
    "compute.disks.delete",  # the auto-deleted boot disk
    "compute.instances.get",
}
OBSERVER_NEEDS = {
    "compute.images.useReadOnly",  # boot from the host image
    "compute.images.getFromFamily",  # image families (family/clarateach-host)
    "compute.instances.list",  # the reconciler's orphan sweep
    "compute.zoneOperations.get",  # zoneOperations.wait
    "compute.regions.get",  # quotas before a start (regions.get)
    "compute.projects.get",  # CPUS_ALL_REGIONS (projects.get)
}
#: roles/compute.networkUser includes both (https://cloud.google.com/compute/docs/access/iam).
SUBNET_NEEDS = {"compute.subnetworks.use", "compute.subnetworks.useExternalIp"}


def test_the_host_lifecycle_role_covers_create_spot_create_and_delete(tf: Config) -> None:
    lifecycle = set(custom_role_permissions(tf, "google_project_iam_custom_role.host_lifecycle"))
    observer = set(custom_role_permissions(tf, "google_project_iam_custom_role.host_observer"))
    assert lifecycle >= INSTANCE_NEEDS, sorted(INSTANCE_NEEDS - lifecycle)
    assert observer >= OBSERVER_NEEDS, sorted(OBSERVER_NEEDS - observer)
    # ...and nothing beyond what the adapter does (least privilege).
    assert lifecycle == INSTANCE_NEEDS
    subnet = [g for g in grants(tf) if g.member == "sa:provisioner" and "subnetwork" in g.scope]
    assert [g.role for g in subnet] == ["roles/compute.networkUser"]


def test_the_role_list_matches_what_the_adapter_sends(tf: Config) -> None:
    """Every instance field GceCompute sets maps to a permission in the role (if someone adds
    e.g. ``guestAccelerators`` or disk labels, this test names the permission to add)."""
    from shared.adapters.gce_compute import GceCompute, GceHostConfig
    from shared.ports.compute import HostSpec

    config = GceHostConfig(
        project="p",
        zone="z",
        machine_type="e2-standard-4",
        image="img",
        spot=True,
        service_account="host@p.iam.gserviceaccount.com",
    )
    compute = GceCompute(
        config,
        instances=object(),  # type: ignore[arg-type]
        operations=object(),  # type: ignore[arg-type]
        startup_script=lambda **_: "#!/bin/bash\n",
    )
    instance = compute.instance_body(HostSpec("w", 0, "ct-w-h0", 1, 10, {}))
    field_permission = {
        "metadata": "compute.instances.setMetadata",
        "tags": "compute.instances.setTags",
        "labels": "compute.instances.setLabels",
        "service_accounts": "compute.instances.setServiceAccount",
        "scheduling": "compute.instances.setScheduling",
        "disks": "compute.disks.create",
    }
    sent = {name for name in field_permission if name in type(instance).to_dict(instance)}
    lifecycle = set(custom_role_permissions(tf, "google_project_iam_custom_role.host_lifecycle"))
    assert sent == set(field_permission)
    assert {field_permission[f] for f in sent} <= lifecycle


# ---------------------------------------------------------------- item 3: the seat image
def test_the_default_seat_image_is_the_one_the_guide_builds_and_bakes(tf: Config) -> None:
    """The guide builds, pushes and bakes ``terraform output -raw seat_image``, and the
    default's tag is a variable, not ``latest`` (a host whose baked tag differs from the
    configured one pulls at boot, or fails if that tag was never pushed)."""
    seat = tf.local("seat_image").source
    assert seat.endswith('seat:${var.seat_image_tag}")'), seat
    guide = (REPO / "docs" / "deployment.md").read_text()
    section = guide.split("## 3. Seat image", 1)[1].split("\n## ", 1)[0]
    assert re.search(r"IMAGE=\$\(terraform -chdir=terraform output -raw seat_image\)", section)
    assert 'docker build -t "$IMAGE"' in section and 'docker push "$IMAGE"' in section
    host_section = guide.split("## 4. Host image", 1)[1].split("\n## 5", 1)[0]
    assert "seat_image=$IMAGE" in host_section
    assert ":latest" not in section
