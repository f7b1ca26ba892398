"""The banner names a CLI command the user can actually run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from clarateach import local_platform


def test_plain_name_when_this_cli_is_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    beside = str(Path(sys.executable).with_name("clarateach"))
    monkeypatch.setattr(local_platform.shutil, "which", lambda name: beside)
    assert local_platform.cli_command() == "clarateach"


def test_full_path_when_it_is_not_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # ./dev up: the CLI is in .nox/dev/bin, which the user's shell does not search.
    monkeypatch.setattr(local_platform.shutil, "which", lambda name: None)
    assert local_platform.cli_command() == str(Path(sys.executable).with_name("clarateach"))


def test_full_path_when_another_clarateach_shadows_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_platform.shutil, "which", lambda name: "/opt/other/bin/clarateach")
    assert local_platform.cli_command() == str(Path(sys.executable).with_name("clarateach"))
