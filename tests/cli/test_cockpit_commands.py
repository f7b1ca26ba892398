"""``clarateach workshop watch / broadcast / hands`` against a real API server.

The scripted hosts have endpoints nobody listens on, so live activity is absent (seats read
"joined"), exactly as when a host cannot be reached.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from clarateach import cli
from tests.cli.conftest import RunCli
from tests.cli.server import ApiServer
from tests.cli.test_workshop_commands import create


def running_with_learner(run_cli: RunCli, key_file: Path, api: ApiServer) -> dict:
    workshop = create(run_cli, key_file, seats=4)
    assert run_cli("workshop", "start", workshop["id"], "--wait").exit_code == 0
    joined = httpx.post(f"{api.url}/api/join", json={"code": workshop["code"]}, timeout=10)
    assert joined.status_code == 200, joined.text
    return workshop


def test_broadcast_then_watch_shows_the_room(
    run_cli: RunCli, key_file: Path, api: ApiServer
) -> None:
    workshop = running_with_learner(run_cli, key_file, api)

    sent = run_cli("workshop", "broadcast", workshop["id"], "Break until [b]11[/b]")
    assert sent.exit_code == 0, sent.text
    assert "Broadcast sent; 0 of 1 host(s) showing it now." in sent.text

    snapshot = run_cli("workshop", "watch", workshop["id"], "--once", "--json")
    assert snapshot.exit_code == 0, snapshot.text
    room = json.loads(snapshot.stdout)
    assert room["broadcast"]["message"] == "Break until [b]11[/b]"
    assert [s["seat"] for s in room["seats"] if s["claimed"]] == [1]
    assert room["activity"] == {}

    table = run_cli("workshop", "watch", workshop["id"], "--once")
    assert table.exit_code == 0
    assert "running · 1/4 seats · model $0.00" in table.text
    assert "Broadcast: Break until [b]11[/b]" in table.text  # markup shown as text
    assert "joined" in table.text


def test_bad_broadcasts_speak_to_the_instructor(
    run_cli: RunCli, key_file: Path, api: ApiServer
) -> None:
    workshop = running_with_learner(run_cli, key_file, api)
    for message in ("   ", "x" * 501):
        result = run_cli("workshop", "broadcast", workshop["id"], message)
        assert result.exit_code == cli.EXIT_API_ERROR
        assert "message: must be between 1 and 500 characters" in result.text
    unknown = run_cli("workshop", "broadcast", "wnope", "hi")
    assert unknown.exit_code == cli.EXIT_API_ERROR


def test_hands_lists_the_queue_and_refuses_unknown_seats(
    run_cli: RunCli, key_file: Path, api: ApiServer
) -> None:
    workshop = running_with_learner(run_cli, key_file, api)
    empty = run_cli("workshop", "hands", workshop["id"])
    assert empty.exit_code == 0 and "Nobody is waiting." in empty.text
    assert json.loads(run_cli("workshop", "hands", workshop["id"], "--json").stdout) == {
        "hands": []
    }
    unknown = run_cli("workshop", "hands", workshop["id"], "--done", "9")
    assert unknown.exit_code == cli.EXIT_API_ERROR
    assert "seat 9 is not a live seat of this workshop" in unknown.text


def test_release_seat_frees_it_after_a_confirmation(
    run_cli: RunCli, key_file: Path, api: ApiServer
) -> None:
    workshop = running_with_learner(run_cli, key_file, api)

    declined = run_cli("workshop", "release-seat", workshop["id"], "1", input="n\n")
    assert declined.exit_code != 0
    assert len(api.platform.store.list_seats(workshop["id"])) == 1

    released = run_cli("workshop", "release-seat", workshop["id"], "1", input="y\n")
    assert released.exit_code == 0, released.text
    assert "Release seat 1?" in released.text and "Seat 1 released" in released.text
    assert api.platform.store.list_seats(workshop["id"]) == []

    again = run_cli("workshop", "release-seat", workshop["id"], "1", "--yes")
    assert again.exit_code == cli.EXIT_API_ERROR
    assert "seat 1 is free: there is nobody to release" in again.text
    unknown = run_cli("workshop", "release-seat", workshop["id"], "9", "--yes")
    assert "seat 9 is not a seat of this workshop (seats 1-4)" in unknown.text


def test_reset_seat_asks_and_reports_an_unreachable_host(
    run_cli: RunCli, key_file: Path, api: ApiServer
) -> None:
    workshop = running_with_learner(run_cli, key_file, api)
    declined = run_cli("workshop", "reset-seat", workshop["id"], "1", input="n\n")
    assert declined.exit_code != 0 and "Reset seat 1?" in declined.text
    result = run_cli("workshop", "reset-seat", workshop["id"], "1", "--yes")
    assert result.exit_code == cli.EXIT_API_ERROR
    assert "seat 1's host could not be reached; nothing was reset" in result.text


def test_delete_a_created_workshop_but_not_a_running_one(
    run_cli: RunCli, key_file: Path, api: ApiServer
) -> None:
    idle = create(run_cli, key_file)
    deleted = run_cli("workshop", "delete", idle["id"], input="y\n")
    assert deleted.exit_code == 0, deleted.text
    assert f"Workshop {idle['id']} deleted." in deleted.text
    assert api.platform.store.get_workshop(idle["id"]) is None

    live = running_with_learner(run_cli, key_file, api)
    refused = run_cli("workshop", "delete", live["id"], "--yes")
    assert refused.exit_code == cli.EXIT_API_ERROR
    assert "workshop is running" in refused.text


def test_pause_and_resume_one_seats_model(run_cli: RunCli, key_file: Path, api: ApiServer) -> None:
    workshop = running_with_learner(run_cli, key_file, api)

    paused = run_cli("workshop", "pause-model", workshop["id"], "--seat", "3")
    assert paused.exit_code == 0, paused.text
    assert "Model access paused for seat 3 (its host was not reached" in paused.text
    stored = api.platform.store.get_workshop(workshop["id"])
    assert stored is not None and stored.paused_seats == (3,) and not stored.model_paused

    room = json.loads(run_cli("workshop", "watch", workshop["id"], "--once", "--json").stdout)
    assert [s["seat"] for s in room["seats"] if s["model_paused"]] == [3]

    resumed = run_cli("workshop", "resume-model", workshop["id"], "--seat", "3", "--json")
    assert resumed.exit_code == 0, resumed.text
    assert json.loads(resumed.stdout)["workshop"]["paused_seats"] == []

    unknown = run_cli("workshop", "pause-model", workshop["id"], "--seat", "9")
    assert unknown.exit_code == cli.EXIT_API_ERROR
    assert "seat 9 is not a seat of this workshop (seats 1-4)" in unknown.text


# ------------------------------------------------------------------------ model policy
def test_create_takes_the_policy_as_flags_or_a_toml_file(
    run_cli: RunCli, key_file: Path, tmp_path: Path
) -> None:
    flags = run_cli(
        "workshop", "create", "-n", "Flags", "-s", "2", "--api-key-file", str(key_file),
        "--budget-usd", "2.5", "--max-output-tokens", "9000", "--json",
    )  # fmt: skip
    assert flags.exit_code == 0, flags.text
    defaults = json.loads(flags.stdout)["workshop"]["model_policy"]["defaults"]
    # Flags change only what they name: the platform's 60 requests per minute stays.
    assert (defaults["budget_usd"], defaults["max_output_tokens"]) == (2.5, 9000)
    assert defaults["requests_per_minute"] == 60

    toml = tmp_path / "policy.toml"
    toml.write_text(
        '[defaults]\nbudget_usd = 1.0\nrequests_per_minute = 20\n\n[seat_overrides."2"]\n'
        "budget_usd = 4.0\n"
    )
    from_file = run_cli(
        "workshop", "create", "-n", "File", "-s", "2", "--api-key-file", str(key_file),
        "--policy-file", str(toml), "--requests-per-minute", "30", "--json",
    )  # fmt: skip
    assert from_file.exit_code == 0, from_file.text
    policy = json.loads(from_file.stdout)["workshop"]["model_policy"]
    assert policy["defaults"]["budget_usd"] == 1.0
    assert policy["defaults"]["requests_per_minute"] == 30  # the flag wins over the file
    assert policy["seat_overrides"]["2"]["budget_usd"] == 4.0


def test_a_bad_policy_file_is_refused_before_anything_is_created(
    run_cli: RunCli, key_file: Path, api: ApiServer, tmp_path: Path
) -> None:
    bad = tmp_path / "policy.toml"
    bad.write_text("[defaults\nbudget_usd = 1")
    result = run_cli(
        "workshop", "create", "-n", "Bad", "-s", "2", "--api-key-file", str(key_file),
        "--policy-file", str(bad),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "is not valid TOML" in result.text
    assert api.platform.store.list_workshops(limit=10).workshops == []


def test_policy_shows_and_changes_the_policy_while_running(
    run_cli: RunCli, key_file: Path, api: ApiServer, tmp_path: Path
) -> None:
    workshop = running_with_learner(run_cli, key_file, api)

    shown = run_cli("workshop", "policy", workshop["id"])
    assert shown.exit_code == 0, shown.text
    assert "Every seat: budget unlimited, 60 requests/min" in shown.text

    changed = run_cli("workshop", "policy", workshop["id"], "--budget-usd", "3")
    assert changed.exit_code == 0, changed.text
    assert "changed; 0 of 1 host(s) applied it now" in changed.text
    stored = api.platform.store.get_workshop(workshop["id"])
    assert stored is not None
    assert stored.model_policy["defaults"]["budget_usd"] == 3
    assert stored.model_policy["defaults"]["requests_per_minute"] == 60  # kept

    policy_file = tmp_path / "p.json"
    policy_file.write_text('{"defaults": {"requests_per_minute": 5}, "seat_overrides": {"1": {}}}')
    assert (
        run_cli("workshop", "policy", workshop["id"], "--policy-file", str(policy_file)).exit_code
        == 0
    )
    shown = run_cli("workshop", "policy", workshop["id"]).text
    assert "Every seat: budget unlimited, 5 requests/min" in shown
    assert "Seat 1: budget unlimited, requests unlimited" in shown

    bad = run_cli(
        "workshop", "policy", workshop["id"], "--policy-file", str(policy_file.with_name("q.json"))
    )
    assert bad.exit_code == 2 and "cannot read the model policy file" in bad.text
    policy_file.write_text('{"defaults": {"requests_per_minute": 0}}')
    refused = run_cli("workshop", "policy", workshop["id"], "--policy-file", str(policy_file))
    assert refused.exit_code == cli.EXIT_API_ERROR
    assert "model_policy.defaults.requests_per_minute: must be at least 1" in refused.text


# ------------------------------------------------------------------ names and errors
def test_seats_and_watch_show_names_as_text_and_model_errors(
    run_cli: RunCli, key_file: Path, api: ApiServer
) -> None:
    workshop = create(run_cli, key_file, seats=4)
    assert run_cli("workshop", "start", workshop["id"], "--wait").exit_code == 0
    joined = httpx.post(
        f"{api.url}/api/join",
        json={"code": workshop["code"], "display_name": "[bold]Ada[/bold]"},
        timeout=10,
    )
    assert joined.status_code == 200, joined.text
    seat = joined.json()["seat"]
    api.platform.store.put_seat_usage(
        workshop["id"], {seat: {"requests": 1, "upstream_unreachable": 2, "key_refused": 1}}
    )

    seats = run_cli("workshop", "seats", workshop["id"])
    assert seats.exit_code == 0, seats.text
    assert "[bold]Ada[/bold]" in seats.text  # markup shown as typed, never interpreted
    assert "2 unreachable, 1 key refused" in seats.text
    as_json = json.loads(run_cli("workshop", "seats", workshop["id"], "--json").stdout)
    assert as_json["seats"][0]["errors"]["upstream_unreachable"] == 2
    assert as_json["seats"][0]["display_name"] == "[bold]Ada[/bold]"

    run_cli("workshop", "pause-model", workshop["id"], "--seat", str(seat))
    table = run_cli("workshop", "watch", workshop["id"], "--once").text
    assert "[bold]Ada[/bold]" in table
    assert "model paused; 2 unreachable, 1 key refused" in table
