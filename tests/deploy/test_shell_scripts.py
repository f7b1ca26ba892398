"""shellcheck on every shell script of the repository and on a rendered startup script.

Skipped only where shellcheck is missing outside CI; in CI (``CI`` set) a missing shellcheck
fails, because these scripts run as root on every host.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from shared.host_bootstrap import render_startup_script
from tests.deploy.conftest import REPO

SKIP_DIRS = {".git", ".venv", ".nox", "node_modules", "dist", "__pycache__"}


def shellcheck() -> str:
    found = shutil.which("shellcheck")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("shellcheck is required in CI (apt-get install shellcheck)")
    pytest.skip("shellcheck not installed")


def shell_scripts() -> list[Path]:
    """Every ``*.sh`` file and every extensionless file with a sh/bash shebang."""
    scripts = []
    for directory, subdirs, files in os.walk(REPO):
        subdirs[:] = [d for d in subdirs if d not in SKIP_DIRS]  # never descend into these
        for name in files:
            path = Path(directory) / name
            if path.suffix == ".sh" or _has_shell_shebang(path):
                scripts.append(path)
    return sorted(scripts)


def _has_shell_shebang(path: Path) -> bool:
    if path.suffix not in ("", ".bash"):
        return False
    with path.open("rb") as handle:
        first = handle.readline(64)
    return first.startswith(b"#!") and (b"bash" in first or first.rstrip().endswith(b"/sh"))


def run_shellcheck(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [shellcheck(), "--format=gcc", "--external-sources", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_scripts_that_must_be_checked_are_found() -> None:
    names = {p.relative_to(REPO).as_posix() for p in shell_scripts()}
    assert {
        "shared/host_bootstrap/firewall.sh",
        "images/host/install-host.sh",
    } <= names


def test_every_shell_script_passes_shellcheck() -> None:
    result = run_shellcheck(shell_scripts())
    assert result.returncode == 0, result.stdout + result.stderr


def test_rendered_startup_script_passes_shellcheck(tmp_path: Path) -> None:
    script = tmp_path / "startup.sh"
    script.write_text(
        render_startup_script(
            workshop_id="wk2m9xqr4tz",
            host_index=3,
            agent_config={
                "CLARATEACH_AGENT_SEATS": "31-40",
                "CLARATEACH_AGENT_MODEL_POLICY": '{"note": "it\'s `$(rm -rf /)` $HOME"}',
            },
        )
    )
    result = run_shellcheck([script])
    assert result.returncode == 0, result.stdout + result.stderr


def test_shellcheck_catches_a_broken_script(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/usr/bin/env bash\nrm -rf $1/*\n")
    assert run_shellcheck([bad]).returncode != 0
