"""The least-privilege checks catch real mistakes: each mutation below is a plausible bad
edit of terraform/, applied to a copy, and the matching check must fail on it."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.deploy import test_least_privilege as checks
from tests.deploy import test_terraform_config as config_checks
from tests.deploy.conftest import TERRAFORM_DIR
from tests.deploy.hcl import Config
from tests.deploy.iam_grants import grants
from tests.deploy.layout import DEFAULT_LAYOUT

HOST = "serviceAccount:${google_service_account.host.email}"


def _sa(name: str) -> str:
    return f"serviceAccount:${{google_service_account.{name}.email}}"


def _project_grant(role: str, account: str) -> str:
    return (
        f'resource "google_project_iam_member" "oops" {{\n  project = var.project\n'
        f'  role    = {role}\n  member  = "{_sa(account)}"\n}}\n'
    )


def _publisher(account: str) -> str:
    return (
        'resource "google_pubsub_topic_iam_member" "oops" {\n  project = var.project\n'
        "  topic   = google_pubsub_topic.workshop_events.name\n"
        f'  role    = "roles/pubsub.publisher"\n  member  = "{_sa(account)}"\n}}\n'
    )


def _signing_key(account: str) -> str:
    return (
        'resource "google_secret_manager_secret_iam_member" "oops" {\n  project = var.project\n'
        "  secret_id = google_secret_manager_secret.jwt_signing_key.secret_id\n"
        f'  role      = "roles/secretmanager.secretAccessor"\n  member    = "{_sa(account)}"\n}}\n'
    )


READER = "google_project_iam_custom_role.workshop_secret_reader.id"
JANITOR = "google_project_iam_custom_role.workshop_secret_janitor.id"
LIFECYCLE = "google_project_iam_custom_role.host_lifecycle.id"

MUTATIONS: list[tuple[str, str, Callable[..., None]]] = [
    (
        "host gets editor",
        f'resource "google_project_iam_member" "oops" {{\n  project = var.project\n'
        f'  role    = "roles/editor"\n  member  = "{HOST}"\n}}\n',
        checks.test_no_account_holds_a_broad_role_project_wide,
    ),
    (
        "host reads every secret",
        f'resource "google_project_iam_member" "oops" {{\n  project = var.project\n'
        f'  role    = "roles/secretmanager.secretAccessor"\n  member  = "{HOST}"\n}}\n',
        checks.test_host_account_only_writes_logs_and_pulls_seat_images,
    ),
    (
        "host publishes events again",
        'resource "google_pubsub_topic_iam_member" "oops" {\n  project = var.project\n'
        "  topic   = google_pubsub_topic.workshop_events.name\n"
        f'  role    = "roles/pubsub.publisher"\n  member  = "{HOST}"\n}}\n',
        checks.test_host_account_only_writes_logs_and_pulls_seat_images,
    ),
    (
        "host publishes events again (publisher check)",
        'resource "google_pubsub_topic_iam_member" "oops" {\n  project = var.project\n'
        "  topic   = google_pubsub_topic.workshop_events.name\n"
        f'  role    = "roles/pubsub.publisher"\n  member  = "{HOST}"\n}}\n',
        checks.test_event_publishers_publish_on_the_topic_only,
    ),
    (
        "host reads workshop secrets through a custom role",
        'resource "google_project_iam_custom_role" "oops" {\n  project = var.project\n'
        '  role_id = "oops"\n  title = "oops"\n'
        '  permissions = ["secretmanager.versions.access"]\n}\n'
        f'resource "google_project_iam_member" "oops" {{\n  project = var.project\n'
        f"  role    = google_project_iam_custom_role.oops.id\n"
        f'  member  = "{HOST}"\n}}\n',
        checks.test_the_host_account_has_no_secret_manager_permission_anywhere,
    ),
    (
        "host reads one secret",
        'resource "google_secret_manager_secret_iam_member" "oops" {\n  project = var.project\n'
        "  secret_id = google_secret_manager_secret.jwt_signing_key.secret_id\n"
        f'  role    = "roles/secretmanager.viewer"\n  member  = "{HOST}"\n}}\n',
        checks.test_the_host_account_has_no_secret_manager_permission_anywhere,
    ),
    (
        "provisioner may change secret policies again",
        'resource "google_project_iam_custom_role" "oops" {\n  project = var.project\n'
        '  role_id = "oops"\n  title = "oops"\n'
        '  permissions = ["secretmanager.secrets.setIamPolicy"]\n}\n'
        'resource "google_project_iam_member" "oops" {\n  project = var.project\n'
        "  role    = google_project_iam_custom_role.oops.id\n"
        '  member  = "serviceAccount:${google_service_account.provisioner.email}"\n}\n',
        checks.test_nobody_can_change_who_reads_a_secret,
    ),
    (
        "another account reads workshop keys",
        'resource "google_project_iam_member" "oops" {\n  project = var.project\n'
        "  role    = google_project_iam_custom_role.workshop_secret_reader.id\n"
        '  member  = "serviceAccount:${google_service_account.provisioner.email}"\n}\n',
        checks.test_only_the_hosts_function_reads_workshop_keys_and_nothing_else,
    ),
    (
        "api made public",
        'resource "google_cloud_run_service_iam_member" "oops" {\n  for_each = toset(["api"])\n'
        "  project  = var.project\n  location = var.region\n"
        "  service  = google_cloudfunctions2_function.fn[each.key].name\n"
        '  role     = "roles/run.invoker"\n  member   = "allUsers"\n}\n',
        checks.test_only_join_hosts_jwks_and_health_are_public,
    ),
    (
        "ssh opened",
        'resource "google_compute_firewall" "oops" {\n  name    = "ssh"\n'
        "  network = google_compute_network.hosts.name\n"
        '  allow {\n    protocol = "tcp"\n    ports    = ["22"]\n  }\n}\n',
        checks.test_firewall_admits_only_https_and_acme_to_tagged_hosts,
    ),
    (
        "provisioner acts as any account",
        'resource "google_project_iam_member" "oops" {\n  project = var.project\n'
        '  role    = "roles/iam.serviceAccountUser"\n'
        '  member  = "serviceAccount:${google_service_account.provisioner.email}"\n}\n',
        checks.test_only_the_provisioner_may_act_as_the_host_account,
    ),
]


MUTATIONS += [
    (
        "create reads its secret back",
        _project_grant(READER, "create_workshop"),
        checks.test_create_may_create_a_workshop_secret_but_not_read_it,
    ),
    (
        "create publishes",
        _publisher("create_workshop"),
        checks.test_create_may_create_a_workshop_secret_but_not_read_it,
    ),
    (
        "start manages hosts",
        _project_grant(LIFECYCLE, "start_workshop"),
        checks.test_start_and_stop_publish_but_touch_no_secret_and_no_compute,
    ),
    (
        "stop deletes workshop secrets",
        _project_grant(JANITOR, "stop_workshop"),
        checks.test_start_and_stop_publish_but_touch_no_secret_and_no_compute,
    ),
    (
        "join publishes",
        _publisher("join_workshop"),
        checks.test_join_reads_state_and_the_signing_key_and_never_publishes,
    ),
    (
        "join reads workshop keys",
        _project_grant(READER, "join_workshop"),
        checks.test_join_reads_state_and_the_signing_key_and_never_publishes,
    ),
    (
        "the read-only function writes state",
        _project_grant('"roles/datastore.user"', "workshops"),
        checks.test_the_read_only_function_cannot_write_state,
    ),
    (
        "the read-only function writes entities through a custom role",
        'resource "google_project_iam_custom_role" "oops" {\n  project = var.project\n'
        '  role_id = "oops"\n  title = "oops"\n'
        '  permissions = ["datastore.entities.update"]\n}\n'
        + _project_grant("google_project_iam_custom_role.oops.id", "workshops"),
        checks.test_the_read_only_function_cannot_write_state,
    ),
    (
        "control publishes",
        _publisher("control"),
        checks.test_control_signs_tokens_but_never_publishes_or_touches_workshop_secrets,
    ),
    (
        "hosts signs tokens",
        _signing_key("hosts"),
        checks.test_hosts_reads_state_and_workshop_keys_and_publishes_host_events,
    ),
    (
        "hosts signs tokens (signing key check)",
        _signing_key("hosts"),
        checks.test_only_the_signing_functions_can_use_the_jwt_signing_key,
    ),
    (
        "jwks reads Firestore",
        _project_grant('"roles/datastore.viewer"', "jwks"),
        checks.test_jwks_only_reads_the_signing_key_and_health_holds_nothing,
    ),
    (
        "health publishes",
        _publisher("health"),
        checks.test_jwks_only_reads_the_signing_key_and_health_holds_nothing,
    ),
    (
        "the all-in-one api reads workshop keys",
        _project_grant(READER, "api"),
        checks.test_the_all_in_one_api_holds_only_the_instructor_functions_rights,
    ),
]


def _on_certificate_secret(secret: str, role: str, account: str) -> str:
    return (
        'resource "google_secret_manager_secret_iam_member" "oops" {\n  project = var.project\n'
        f"  secret_id = google_secret_manager_secret.{secret}.secret_id\n"
        f'  role      = "{role}"\n  member    = "{_sa(account)}"\n}}\n'
    )


def _zone_editor(account: str) -> str:
    return (
        'resource "google_dns_managed_zone_iam_member" "oops" {\n  project = var.project\n'
        "  managed_zone = var.dns_managed_zone\n"
        "  role         = google_project_iam_custom_role.dns_record_editor[0].id\n"
        f'  member       = "{_sa(account)}"\n}}\n'
    )


ADDER = "roles/secretmanager.secretVersionAdder"
ACCESSOR = "roles/secretmanager.secretAccessor"
MUTATIONS += [
    (
        "host VMs read the certificate key themselves",
        _on_certificate_secret("tls_certificate", ACCESSOR, "host"),
        checks.test_only_the_certificates_function_writes_the_certificate_and_the_acme_account,
    ),
    (
        "the hosts function may overwrite the certificate",
        _on_certificate_secret("tls_certificate", ADDER, "hosts"),
        checks.test_only_the_certificates_function_writes_the_certificate_and_the_acme_account,
    ),
    (
        "the provisioner reads the ACME account key",
        _on_certificate_secret("acme_account", ACCESSOR, "provisioner"),
        checks.test_only_the_certificates_function_writes_the_certificate_and_the_acme_account,
    ),
    (
        "host VMs may write DNS-01 records",
        _zone_editor("host"),
        checks.test_dns_rights_are_granted_on_the_managed_zone_only,
    ),
    (
        "the certificates function may read workshop state",
        _project_grant('"roles/datastore.viewer"', "certificates"),
        checks.test_the_certificates_function_has_no_other_rights,
    ),
    (
        "the certificates function may publish events",
        _publisher("certificates"),
        checks.test_the_certificates_function_has_no_other_rights,
    ),
]


def _content_grant(role: str, member: str) -> str:
    return (
        'resource "google_storage_bucket_iam_member" "oops" {\n'
        "  bucket = google_storage_bucket.content.name\n"
        f'  role   = "{role}"\n  member = "{member}"\n}}\n'
    )


MUTATIONS += [
    (
        "host VMs read the content bucket",
        _content_grant("roles/storage.objectViewer", HOST),
        checks.test_the_host_account_has_no_storage_access_anywhere,
    ),
    (
        "host VMs read the content bucket (bucket check)",
        _content_grant("roles/storage.objectViewer", HOST),
        checks.test_only_the_uploading_functions_write_content_and_the_serving_ones_read_it,
    ),
    (
        "host VMs read every bucket",
        _project_grant('"roles/storage.objectViewer"', "host"),
        checks.test_the_host_account_has_no_storage_access_anywhere,
    ),
    (
        "the content bucket is made public",
        _content_grant("roles/storage.objectViewer", "allUsers"),
        checks.test_the_only_other_public_grant_is_the_web_bucket,
    ),
    (
        "join writes content",
        _content_grant("roles/storage.objectUser", _sa("join_workshop")),
        checks.test_only_the_uploading_functions_write_content_and_the_serving_ones_read_it,
    ),
    (
        "the read-only function writes content",
        _content_grant("roles/storage.objectUser", _sa("workshops")),
        checks.test_the_read_only_function_cannot_write_state,
    ),
]


def mutated_copy(tmp_path: Path, extra: str) -> Config:
    target = tmp_path / "terraform"
    shutil.copytree(TERRAFORM_DIR, target, ignore=shutil.ignore_patterns(".terraform*"))
    (target / "zz_mutation.tf").write_text(extra)
    return Config(target, {"api_layout": DEFAULT_LAYOUT})


@pytest.mark.parametrize(
    ("extra", "check"),
    [(extra, check) for _, extra, check in MUTATIONS],
    ids=[name for name, _, _ in MUTATIONS],
)
def test_check_fails_on_mutation(tmp_path: Path, extra: str, check: Callable[..., None]) -> None:
    tf = mutated_copy(tmp_path, extra)
    arguments = {"tf": tf, "tf_layout": tf, "all_grants": grants(tf)}
    names = check.__code__.co_varnames[: check.__code__.co_argcount]
    with pytest.raises(AssertionError):
        check(**{name: arguments[name] for name in names})


def test_env_check_fails_on_a_variable_settings_does_not_read(tmp_path: Path) -> None:
    target = tmp_path / "terraform"
    shutil.copytree(TERRAFORM_DIR, target)
    functions_tf = target / "functions.tf"
    text = functions_tf.read_text()
    marker = '    CLARATEACH_MODE                  = "gcp"\n'
    assert marker in text
    functions_tf.write_text(text.replace(marker, marker + '    CLARATEACH_NOT_A_SETTING = "x"\n'))
    with pytest.raises(AssertionError, match="CLARATEACH_NOT_A_SETTING"):
        config_checks.test_function_environment_names_are_settings_fields(Config(target))


def test_account_check_fails_when_two_functions_share_an_account(tmp_path: Path) -> None:
    target = tmp_path / "terraform"
    shutil.copytree(TERRAFORM_DIR, target)
    main_tf = target / "main.tf"
    text = main_tf.read_text()
    marker = 'entry_point = "stop_workshop", runs_as = "stop_workshop"'
    assert marker in text
    main_tf.write_text(
        text.replace(marker, 'entry_point = "stop_workshop", runs_as = "start_workshop"')
    )
    with pytest.raises(AssertionError):
        checks.test_each_api_function_has_an_account_of_its_own(
            Config(target, {"api_layout": DEFAULT_LAYOUT})
        )


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ('public_access_prevention    = "enforced"', 'public_access_prevention    = "inherited"'),
        ("uniform_bucket_level_access = true", "uniform_bucket_level_access = false"),
        ('type = "Delete"', 'type = "SetStorageClass"'),
    ],
)
def test_bucket_check_fails_on_a_weakened_content_bucket(
    tmp_path: Path, old: str, new: str
) -> None:
    target = tmp_path / "terraform"
    shutil.copytree(TERRAFORM_DIR, target, ignore=shutil.ignore_patterns(".terraform*"))
    content_tf = target / "content.tf"
    text = content_tf.read_text()
    assert old in text
    content_tf.write_text(text.replace(old, new))
    with pytest.raises(AssertionError):
        checks.test_the_content_bucket_is_private_uniform_and_expires_objects(
            Config(target, {"api_layout": DEFAULT_LAYOUT})
        )
