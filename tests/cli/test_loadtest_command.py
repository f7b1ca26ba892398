"""``clarateach loadtest`` argument checks and refusals, against the in-process API server
(its scripted provisioner makes workshops ``running`` with hosts nobody listens on)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import API_KEY, RunCli
from tests.cli.server import ApiServer


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (["--learners", "0"], "--learners"),
        (["--learners", "100000"], "--learners"),
        (["--learners", "2", "--burst", "--over", "5"], "--burst and --over exclude each other"),
        (["--learners", "2", "--workshop", "w1", "--create"], "--workshop cannot be combined"),
        (["--learners", "2", "--local", "--keep"], "--local runs its own platform"),
        (["--learners", "2", "--duration", "0", "--model-requests", "2"], "needs a --duration"),
        (["--learners", "2", "--type-rate", "-1"], "--type-rate"),
        (["--learners", "2", "--over", "abc"], "--over"),
    ],
)
def test_bad_arguments_get_a_usage_error_naming_the_problem(
    run_cli: RunCli, args: list[str], phrase: str
) -> None:
    result = run_cli("loadtest", *args)
    assert result.exit_code == 2, result.text
    assert phrase in result.text


def test_a_target_that_is_not_loopback_is_refused_without_the_ownership_flag(
    run_cli: RunCli,
) -> None:
    # TEST-NET-3: nothing answers there, and nothing must be sent before the refusal.
    result = run_cli("loadtest", "--learners", "2", "--api-url", "http://203.0.113.7", "--json",
                     env={"CLARATEACH_TOKEN": "t"})  # fmt: skip
    assert result.exit_code == 8, result.text
    error = json.loads(result.stderr)["error"]
    assert error["code"] == "loadtest_refused"
    assert "--i-own-this-deployment" in error["message"]


def _running_workshop(run_cli: RunCli, key_file: Path, seats: int = 3) -> dict[str, object]:
    created = run_cli("workshop", "create", "-n", "Day", "-s", str(seats),
                      "--api-key-file", str(key_file), "--json")  # fmt: skip
    workshop_id = json.loads(created.stdout)["workshop"]["id"]
    started = run_cli("workshop", "start", workshop_id, "--wait", "--json")
    assert started.exit_code == 0, started.text
    return dict(json.loads(started.stdout)["workshop"])


def test_a_workshop_with_real_learners_is_refused_and_left_alone(
    run_cli: RunCli, api: ApiServer, key_file: Path
) -> None:
    workshop = _running_workshop(run_cli, key_file)
    joined = httpx.post(f"{api.url}/api/join", json={"code": workshop["code"]})
    assert joined.status_code == 200  # somebody real is in the workshop

    result = run_cli("loadtest", "--learners", "1", "--workshop", str(workshop["id"]))

    assert result.exit_code == 8, result.text
    assert "already has 1 joined seat" in result.text
    seats = run_cli("workshop", "seats", str(workshop["id"]), "--json")
    assert len(json.loads(seats.stdout)["seats"]) == 1  # no simulated learner joined
    info = json.loads(run_cli("workshop", "info", str(workshop["id"]), "--json").stdout)
    assert info["workshop"]["status"] == "running"  # not stopped: it is not ours


def test_a_workshop_that_is_not_running_or_too_small_is_refused(
    run_cli: RunCli, key_file: Path
) -> None:
    created = run_cli("workshop", "create", "-n", "Idle", "-s", "2",
                      "--api-key-file", str(key_file), "--json")  # fmt: skip
    idle = json.loads(created.stdout)["workshop"]["id"]
    result = run_cli("loadtest", "--learners", "1", "--workshop", idle)
    assert result.exit_code == 8 and "is created, not running" in result.text

    small = _running_workshop(run_cli, key_file, seats=2)
    result = run_cli("loadtest", "--learners", "3", "--workshop", str(small["id"]))
    assert result.exit_code == 8 and "has 2 seats, fewer than --learners 3" in result.text


def test_unreachable_hosts_are_failures_grouped_by_cause_and_the_run_cleans_up(
    run_cli: RunCli, api: ApiServer
) -> None:
    result = run_cli("loadtest", "--learners", "3", "--duration", "1", "--json",
                     env={"ANTHROPIC_API_KEY": API_KEY})  # fmt: skip

    assert result.exit_code == 7, result.text  # NOT READY
    report = json.loads(result.stdout)
    assert report["learners"]["joined"] == 3
    assert report["failures"] == {"terminal:unreachable": 3}
    assert report["verdict"]["pass"] is False
    failed = {c["name"] for c in report["verdict"]["checks"] if not c["ok"]}
    assert failed == {"failures", "code_to_prompt_p99_s", "echo_p99_s"}
    assert report["latency_s"]["join"]["n"] == 3 and report["latency_s"]["echo"]["n"] == 0
    assert report["cleanup"]["stopped"] is True
    info = run_cli("workshop", "info", report["target"]["workshop_id"], "--json")
    assert json.loads(info.stdout)["workshop"]["status"] == "stopped"
    assert API_KEY not in result.stdout + result.stderr


def test_the_human_report_shows_the_verdict_and_the_causes(run_cli: RunCli, api: ApiServer) -> None:
    result = run_cli("loadtest", "--learners", "2", "--duration", "1",
                     env={"ANTHROPIC_API_KEY": API_KEY})  # fmt: skip
    assert result.exit_code == 7
    assert "NOT READY" in result.text
    assert "terminal:unreachable" in result.text
    assert "Cleanup: workshop" in result.text and "stopped" in result.text
