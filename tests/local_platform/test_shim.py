"""`./dev up` links ~/.local/bin/clarateach to the dev venv's CLI (clarateach.shim)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from clarateach import shim


@pytest.fixture
def venv_cli(tmp_path: Path) -> Path:
    target = tmp_path / "checkout" / ".nox" / "dev" / "bin" / "clarateach"
    target.parent.mkdir(parents=True)
    target.write_text("#!/bin/sh\necho dev-cli\n")
    target.chmod(0o755)
    return target


def test_links_into_a_bin_dir_that_is_on_path(tmp_path: Path, venv_cli: Path) -> None:
    bin_dir = tmp_path / "home" / ".local" / "bin"
    outcome = shim.install(venv_cli, bin_dir, os.pathsep.join(["/usr/bin", str(bin_dir)]))
    assert outcome is shim.Outcome.INSTALLED
    assert (bin_dir / "clarateach").resolve() == venv_cli.resolve()
    assert shim.install(venv_cli, bin_dir, str(bin_dir)) is shim.Outcome.ALREADY


def test_nothing_is_installed_when_the_dir_is_not_on_path(tmp_path: Path, venv_cli: Path) -> None:
    bin_dir = tmp_path / "home" / ".local" / "bin"
    assert shim.install(venv_cli, bin_dir, "/usr/bin:/bin") is shim.Outcome.NOT_ON_PATH
    assert not (bin_dir / "clarateach").exists()


def test_a_foreign_clarateach_is_left_alone(tmp_path: Path, venv_cli: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    mine = bin_dir / "clarateach"
    mine.write_text("#!/bin/sh\necho pip-installed\n")
    assert shim.install(venv_cli, bin_dir, str(bin_dir)) is shim.Outcome.TAKEN
    assert mine.read_text().endswith("pip-installed\n")
    other = tmp_path / "elsewhere" / "clarateach"
    other.parent.mkdir()
    other.write_text("")
    mine.unlink()
    mine.symlink_to(other)  # a link, but not into a .nox venv: not ours either
    assert shim.install(venv_cli, bin_dir, str(bin_dir)) is shim.Outcome.TAKEN
    assert mine.resolve() == other.resolve()


def test_a_stale_link_of_ours_is_replaced(tmp_path: Path, venv_cli: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "clarateach").symlink_to(tmp_path / "old" / ".nox" / "dev" / "bin" / "clarateach")
    assert shim.install(venv_cli, bin_dir, str(bin_dir)) is shim.Outcome.INSTALLED
    assert (bin_dir / "clarateach").resolve() == venv_cli.resolve()


def test_xdg_bin_home_wins_over_home() -> None:
    assert shim.bin_dir({"XDG_BIN_HOME": "/x/bin", "HOME": "/h"}) == Path("/x/bin")
    assert shim.bin_dir({"HOME": "/h"}) == Path("/h/.local/bin")
