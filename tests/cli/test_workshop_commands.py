"""``clarateach workshop ...`` against a real API server: output, --json, errors, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clarateach import cli
from tests.cli.conftest import API_KEY, RunCli
from tests.cli.server import ApiServer, ScriptedProvisionerBus


def create(run_cli: RunCli, key_file: Path, seats: int = 3) -> dict:
    result = run_cli(
        "workshop",
        "create",
        "--name",
        "Intro",
        "--seats",
        str(seats),
        "--api-key-file",
        str(key_file),
        "--json",
    )
    assert result.exit_code == 0, result.text
    return json.loads(result.stdout)["workshop"]


def assert_clean(result) -> None:
    """Every CLI run: no traceback and never the API key, whatever happened."""
    assert "Traceback" not in result.stdout + result.stderr
    assert API_KEY not in result.stdout + result.stderr


# ------------------------------------------------------------------------ create
def test_create_prints_the_workshop_and_its_join_code(run_cli: RunCli, key_file: Path) -> None:
    result = run_cli(
        "workshop",
        "create",
        "-n",
        "Intro to Claude Code",
        "-s",
        "12",
        "--api-key-file",
        str(key_file),
    )
    assert result.exit_code == 0, result.text
    assert "Intro to Claude Code" in result.text
    assert "CLAUDE-" in result.text
    assert "clarateach workshop start" in result.text
    assert_clean(result)


def test_create_json_is_the_api_body_only(run_cli: RunCli, key_file: Path) -> None:
    result = run_cli(
        "workshop", "create", "-n", "Intro", "-s", "3", "--api-key-file", str(key_file), "--json"
    )
    assert result.exit_code == 0
    workshop = json.loads(result.stdout)["workshop"]  # stdout is nothing but JSON
    assert workshop["status"] == "created"
    assert workshop["seats"] == 3
    assert "api_key" not in workshop and "api_key_ref" not in workshop
    assert_clean(result)


def test_create_sets_the_workshops_claude_code_settings(
    run_cli: RunCli, key_file: Path, tmp_path: Path
) -> None:
    (tmp_path / "CLAUDE.md").write_text("# Today\nWe build a CLI.\n")
    (tmp_path / "settings.json").write_text('{"permissions": {"allow": ["Bash(ls:*)"]}}')
    (tmp_path / "policy.json").write_text('{"defaults": {"budget_usd": 5}}')
    result = run_cli(
        "workshop", "create", "-n", "Intro", "-s", "2", "--api-key-file", str(key_file),
        "--model-policy-file", str(tmp_path / "policy.json"),
        "--default-model", "claude-haiku-4-5",
        "--allow-model", "claude-haiku-4-5", "--allow-model", "claude-sonnet-4-6",
        "--claude-md", str(tmp_path / "CLAUDE.md"),
        "--claude-settings", str(tmp_path / "settings.json"), "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.text
    policy = json.loads(result.stdout)["workshop"]["model_policy"]
    assert policy["defaults"]["budget_usd"] == 5
    assert policy["claude_code"] == {
        "default_model": "claude-haiku-4-5",
        "allowed_models": ["claude-haiku-4-5", "claude-sonnet-4-6"],
        "claude_md": "# Today\nWe build a CLI.\n",
        "settings": {"permissions": {"allow": ["Bash(ls:*)"]}},
    }


def test_create_refuses_a_default_model_outside_the_allowlist(
    run_cli: RunCli, key_file: Path
) -> None:
    result = run_cli(
        "workshop", "create", "-n", "Intro", "-s", "2", "--api-key-file", str(key_file),
        "--default-model", "claude-opus-4-6", "--allow-model", "claude-haiku-4-5", "--json",
    )  # fmt: skip
    assert result.exit_code != 0
    error = json.loads(result.stderr.strip().splitlines()[-1])["error"]
    assert "model_policy.claude_code" in error["message"]
    assert_clean(result)


def test_create_reads_the_key_from_the_environment(run_cli: RunCli, api: ApiServer) -> None:
    result = run_cli(
        "workshop", "create", "-n", "Env", "-s", "2", "--json", env={"ANTHROPIC_API_KEY": API_KEY}
    )
    assert result.exit_code == 0, result.text
    workshop_id = json.loads(result.stdout)["workshop"]["id"]
    stored = api.platform.store.get_workshop(workshop_id)
    assert stored is not None
    assert api.platform.secrets.access(stored.api_key_ref or "") == API_KEY
    assert_clean(result)


def test_create_reads_the_key_from_stdin_with_a_dash(run_cli: RunCli) -> None:
    result = run_cli(
        "workshop", "create", "-n", "Stdin", "-s", "2", "--api-key-file", "-", input=API_KEY + "\n"
    )
    assert result.exit_code == 0, result.text
    assert_clean(result)


def test_create_without_any_key_source_says_how_to_give_one(run_cli: RunCli) -> None:
    result = run_cli("workshop", "create", "-n", "No key", "-s", "2")
    assert result.exit_code == cli.EXIT_API_ERROR
    assert "--api-key-file" in result.text and "ANTHROPIC_API_KEY" in result.text
    assert_clean(result)


def test_there_is_no_plain_api_key_flag(run_cli: RunCli) -> None:
    result = run_cli("workshop", "create", "-n", "x", "-s", "2", "--api-key", API_KEY)
    assert result.exit_code == 2  # usage error: the option does not exist
    assert API_KEY not in result.stdout


def test_a_world_readable_key_file_gets_a_warning(run_cli: RunCli, key_file: Path) -> None:
    key_file.chmod(0o644)
    result = run_cli("workshop", "create", "-n", "x", "-s", "2", "--api-key-file", str(key_file))
    assert result.exit_code == 0
    assert "readable by other users" in result.text


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["-n", "Bad", "-s", "0"], "seats"),
        (["-n", "Bad", "-s", "501"], "seats"),
        (["-n", "   ", "-s", "5"], "name"),
    ],
)
def test_server_validation_errors_are_printed_with_exit_1(
    run_cli: RunCli, key_file: Path, args: list[str], field: str
) -> None:
    result = run_cli("workshop", "create", *args, "--api-key-file", str(key_file))
    assert result.exit_code == cli.EXIT_API_ERROR
    assert result.stdout == ""
    assert f"error: {field}:" in result.text
    assert "invalid_request" in result.text and "HTTP 400" in result.text
    assert_clean(result)


def test_a_malformed_key_is_refused_without_echoing_it(run_cli: RunCli, tmp_path: Path) -> None:
    bad = tmp_path / "bad-key"
    bad.write_text("not-a-key-$(rm -rf /)")
    bad.chmod(0o600)
    result = run_cli("workshop", "create", "-n", "x", "-s", "2", "--api-key-file", str(bad))
    assert result.exit_code == cli.EXIT_API_ERROR
    assert "api_key" in result.text
    assert "rm -rf" not in result.text


def test_json_errors_go_to_stderr_as_the_servers_error_body(
    run_cli: RunCli, key_file: Path
) -> None:
    result = run_cli(
        "workshop", "create", "-n", "Bad", "-s", "0", "--api-key-file", str(key_file), "--json"
    )
    assert result.exit_code == cli.EXIT_API_ERROR
    assert result.stdout == ""
    error = json.loads(result.stderr)["error"]
    assert error["code"] == "invalid_request"
    assert error["field"] == "seats"


# -------------------------------------------------------------------- list/info
def test_list_shows_nothing_then_the_created_workshops(run_cli: RunCli, key_file: Path) -> None:
    empty = run_cli("workshop", "list")
    assert empty.exit_code == 0
    assert "No workshops yet" in empty.text
    first, second = create(run_cli, key_file), create(run_cli, key_file)
    listed = run_cli("workshop", "list")
    assert listed.exit_code == 0
    assert first["id"] in listed.text and second["id"] in listed.text
    as_json = json.loads(run_cli("workshop", "list", "--json").stdout)
    assert [w["id"] for w in as_json["workshops"]] == [second["id"], first["id"]]
    assert as_json["next_cursor"] is None


def test_list_pages_with_limit_and_cursor(run_cli: RunCli, key_file: Path) -> None:
    ids = {create(run_cli, key_file)["id"] for _ in range(3)}
    page = json.loads(run_cli("workshop", "list", "--limit", "2", "--json").stdout)
    assert len(page["workshops"]) == 2 and page["next_cursor"]
    human = run_cli("workshop", "list", "--limit", "2")
    assert f"--cursor {page['next_cursor']}" in human.text
    rest = json.loads(run_cli("workshop", "list", "--cursor", page["next_cursor"], "--json").stdout)
    assert {w["id"] for w in page["workshops"] + rest["workshops"]} == ids


def test_info_shows_status_code_and_seats(run_cli: RunCli, key_file: Path) -> None:
    workshop = create(run_cli, key_file, seats=4)
    result = run_cli("workshop", "info", workshop["id"])
    assert result.exit_code == 0
    assert workshop["code"] in result.text and "created" in result.text
    assert (
        json.loads(run_cli("workshop", "info", workshop["id"], "--json").stdout)["workshop"]["id"]
        == workshop["id"]
    )


def test_unknown_workshop_is_a_clean_not_found(run_cli: RunCli) -> None:
    for command in ("info", "start", "stop", "seats", "usage", "shadow-token"):
        result = run_cli("workshop", command, "wdoesnotexist")
        assert result.exit_code == cli.EXIT_API_ERROR, command
        assert "not found" in result.text and "HTTP 404" in result.text, command
        assert_clean(result)


def test_hostile_ids_are_encoded_not_interpreted(run_cli: RunCli) -> None:
    result = run_cli("workshop", "info", "../../api/health")
    assert result.exit_code == cli.EXIT_API_ERROR
    assert "HTTP 404" in result.text


# ------------------------------------------------------------------- start/stop
def test_start_without_wait_returns_at_once(run_cli: RunCli, key_file: Path) -> None:
    workshop = create(run_cli, key_file)
    result = run_cli("workshop", "start", workshop["id"], "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["workshop"]["status"] == "provisioning"


def test_start_wait_follows_until_running(run_cli: RunCli, key_file: Path) -> None:
    workshop = create(run_cli, key_file, seats=12)
    result = run_cli("workshop", "start", workshop["id"], "--wait")
    assert result.exit_code == 0, result.text
    assert "Running." in result.text and workshop["code"] in result.text
    assert "host 1 ready" in result.text  # 12 seats / 10 per host: two hosts reported
    assert_clean(result)


def test_start_wait_json_prints_the_running_workshop(run_cli: RunCli, key_file: Path) -> None:
    workshop = create(run_cli, key_file)
    result = run_cli("workshop", "start", workshop["id"], "--wait", "--json")
    assert result.exit_code == 0
    body = json.loads(result.stdout)["workshop"]
    assert body["status"] == "running"
    assert all(h["status"] == "ready" for h in body["hosts"])


def test_start_wait_exits_5_with_the_reason_when_provisioning_fails(
    run_cli: RunCli, key_file: Path, bus: ScriptedProvisionerBus
) -> None:
    bus.fail_reason = "quota exceeded: CPUS in us-central1 (limit 8)"
    workshop = create(run_cli, key_file)
    result = run_cli("workshop", "start", workshop["id"], "--wait")
    assert result.exit_code == cli.EXIT_WORKSHOP_FAILED
    assert "quota exceeded: CPUS in us-central1" in result.text
    as_json = run_cli("workshop", "info", workshop["id"], "--json")
    assert json.loads(as_json.stdout)["workshop"]["status"] == "failed"


def test_start_wait_times_out_with_exit_6(
    run_cli: RunCli, key_file: Path, bus: ScriptedProvisionerBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bus, "_apply", lambda event: None)  # a provisioner that never answers
    workshop = create(run_cli, key_file)
    result = run_cli("workshop", "start", workshop["id"], "--wait", "--timeout", "1")
    assert result.exit_code == cli.EXIT_WAIT_TIMEOUT
    assert "still provisioning after 1s" in result.text


def test_starting_a_running_workshop_is_a_409_with_its_status(
    run_cli: RunCli, key_file: Path
) -> None:
    workshop = create(run_cli, key_file)
    assert run_cli("workshop", "start", workshop["id"], "--wait").exit_code == 0
    again = run_cli("workshop", "start", workshop["id"], "--json")
    assert again.exit_code == cli.EXIT_API_ERROR
    error = json.loads(again.stderr)["error"]
    assert error["code"] == "invalid_state" and error["status"] == "running"


def test_stop_moves_a_running_workshop_to_stopping(run_cli: RunCli, key_file: Path) -> None:
    workshop = create(run_cli, key_file)
    run_cli("workshop", "start", workshop["id"], "--wait")
    result = run_cli("workshop", "stop", workshop["id"])
    assert result.exit_code == 0
    assert "stopping" in result.text


# ---------------------------------------------------------- seats, usage, shadow
def test_seats_and_usage_of_a_fresh_workshop(run_cli: RunCli, key_file: Path) -> None:
    workshop = create(run_cli, key_file)
    seats = run_cli("workshop", "seats", workshop["id"], "--json")
    assert seats.exit_code == 0 and json.loads(seats.stdout) == {"seats": []}
    assert "Seats" in run_cli("workshop", "seats", workshop["id"]).text
    usage = run_cli("workshop", "usage", workshop["id"], "--json")
    assert usage.exit_code == 0
    assert "totals" in json.loads(usage.stdout)
    assert "Model usage" in run_cli("workshop", "usage", workshop["id"]).text


def test_shadow_token_for_a_running_workshop(run_cli: RunCli, key_file: Path) -> None:
    workshop = create(run_cli, key_file)
    refused = run_cli("workshop", "shadow-token", workshop["id"])
    assert refused.exit_code == cli.EXIT_API_ERROR  # not live yet
    run_cli("workshop", "start", workshop["id"], "--wait")
    result = run_cli("workshop", "shadow-token", workshop["id"], "--json")
    assert result.exit_code == 0
    body = json.loads(result.stdout)
    assert body["token"].count(".") == 2 and body["expires_in"] > 0
    assert "http://127.0.0.1:9000" in run_cli("workshop", "shadow-token", workshop["id"]).text


def test_model_kill_switch_commands(run_cli: RunCli, key_file: Path, api: ApiServer) -> None:
    workshop = create(run_cli, key_file)
    run_cli("workshop", "start", workshop["id"], "--wait")
    paused = run_cli("workshop", "pause-model", workshop["id"])
    assert paused.exit_code == 0, paused.text
    assert "Model access paused" in paused.text
    assert api.platform.store.get_workshop(workshop["id"]).model_paused is True
    resumed = run_cli("workshop", "resume-model", workshop["id"], "--json")
    assert resumed.exit_code == 0
    assert json.loads(resumed.stdout)["workshop"]["id"] == workshop["id"]
    assert api.platform.store.get_workshop(workshop["id"]).model_paused is False
    assert_clean(paused)


# ------------------------------------------------------------------------ auth
def test_a_wrong_token_is_refused_with_exit_1(run_cli: RunCli) -> None:
    result = run_cli("workshop", "list", "--token", "wrong")
    assert result.exit_code == cli.EXIT_API_ERROR
    assert "HTTP 401" in result.text
    assert_clean(result)


def test_the_token_env_var_is_used(run_cli: RunCli, api: ApiServer) -> None:
    assert run_cli("workshop", "list", env={"CLARATEACH_TOKEN": "wrong"}).exit_code == 1
    assert run_cli("workshop", "list", env={"CLARATEACH_TOKEN": api.token}).exit_code == 0


def test_flag_beats_env(run_cli: RunCli, api: ApiServer) -> None:
    result = run_cli("workshop", "list", "--token", api.token, env={"CLARATEACH_TOKEN": "wrong"})
    assert result.exit_code == 0


def test_no_local_token_explains_what_to_do(run_cli: RunCli, tmp_path: Path) -> None:
    result = run_cli("workshop", "list", "--state-dir", str(tmp_path / "empty"))
    assert result.exit_code == cli.EXIT_NO_CREDENTIALS
    assert "clarateach local up" in result.text


def test_an_unreachable_api_is_exit_3_without_traceback(run_cli: RunCli) -> None:
    from tests.support.net import free_port

    url = f"http://127.0.0.1:{free_port()}"
    result = run_cli("workshop", "list", "--api-url", url, "--token", "t")
    assert result.exit_code == cli.EXIT_UNREACHABLE
    assert f"cannot reach API at {url}" in result.text
    assert_clean(result)
    as_json = run_cli("workshop", "list", "--api-url", url, "--token", "t", "--json")
    assert json.loads(as_json.stderr)["error"]["code"] == "api_unreachable"


def test_a_url_that_is_not_the_api_is_reported_not_crashed_on(
    run_cli: RunCli, api: ApiServer
) -> None:
    # Under /elsewhere the server answers with the web client's HTML, not the API's JSON.
    result = run_cli("workshop", "list", "--api-url", api.url + "/elsewhere", "--token", "t")
    assert result.exit_code == cli.EXIT_API_ERROR
    assert "did not answer with JSON" in result.text
    assert_clean(result)


def test_start_dry_run_shows_the_quota_a_workshop_needs_and_starts_nothing(
    run_cli: RunCli, key_file: Path
) -> None:
    """500 seats at 10 per host on e2-standard-4 need 200 vCPUs (regional CPUS and
    CPUS_ALL_REGIONS), 50 in-use addresses and 2,500 GB of pd-balanced (SSD_TOTAL_GB)."""
    workshop = create(run_cli, key_file, seats=500)
    result = run_cli("workshop", "start", workshop["id"], "--dry-run", "--json")
    assert result.exit_code == 0, result.text
    assert json.loads(result.stdout)["needs"] == {
        "CPUS": 200,
        "CPUS_ALL_REGIONS": 200,
        "IN_USE_ADDRESSES": 50,
        "SSD_TOTAL_GB": 2500,
    }
    human = run_cli("workshop", "start", workshop["id"], "--dry-run")
    assert "50 hosts of e2-standard-4" in human.text and "IN_USE_ADDRESSES" in human.text
    shown = run_cli("workshop", "info", workshop["id"], "--json")
    assert json.loads(shown.stdout)["workshop"]["status"] == "created"
