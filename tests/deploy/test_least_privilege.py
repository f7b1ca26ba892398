"""Least-privilege invariants of the Terraform configuration, checked on the parsed config.

Each test names one invariant; together they are the list in docs/deployment.md
("What the tests enforce").
"""

from __future__ import annotations

import re

import pytest

from shared.domain.model import host_name
from shared.services.workshops import api_key_secret_name
from tests.deploy.hcl import Config
from tests.deploy.iam_grants import AUTHORITATIVE_TYPES, Grant, custom_role_permissions, grants
from tests.deploy.layout import deployed_functions

PUBLIC_MEMBERS = {"allUsers", "allAuthenticatedUsers"}
#: The API functions' accounts (one each, named like the function).
API_ACCOUNTS = (
    "api",
    "create_workshop",
    "start_workshop",
    "stop_workshop",
    "workshops",
    "control",
    "join_workshop",
    "hosts",
    "jwks",
    "health",
)
SIGNING_KEY_USERS = {"sa:api", "sa:control", "sa:join_workshop", "sa:jwks"}
RUN_INVOKER_TYPES = {
    "google_cloud_run_service_iam_member",
    "google_cloud_run_v2_service_iam_member",
    "google_cloudfunctions2_function_iam_member",
}
#: Roles nobody may hold project-wide.
FORBIDDEN_PROJECT_ROLES = {
    "roles/owner",
    "roles/editor",
    "roles/viewer",
    "roles/secretmanager.admin",
    "roles/secretmanager.secretAccessor",
    "roles/secretmanager.secretVersionManager",
    "roles/iam.serviceAccountUser",
    "roles/iam.serviceAccountTokenCreator",
    "roles/iam.securityAdmin",
    "roles/resourcemanager.projectIamAdmin",
    "roles/compute.admin",
    "roles/compute.instanceAdmin",
    "roles/compute.instanceAdmin.v1",
    "roles/run.admin",
    "roles/run.invoker",
    "roles/storage.admin",
    "roles/pubsub.admin",
    "roles/pubsub.publisher",
}
#: Predefined roles that can change a secret's IAM policy.
SECRET_POLICY_ROLES = {
    "roles/secretmanager.admin",
    "roles/owner",
    "roles/editor",
    "roles/iam.securityAdmin",
    "roles/resourcemanager.projectIamAdmin",
}
#: Permissions no custom role granted project-wide may contain.
FORBIDDEN_PROJECT_PERMISSIONS = {
    "secretmanager.versions.access",
    "iam.serviceAccounts.actAs",
    "iam.serviceAccounts.getAccessToken",
    "resourcemanager.projects.setIamPolicy",
    "compute.instances.setIamPolicy",
    "compute.projects.setCommonInstanceMetadata",
}


@pytest.fixture(scope="module")
def all_grants(tf: Config) -> list[Grant]:
    return grants(tf)


def grants_to(all_grants: list[Grant], member: str) -> list[Grant]:
    return [g for g in all_grants if g.member == member]


def test_the_configuration_has_grants_to_check(all_grants: list[Grant]) -> None:
    assert len(all_grants) >= 20
    assert {g.member for g in all_grants} >= {
        *(f"sa:{name}" for name in API_ACCOUNTS if name != "health"),
        "sa:provisioner",
        "sa:host",
        "sa:scheduler",
        "sa:pubsub_push",
        "allUsers",
    }


def test_no_authoritative_iam_resources(tf: Config) -> None:
    assert not tf.of_type(*AUTHORITATIVE_TYPES)


#: With ``instructor_web_client_id`` only: browsers call the instructor functions (their CORS
#: preflights carry no token), the app verifying every token (terraform/functions.tf).
COCKPIT_BROWSERS = "google_cloud_run_service_iam_member.cockpit_browsers"


def test_only_join_hosts_jwks_and_health_are_public(tf: Config, all_grants: list[Grant]) -> None:
    public_functions: set[str] = set()
    for grant in all_grants:
        if grant.member not in PUBLIC_MEMBERS or grant.scope not in RUN_INVOKER_TYPES:
            continue
        if grant.address == COCKPIT_BROWSERS:
            continue  # conditional: test_instructor_functions_are_public_only_for_the_cockpit
        resource = tf.resource(grant.address)
        assert grant.target == "google_cloudfunctions2_function.fn[each.key].name"
        public_functions |= set(resource.instance_keys())
    assert public_functions == {"join_workshop", "hosts", "jwks", "health"}
    assert tf.local("public_functions").value() == ["join_workshop", "hosts", "jwks", "health"]


def test_instructor_functions_are_public_only_for_the_cockpit(tf: Config) -> None:
    """No web client ID (the default): no instances; with one: the instructor functions only."""
    grant = tf.resource(COCKPIT_BROWSERS)
    assert grant.value("role") == "roles/run.invoker"
    assert grant.value("member") == "allUsers"
    assert grant.attr("service").source == "google_cloudfunctions2_function.fn[each.key].name"  # type: ignore[union-attr]
    assert grant.for_each is not None
    source = grant.for_each.source.replace(" ", "")
    assert source == (
        'toset(lookup({""=[]},var.instructor_web_client_id,local.instructor_functions))'
    )


def test_the_only_other_public_grant_is_the_web_bucket(all_grants: list[Grant]) -> None:
    public = [g for g in all_grants if g.member in PUBLIC_MEMBERS]
    others = {(g.scope, g.target, g.role) for g in public if g.scope not in RUN_INVOKER_TYPES}
    assert others == {
        (
            "google_storage_bucket_iam_member",
            "google_storage_bucket.web.name",
            "roles/storage.objectViewer",
        )
    }


def test_every_function_has_exactly_one_kind_of_invoker(tf_layout: Config) -> None:
    functions = set(deployed_functions(tf_layout))
    groups = [
        tf_layout.local(name).value()
        for name in ("public_functions", "instructor_functions", "internal_functions")
    ]
    assert sorted(name for group in groups for name in group) == sorted(functions)
    layouts = tf_layout.local("instructor_layouts").value()
    every = {name for names in layouts.values() for name in names}
    every |= {*groups[0], *groups[2]}
    assert every == set(tf_layout.local("function_specs").value())


def test_instructor_functions_are_invoked_only_by_instructor_principals(
    tf: Config, all_grants: list[Grant]
) -> None:
    grant = tf.resource("google_cloud_run_service_iam_member.instructors")
    assert grant.value("role") == "roles/run.invoker"
    assert grant.attr("member").source == "each.value.member"  # type: ignore[union-attr]
    assert grant.for_each is not None
    # Dotted references only: bare names are the for-expression's own variables and keys.
    inputs = {ref for ref in grant.for_each.refs() if "." in ref}
    assert inputs == {"local.instructor_functions", "local.instructor_invokers"}
    assert tf.local("instructor_functions").value() == [
        "create_workshop", "start_workshop", "stop_workshop", "workshops", "control"
    ]  # fmt: skip
    assert tf.local("instructor_layouts").value()["single_url"] == ["api"]
    assert tf.local("instructor_invokers").refs() == {
        "var.instructor_principals",
        "var.admin_principals",
    }


def test_instructor_principals_cannot_be_made_public(tf: Config) -> None:
    """The variable validation only admits user:, group:, domain: and serviceAccount:."""
    validation = tf.variables["instructor_principals"]["Validations"][0]
    condition = tf.text(validation["Condition"].get("SrcRange") or _first_range(validation))
    pattern = re.search(r'regex\("([^"]+)"', condition)
    assert pattern, condition
    regex = re.compile(pattern.group(1).replace("\\\\", "\\"))
    for ok in ("user:a@x.com", "group:t@x.com", "domain:x.com", "serviceAccount:s@p.iam"):
        assert regex.fullmatch(ok), ok
    for bad in ("allUsers", "allAuthenticatedUsers", "user:", "projectOwner:p"):
        assert not regex.fullmatch(bad), bad


def _first_range(node: dict) -> dict:  # type: ignore[type-arg]
    from tests.deploy.hcl import _span

    span = _span(node)
    assert span is not None
    return span


def test_internal_functions_are_invoked_only_by_their_callers(all_grants: list[Grant]) -> None:
    invokers = {
        (g.target, g.member)
        for g in all_grants
        if g.scope in RUN_INVOKER_TYPES
        and g.member not in PUBLIC_MEMBERS
        and not g.member.startswith("refs:each.value")
    }
    assert invokers == {
        ('google_cloudfunctions2_function.fn["reconciler"].name', "sa:scheduler"),
        ('google_cloudfunctions2_function.fn["certificates"].name', "sa:scheduler"),
        ('google_cloudfunctions2_function.fn["provisioner"].name', "sa:pubsub_push"),
    }


def test_no_account_holds_a_broad_role_project_wide(all_grants: list[Grant]) -> None:
    for grant in all_grants:
        if grant.project_wide:
            assert grant.role not in FORBIDDEN_PROJECT_ROLES, grant


def test_project_wide_custom_roles_cannot_read_secrets_or_escalate(
    tf: Config, all_grants: list[Grant]
) -> None:
    custom = [g for g in all_grants if g.project_wide and g.role.startswith("google_")]
    assert custom, "expected custom roles"
    for grant in custom:
        permissions = set(custom_role_permissions(tf, grant.role))
        if grant == _workshop_key_reader(all_grants):
            permissions -= {"secretmanager.versions.access"}  # checked in the next test
        assert not permissions & FORBIDDEN_PROJECT_PERMISSIONS, grant


def _workshop_key_reader(all_grants: list[Grant]) -> Grant:
    readers = [
        g for g in all_grants if g.role == "google_project_iam_custom_role.workshop_secret_reader"
    ]
    assert len(readers) == 1, readers
    return readers[0]


def test_only_the_hosts_function_reads_workshop_keys_and_nothing_else(
    tf: Config, all_grants: list[Grant]
) -> None:
    """The hosts function hands each host VM its own workshop's key (POST
    /api/hosts/credentials), so its account reads workshop-* secrets: that role has that one
    permission, held by that one account, on those secrets only."""
    readers = [
        g
        for g in all_grants
        if g.role.startswith("google_")
        and "secretmanager.versions.access" in custom_role_permissions(tf, g.role)
    ]
    assert readers == [_workshop_key_reader(all_grants)]
    (reader,) = readers
    assert reader.member == "sa:hosts"
    assert custom_role_permissions(tf, reader.role) == ["secretmanager.versions.access"]
    expected = '"resource.name.startsWith(\\"${local.workshop_secret_names}\\")"'
    assert reader.condition == expected, "the condition must admit workshop secrets only"


def test_secret_permissions_are_limited_to_workshop_secrets(
    tf: Config, all_grants: list[Grant]
) -> None:
    secret_grants = [
        g
        for g in all_grants
        if g.project_wide
        and g.role.startswith("google_")
        and any(p.startswith("secretmanager.") for p in custom_role_permissions(tf, g.role))
    ]
    assert {g.member for g in secret_grants} == {
        "sa:api", "sa:create_workshop", "sa:hosts", "sa:provisioner"
    }  # fmt: skip
    for grant in secret_grants:
        assert grant.condition is not None, grant
        assert 'resource.name.startsWith(\\"${local.workshop_secret_names}\\")' in grant.condition
    prefix = tf.local("workshop_secret_prefix").value()
    assert prefix == "workshop-"
    assert api_key_secret_name("wabc").startswith(prefix), "the code names secrets differently"
    assert tf.local("workshop_secret_names").source.endswith('${local.workshop_secret_prefix}"')
    assert "local.project_number" in tf.local("workshop_secret_names").refs()


def test_nobody_can_change_who_reads_a_secret(tf: Config, all_grants: list[Grant]) -> None:
    """Hosts get their key from the API, so no principal needs setIamPolicy on any secret:
    not through a custom role, and not through a predefined role that includes it."""
    for grant in all_grants:
        if grant.role.startswith("google_"):
            permissions = set(custom_role_permissions(tf, grant.role))
            assert not {p for p in permissions if p.endswith("IamPolicy")} & {
                "secretmanager.secrets.setIamPolicy",
                "secretmanager.secrets.getIamPolicy",
            }, grant
        else:
            assert grant.role not in SECRET_POLICY_ROLES, grant


def test_the_host_account_has_no_secret_manager_permission_anywhere(
    tf: Config, all_grants: list[Grant]
) -> None:
    """No predefined secretmanager role and no custom role with a secretmanager permission,
    on the project or on any secret: a VM proves its identity to the API instead."""
    for grant in grants_to(all_grants, "sa:host"):
        assert not grant.role.startswith("roles/secretmanager."), grant
        assert grant.scope != "google_secret_manager_secret_iam_member", grant
        if grant.role.startswith("google_"):
            permissions = custom_role_permissions(tf, grant.role)
            assert not [p for p in permissions if p.startswith("secretmanager.")], grant
    # Grants to computed members (for_each over accounts) are resolved to sa:<name>; a
    # member the parser could not resolve must not be able to hide the host account.
    assert not [g for g in all_grants if "google_service_account.host" in g.member]


def test_only_the_signing_functions_can_use_the_jwt_signing_key(all_grants: list[Grant]) -> None:
    """join_workshop (learner tokens), control (shadow and host control tokens), jwks (the
    public keys) and the all-in-one api: nobody else, not even start, stop or hosts."""
    secret_level = [
        g
        for g in all_grants
        if g.scope == "google_secret_manager_secret_iam_member"
        and g.target not in {*CERTIFICATE_SECRET_TARGETS.values(), "each.value"}
    ]
    assert secret_level
    assert {g.member for g in secret_level} == SIGNING_KEY_USERS
    for grant in secret_level:
        assert grant.target == "google_secret_manager_secret.jwt_signing_key.secret_id"
        assert grant.role in {
            "roles/secretmanager.secretAccessor",
            "roles/secretmanager.secretVersionAdder",
            "roles/secretmanager.viewer",  # versions.list: sign with the oldest, publish all
        }


def test_host_account_only_writes_logs_and_pulls_seat_images(all_grants: list[Grant]) -> None:
    """Hosts report events through POST /api/hosts/events with their identity token: the
    shared host account publishes nothing (it would let one host speak for all). Writing its
    logs, ``roles/logging.logWriter`` (``logging.logEntries.create`` only), is the one
    project-wide grant, since log writing cannot be granted lower."""
    host = {(g.scope, g.target, g.role) for g in grants_to(all_grants, "sa:host")}
    assert host == {
        ("project", "project", "roles/logging.logWriter"),
        (
            "google_artifact_registry_repository_iam_member",
            "google_artifact_registry_repository.seats.name",
            "roles/artifactregistry.reader",
        ),
    }


def test_event_publishers_publish_on_the_topic_only(all_grants: list[Grant]) -> None:
    publishers = [g for g in all_grants if g.role == "roles/pubsub.publisher"]
    members = {g.member for g in publishers}
    assert members >= {"sa:start_workshop", "sa:stop_workshop", "sa:hosts", "sa:provisioner"}
    assert "sa:host" not in members, "hosts report through POST /api/hosts/events, never publish"
    for grant in publishers:
        assert grant.scope == "google_pubsub_topic_iam_member", grant


def test_only_the_provisioner_may_act_as_the_host_account(all_grants: list[Grant]) -> None:
    act_as = [g for g in all_grants if g.role == "roles/iam.serviceAccountUser"]
    assert [(g.scope, g.target, g.member) for g in act_as] == [
        (
            "google_service_account_iam_member",
            "google_service_account.host.name",
            "sa:provisioner",
        )
    ]


def test_provisioner_manages_only_clarateach_hosts_in_its_zone(
    tf: Config, all_grants: list[Grant]
) -> None:
    (lifecycle,) = [
        g for g in all_grants if g.role == "google_project_iam_custom_role.host_lifecycle"
    ]
    assert lifecycle.member == "sa:provisioner"
    condition = lifecycle.condition or ""
    assert "/zones/${var.zone}/instances/${local.host_name_prefix}" in condition
    assert "/zones/${var.zone}/disks/${local.host_name_prefix}" in condition
    prefix = tf.local("host_name_prefix").value()
    assert host_name("wabc", 0).startswith(prefix)
    permissions = set(custom_role_permissions(tf, lifecycle.role))
    assert all(p.startswith(("compute.instances.", "compute.disks.")) for p in permissions)
    assert "compute.instances.setIamPolicy" not in permissions


def test_provisioner_uses_only_the_hosts_subnet(all_grants: list[Grant]) -> None:
    network = [g for g in all_grants if g.role == "roles/compute.networkUser"]
    assert [(g.scope, g.target, g.member) for g in network] == [
        (
            "google_compute_subnetwork_iam_member",
            "google_compute_subnetwork.hosts.name",
            "sa:provisioner",
        )
    ]


def test_dns_rights_are_granted_on_the_managed_zone_only(all_grants: list[Grant]) -> None:
    """The provisioner (host A records) and the certificates function (DNS-01 TXT records);
    never the host VMs, which must not be able to prove control of the domain to a CA."""
    dns = [g for g in all_grants if "dns" in g.role.lower()]
    assert dns and all(g.scope == "google_dns_managed_zone_iam_member" for g in dns)
    assert all(g.target == "var.dns_managed_zone" for g in dns)
    assert {g.member for g in dns} == {"sa:provisioner", "sa:certificates"}


# ------------------------------------------------------- the deployment certificate

CERTIFICATE_SECRET_TARGETS = {
    "certificate": "google_secret_manager_secret.tls_certificate.secret_id",
    "account": "google_secret_manager_secret.acme_account.secret_id",
}


def _targets(tf: Config, grant: Grant) -> set[str]:
    """The secrets a grant is on; a ``for_each`` over ``local.certificate_secrets`` is on
    every value of that map."""
    if grant.target != "each.value":
        return {grant.target}
    resource = tf.resource(grant.address)
    assert resource.for_each is not None
    assert resource.for_each.refs() == {"local.certificate_secrets"}, grant
    items = tf.local("certificate_secrets").node["Items"]
    return {tf.text(item["ValueExpr"]["SrcRange"]).strip() for item in items}


def _on_secret(tf: Config, all_grants: list[Grant], which: str) -> set[tuple[str, str]]:
    target = CERTIFICATE_SECRET_TARGETS[which]
    return {
        (g.member, g.role)
        for g in all_grants
        if g.scope == "google_secret_manager_secret_iam_member" and target in _targets(tf, g)
    }


def test_only_the_certificates_function_writes_the_certificate_and_the_acme_account(
    tf: Config, all_grants: list[Grant]
) -> None:
    """The certificates function is the only writer of the certificate and the only user of
    the ACME account key; the hosts function only reads the certificate, to hand it to host
    VMs; nobody else (no VM, no other function) holds a role on either secret."""
    fn = "sa:certificates"
    assert _on_secret(tf, all_grants, "certificate") == {
        (fn, "roles/secretmanager.secretAccessor"),
        (fn, "roles/secretmanager.secretVersionAdder"),
        ("sa:hosts", "roles/secretmanager.secretAccessor"),
    }
    assert _on_secret(tf, all_grants, "account") == {
        (fn, "roles/secretmanager.secretAccessor"),
        (fn, "roles/secretmanager.secretVersionAdder"),
    }
    for name in ("certificates_reads", "certificates_adds_versions"):
        grant = tf.resource(f"google_secret_manager_secret_iam_member.{name}")
        assert grant.for_each is not None and grant.for_each.refs() == {
            "local.certificate_secrets"
        }, name
        assert grant.attr("member").refs() == {"google_service_account.certificates.email"}  # type: ignore[union-attr]


def test_the_certificates_function_has_no_other_rights(all_grants: list[Grant]) -> None:
    """No Firestore, Pub/Sub, Compute or project-wide role: a bug in the ACME path cannot
    touch workshops or hosts."""
    mine = grants_to(all_grants, "sa:certificates")
    assert mine
    assert not [g for g in mine if g.project_wide], mine
    assert {g.scope for g in mine} == {
        "google_secret_manager_secret_iam_member",
        "google_dns_managed_zone_iam_member",
    }


def test_the_certificate_is_renewed_daily_by_the_scheduler(tf: Config) -> None:
    job = tf.resource("google_cloud_scheduler_job.certificates")
    minute, hour, *rest = str(job.value("schedule")).split()
    assert minute.isdigit() and hour.isdigit() and rest == ["*", "*", "*"]
    target = job.body.blocks("http_target")[0]
    assert '"certificates"' in target.attr("uri").source  # type: ignore[union-attr]
    oidc = target.blocks("oidc_token")[0]
    assert oidc.attr("service_account_email").refs() == {  # type: ignore[union-attr]
        "google_service_account.scheduler.email"
    }
    specs = tf.local("function_specs").value()
    assert specs["certificates"]["runs_as"] == "certificates"
    assert "certificates" in tf.local("internal_functions").value()


def test_firewall_admits_only_https_and_acme_to_tagged_hosts(tf: Config) -> None:
    rules = tf.of_type("google_compute_firewall")
    allowing = [r for r in rules if r.body.blocks("allow")]
    assert len(allowing) == 1
    (rule,) = allowing
    assert rule.value("direction") == "INGRESS"
    assert rule.attr("target_tags").source == "[var.host_network_tag]"  # type: ignore[union-attr]
    assert rule.attr("source_tags") is None and rule.attr("target_service_accounts") is None
    allows = [(b.value("protocol"), sorted(b.value("ports"))) for b in rule.body.blocks("allow")]
    assert allows == [("tcp", ["443", "80"])]


def test_hosts_live_in_a_network_of_their_own(tf: Config) -> None:
    """The default network's allow-ssh/rdp/internal rules never reach hosts."""
    network = tf.resource("google_compute_network.hosts")
    assert network.value("auto_create_subnetworks") is False
    for rule in tf.of_type("google_compute_firewall"):
        assert rule.attr("network").refs() == {"google_compute_network.hosts.name"}  # type: ignore[union-attr]


# ------------------------------------------------------- one account per function, per rule
#: Firestore IAM is project-level only (no per-collection grants): "cannot write state" is
#: holding roles/datastore.viewer and nothing that includes a write.
STATE_WRITE = {
    "roles/datastore.user",
    "roles/datastore.owner",
    "roles/owner",
    "roles/editor",
    "datastore.entities.create",
    "datastore.entities.update",
    "datastore.entities.delete",
}
STATE_READ = {"roles/datastore.viewer", "datastore.entities.get", "datastore.entities.list"}
PUBLISH = {"roles/pubsub.publisher", "roles/pubsub.editor", "roles/pubsub.admin"}
PUBLISH |= {"pubsub.topics.publish"}
SECRET_READ = {"roles/secretmanager.secretAccessor", "secretmanager.versions.access"}
SECRET_CREATE = {"secretmanager.secrets.create", "secretmanager.versions.add"}
SIGNING_KEY = "google_secret_manager_secret.jwt_signing_key.secret_id"
CONTENT_BUCKET = "google_storage_bucket.content.name"
CONTENT_WRITE = {"roles/storage.objectUser", "roles/storage.objectAdmin", "roles/storage.admin"}
CONTENT_WRITE |= {"roles/storage.objectCreator", "storage.objects.create", "storage.objects.delete"}
CONTENT_READ = {"roles/storage.objectViewer", "storage.objects.get"}


def capabilities(tf: Config, all_grants: list[Grant], account: str) -> set[str]:
    """What ``sa:<account>`` may do, in abstract terms; a grant this does not recognise shows
    up as ``other:<role or permission>``, so the exact comparisons below catch it too."""
    found: set[str] = set()
    for grant in grants_to(all_grants, f"sa:{account}"):
        if grant.role.startswith("google_"):
            held = set(custom_role_permissions(tf, grant.role))
        else:
            held = {grant.role}
        for item in held:
            found.add(_capability(grant, item))
    if "state.write" in found:
        found.discard("state.read")  # writing includes reading
    if "content.write" in found:
        found.discard("content.read")
    return found


def _capability(grant: Grant, item: str) -> str:
    if grant.target == SIGNING_KEY:
        return "signing_key"
    if grant.target == CONTENT_BUCKET and item in CONTENT_WRITE:
        return "content.write"
    if grant.target == CONTENT_BUCKET and item in CONTENT_READ:
        return "content.read"
    if item in STATE_WRITE:
        return "state.write"
    if item in STATE_READ:
        return "state.read"
    if item in PUBLISH:
        return "publish"
    if item in SECRET_READ:
        return "secret.read"
    if item in SECRET_CREATE:
        return "secret.create"
    if item == "secretmanager.secrets.delete":
        return "secret.delete"
    if item == "secretmanager.secrets.get":
        return "secret.metadata"
    if item.startswith(("compute.", "roles/compute.", "iam.serviceAccounts.")) or item in {
        "roles/iam.serviceAccountUser"
    }:
        return "compute"
    return f"other:{item}"


def test_each_api_function_has_an_account_of_its_own(tf: Config) -> None:
    for name in API_ACCOUNTS:
        tf.resource(f"google_service_account.{name}")  # KeyError if missing
    specs = tf.local("function_specs").value()
    assert {spec["runs_as"] for n, spec in specs.items() if n in API_ACCOUNTS} == set(API_ACCOUNTS)


def test_create_may_create_a_workshop_secret_but_not_read_it(
    tf: Config, all_grants: list[Grant]
) -> None:
    """It stores the key (create, add the version; delete it if the workshop could not be
    stored, get to check it exists), never reads it back, publishes nothing."""
    assert capabilities(tf, all_grants, "create_workshop") == {
        "state.write",
        "secret.create",
        "secret.delete",
        "secret.metadata",
        "content.write",  # PUT /api/workshops/{id}/content: the content bucket only
    }


def test_start_and_stop_publish_but_touch_no_secret_and_no_compute(
    tf: Config, all_grants: list[Grant]
) -> None:
    """The provisioner creates and deletes VMs and the workshop's secret; start and stop only
    move the workshop's status and publish the event."""
    for name in ("start_workshop", "stop_workshop"):
        assert capabilities(tf, all_grants, name) == {"state.write", "publish"}, name


def test_join_reads_state_and_the_signing_key_and_never_publishes(
    tf: Config, all_grants: list[Grant]
) -> None:
    """It claims seats (a Firestore write: no narrower role exists) and signs learner tokens;
    it never publishes and never reads workshop API keys (host routes live in ``hosts``)."""
    assert capabilities(tf, all_grants, "join_workshop") == {"state.write", "signing_key"}


def test_the_read_only_function_cannot_write_state(tf: Config, all_grants: list[Grant]) -> None:
    assert capabilities(tf, all_grants, "workshops") == {"state.read", "content.read"}


def test_control_signs_tokens_but_never_publishes_or_touches_workshop_secrets(
    tf: Config, all_grants: list[Grant]
) -> None:
    assert capabilities(tf, all_grants, "control") == {"state.write", "signing_key"}


def test_hosts_reads_state_and_workshop_keys_and_publishes_host_events(
    tf: Config, all_grants: list[Grant]
) -> None:
    """The one documented exception to "API functions never read workshop keys": hosts
    (POST /api/hosts/credentials, /api/hosts/events) for a VM that proved which it is."""
    assert capabilities(tf, all_grants, "hosts") == {
        "state.read",
        "secret.read",
        "publish",
        "content.read",  # GET /api/hosts/content, for a VM that proved which it is
    }


def test_jwks_only_reads_the_signing_key_and_health_holds_nothing(
    tf: Config, all_grants: list[Grant]
) -> None:
    assert capabilities(tf, all_grants, "jwks") == {"signing_key"}
    assert capabilities(tf, all_grants, "health") == set()


def test_the_all_in_one_api_holds_only_the_instructor_functions_rights(
    tf: Config, all_grants: list[Grant]
) -> None:
    """``api_layout = single_url``: one account for every instructor operation, so it holds
    their union and no more (hosts still use the ``hosts`` function: no secret reads)."""
    union: set[str] = set()
    for name in tf.local("instructor_layouts").value()["split"]:
        union |= capabilities(tf, all_grants, name)
    union.discard("state.read")  # the others write
    union.discard("content.read")  # create_workshop writes content
    assert "state.write" in union
    assert capabilities(tf, all_grants, "api") == union
    assert "secret.read" not in union


# ------------------------------------------------------------------------ content packs
def test_the_content_bucket_is_private_uniform_and_expires_objects(tf: Config) -> None:
    bucket = tf.resource("google_storage_bucket.content")
    assert bucket.attr("uniform_bucket_level_access").value() is True
    assert bucket.attr("public_access_prevention").value() == "enforced"
    [rule] = bucket.body.blocks("lifecycle_rule")
    [action] = rule.blocks("action")
    [condition] = rule.blocks("condition")
    assert action.attr("type").value() == "Delete"
    assert condition.attr("age").source == "var.content_retention_days"


def test_only_the_uploading_functions_write_content_and_the_serving_ones_read_it(
    all_grants: list[Grant],
) -> None:
    """Writers: create_workshop (and api, single_url), which validate every pack. Readers:
    hosts and workshops. Nobody else, above all not the host VMs' account: a VM gets its own
    workshop's pack through the hosts function only."""
    on_bucket = [g for g in all_grants if g.target == CONTENT_BUCKET]
    writers = {g.member for g in on_bucket if g.role in CONTENT_WRITE}
    readers = {g.member for g in on_bucket if g.role in CONTENT_READ}
    assert writers == {"sa:create_workshop", "sa:api"}
    assert readers == {"sa:hosts", "sa:workshops"}
    assert {g.role for g in on_bucket} <= CONTENT_WRITE | CONTENT_READ
    assert all(g.scope == "google_storage_bucket_iam_member" for g in on_bucket)


def test_the_host_account_has_no_storage_access_anywhere(all_grants: list[Grant]) -> None:
    for grant in grants_to(all_grants, "sa:host"):
        assert "storage" not in grant.role, grant
        assert grant.scope != "google_storage_bucket_iam_member", grant
    for grant in all_grants:  # project-wide storage roles only with a condition naming
        if grant.project_wide and grant.role.startswith("roles/storage."):  # other buckets
            assert grant.condition and "content" not in grant.condition, grant
            assert grant.member != "sa:host", grant
