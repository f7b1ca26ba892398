"""Where the CLI's URL and token come from: flag > env > local state > Google ID token."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from clarateach import credentials
from clarateach.credentials import (
    DEFAULT_LOCAL_URL,
    CredentialsError,
    read_server_record,
    remove_server_record,
    resolve_credentials,
    write_server_record,
)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    (tmp_path / "admin-token").write_text("local-admin-token\n")
    return tmp_path


def test_an_explicit_token_wins_over_the_local_one(state_dir: Path) -> None:
    creds = resolve_credentials("http://127.0.0.1:9999/", "explicit", state_dir)
    assert creds.token == "explicit"
    assert creds.api_url == "http://127.0.0.1:9999"


def test_a_local_url_without_a_token_uses_the_state_dirs_admin_token(state_dir: Path) -> None:
    for url in ("http://127.0.0.1:8080", "http://localhost:1234", "http://[::1]:80"):
        assert resolve_credentials(url, None, state_dir).token == "local-admin-token"


def test_no_url_defaults_to_the_local_platform(state_dir: Path) -> None:
    assert resolve_credentials(None, None, state_dir).api_url == DEFAULT_LOCAL_URL


def test_the_url_of_a_running_local_platform_is_found(state_dir: Path) -> None:
    write_server_record(state_dir, "http://127.0.0.1:4321", os.getpid())
    assert resolve_credentials(None, None, state_dir).api_url == "http://127.0.0.1:4321"
    remove_server_record(state_dir, os.getpid())
    assert read_server_record(state_dir) is None


def test_a_record_left_by_a_dead_platform_is_ignored(state_dir: Path) -> None:
    import subprocess
    import sys

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    write_server_record(state_dir, "http://127.0.0.1:4321", int(dead.stdout))
    assert resolve_credentials(None, None, state_dir).api_url == DEFAULT_LOCAL_URL


def test_someone_elses_record_is_not_removed(state_dir: Path) -> None:
    write_server_record(state_dir, "http://127.0.0.1:4321", os.getpid())
    remove_server_record(state_dir, os.getpid() + 1)
    assert read_server_record(state_dir) is not None


def test_a_missing_local_token_is_an_actionable_error(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match="clarateach local up"):
        resolve_credentials("http://127.0.0.1:8080", None, tmp_path)


def test_a_remote_url_gets_a_google_id_token_for_its_audience(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    audiences: list[str] = []
    monkeypatch.setattr(
        credentials, "google_id_token", lambda aud: audiences.append(aud) or "google-token"
    )
    creds = resolve_credentials("https://api.example.com", None, state_dir)
    assert creds.token == "google-token"  # never the local admin token for a remote URL
    assert audiences == ["https://api.example.com"]
    resolve_credentials("https://api.example.com", None, state_dir, audience="custom-aud")
    assert audiences[-1] == "custom-aud"


def test_without_adc_or_gcloud_the_error_says_how_to_log_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import google.oauth2.id_token

    def no_adc(request: object, audience: str) -> str:
        raise google.auth.exceptions.DefaultCredentialsError("no ADC")

    monkeypatch.setattr(google.oauth2.id_token, "fetch_id_token", no_adc)
    monkeypatch.setattr(credentials.shutil, "which", lambda name: None)
    with pytest.raises(CredentialsError, match="gcloud auth login"):
        credentials.google_id_token("https://api.example.com")
