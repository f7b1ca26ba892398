"""Every hint the platform prints names a `clarateach` that runs (clarateach.cli_name)."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from clarateach import cli_name
from tests.local_platform.process import URL_RE, LocalUp

BESIDE = Path(sys.executable).with_name("clarateach")


def test_plain_name_when_this_cli_is_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_name.shutil, "which", lambda name, path=None: str(BESIDE))
    assert cli_name.cli_command() == "clarateach"


def test_plain_name_through_a_link_to_this_cli(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # ./dev up's shim: ~/.local/bin/clarateach -> .nox/dev/bin/clarateach
    link = tmp_path / "clarateach"
    link.symlink_to(BESIDE)
    monkeypatch.setattr(cli_name.shutil, "which", lambda name, path=None: str(link))
    assert cli_name.cli_command() == "clarateach"


def test_full_path_when_it_is_not_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # ./dev up without the shim: the CLI is in .nox/dev/bin, which the shell does not search.
    monkeypatch.setattr(cli_name.shutil, "which", lambda name, path=None: None)
    assert cli_name.cli_command() == str(BESIDE)


def test_the_clis_own_venv_on_path_does_not_count(monkeypatch: pytest.MonkeyPatch) -> None:
    # nox prepends .nox/dev/bin to the platform's PATH; the user's shell has no such entry.
    monkeypatch.setenv("PATH", os.pathsep.join([str(BESIDE.parent), "/usr/bin", "/bin"]))
    assert cli_name.cli_command() == str(BESIDE)


def test_full_path_when_another_clarateach_shadows_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        cli_name.shutil, "which", lambda name, path=None: "/opt/other/bin/clarateach"
    )
    assert cli_name.cli_command() == str(BESIDE)


def test_a_private_state_dir_is_named_in_the_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(cli_name.shutil, "which", lambda name, path=None: str(BESIDE))
    monkeypatch.delenv("CLARATEACH_STATE_DIR", raising=False)
    private = tmp_path / "my state"
    assert cli_name.hint("workshop list", private) == (
        f"clarateach workshop list --state-dir {shlex.quote(str(private))}"
    )
    monkeypatch.setenv("CLARATEACH_STATE_DIR", str(private))
    assert cli_name.hint("workshop list", private) == "clarateach workshop list"


CLI_HINT_RE = re.compile(r"CLI:\s+(.+?)\s{3}\(finds")


def _banner_hint(run: LocalUp) -> str:
    run.wait_for_line(URL_RE, timeout=30)
    return run.wait_for_line(CLI_HINT_RE, timeout=10).group(1)


@pytest.mark.parametrize("shim", [True, False], ids=["with-shim", "without-shim"])
def test_the_printed_cli_hint_runs_against_the_platform(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shim: bool
) -> None:
    """`local up` prints `CLI: <command> workshop list`; that command, pasted into a shell
    whose PATH has (or lacks) the ./dev shim, reaches this platform and lists workshops."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if shim:
        from clarateach import shim as shim_mod

        assert shim_mod.install(BESIDE, bin_dir, str(bin_dir)) is shim_mod.Outcome.INSTALLED
    path = os.pathsep.join([str(bin_dir), "/usr/bin", "/bin"])
    # The platform sees its own venv first on PATH, as under nox (`./dev up`); the user's
    # shell (``path``) does not. Only the shim may make the plain name work.
    monkeypatch.setenv("PATH", os.pathsep.join([str(BESIDE.parent), path]))
    monkeypatch.delenv("CLARATEACH_STATE_DIR", raising=False)
    state_dir = tmp_path / "state"
    run = LocalUp(state_dir, "--port", "0")
    try:
        command = _banner_hint(run)
        assert command.startswith("clarateach ") is shim, command
        assert f"--state-dir {state_dir}" in command
        result = subprocess.run(
            ["/bin/sh", "-c", command],
            env={"PATH": path, "HOME": str(tmp_path), "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "No workshops yet" in result.stdout
        # ... and the hint inside that output runs too.
        assert "workshop create" in result.stdout
        assert run.finish(signal.SIGTERM) == 0
    finally:
        run.kill_group()
