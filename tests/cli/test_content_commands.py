"""``clarateach content init|check``, ``workshop create --content`` and ``workshop progress``
against a real API server (tests/cli/server.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from shared.content import load_pack_zip, pack_to_zip
from shared.domain.progress import SeatProgress
from tests.cli.conftest import RunCli
from tests.cli.server import ApiServer
from tests.support.content_packs import EXAMPLE, minimal_files, write_dir
from tests.support.content_vectors import VECTORS


def create(run_cli: RunCli, key_file: Path, *extra: str):
    return run_cli(
        "workshop",
        "create",
        "-n",
        "Packs",
        "-s",
        "4",
        "--api-key-file",
        str(key_file),
        *extra,
    )


def test_init_writes_a_pack_that_checks_and_refuses_a_non_empty_directory(
    run_cli: RunCli, tmp_path: Path
) -> None:
    target = tmp_path / "my-pack"
    result = run_cli("content", "init", str(target))
    assert result.exit_code == 0, result.text
    assert (target / "workshop.toml").is_file()
    assert (target / "checks" / "tests-pass.sh").stat().st_mode & 0o100

    checked = run_cli("content", "check", str(target), "--json")
    assert checked.exit_code == 0, checked.text
    steps = [s["id"] for s in json.loads(checked.stdout)["content"]["steps"]]
    assert steps == ["explore", "claude-md", "fix-test"]

    again = run_cli("content", "init", str(target))
    assert again.exit_code == 2
    assert "not an empty directory" in again.text


def test_check_names_the_file_and_field_of_a_broken_directory_pack(
    run_cli: RunCli, tmp_path: Path
) -> None:
    files = minimal_files()
    del files["guide/02-two.md"]
    root = write_dir(tmp_path / "broken", files)

    human = run_cli("content", "check", str(root))
    as_json = run_cli("content", "check", str(root), "--json")

    assert human.exit_code == 2
    assert "workshop.toml: steps[1].guide: guide/02-two.md is not in the pack" in human.text
    error = json.loads(as_json.stderr)["error"]
    assert (error["code"], error["file"], error["field"]) == (
        "invalid_content_pack",
        "workshop.toml",
        "steps[1].guide",
    )


def test_check_refuses_a_hostile_zip(run_cli: RunCli, tmp_path: Path) -> None:
    vector = next(v for v in VECTORS if v.id == "nested-dotdot")
    path = tmp_path / "evil.zip"
    path.write_bytes(vector.build())
    result = run_cli("content", "check", str(path))
    assert result.exit_code == 2
    assert "a/../../x: path: contains '..'" in result.text


def test_check_prints_the_steps_of_the_example(run_cli: RunCli) -> None:
    result = run_cli("content", "check", str(EXAMPLE))
    assert result.exit_code == 0, result.text
    assert "Claude Code 101: valid" in result.text
    assert "checks/tests-pass.sh (60 s)" in result.text


def test_create_with_content_uploads_the_pack(
    run_cli: RunCli, key_file: Path, api: ApiServer
) -> None:
    result = create(run_cli, key_file, "--content", str(EXAMPLE), "--json")
    assert result.exit_code == 0, result.text
    workshop = json.loads(result.stdout)["workshop"]
    assert workshop["content"]["title"] == "Claude Code 101"
    stored = api.platform.content.get(workshop["id"])
    assert stored == pack_to_zip(EXAMPLE)
    assert load_pack_zip(stored or b"").manifest.steps[3].id == "fix-test"


def test_create_with_an_invalid_pack_creates_nothing(
    run_cli: RunCli, key_file: Path, api: ApiServer, tmp_path: Path
) -> None:
    files = minimal_files()
    files["workshop.toml"] = b"surprise = true\n" + files["workshop.toml"]
    root = write_dir(tmp_path / "bad", files)

    result = create(run_cli, key_file, "--content", str(root))

    assert result.exit_code == 2
    assert "workshop.toml: surprise: unknown field" in result.text
    assert api.platform.store.list_workshops(limit=10).workshops == []


def test_progress_shows_seats_and_the_histogram(
    run_cli: RunCli, key_file: Path, api: ApiServer
) -> None:
    created = create(run_cli, key_file, "--content", str(EXAMPLE), "--json")
    wid = json.loads(created.stdout)["workshop"]["id"]
    now = datetime.now(UTC)
    api.platform.store.put_seat_progress(
        wid,
        {1: SeatProgress(3, ("explain", "claude-md")), 2: SeatProgress(3), 3: SeatProgress(0)},
        now,
    )

    human = run_cli("workshop", "progress", wid)
    as_json = run_cli("workshop", "progress", wid, "--json")

    assert human.exit_code == 0, human.text
    assert "seats per step" in human.text
    assert "4. Have Claude fix a failing test" in human.text
    assert "explain, claude-md" in human.text
    body = json.loads(as_json.stdout)
    assert [h["seats"] for h in body["histogram"]] == [1, 0, 0, 2, 0]
    assert body["seats"][0] == {"seat": 1, "step": 3, "checks_passed": ["explain", "claude-md"]}


def test_progress_of_an_unknown_workshop_is_an_api_error(run_cli: RunCli) -> None:
    result = run_cli("workshop", "progress", "w-nope")
    assert result.exit_code == 1
    assert "not found" in result.text
