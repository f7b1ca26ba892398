"""``python -m functions.package`` builds the archive every Cloud Function is deployed from."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from functions.package import ARCHIVE_NAME, ENTRY_POINTS, build
from tests.deploy.conftest import REPO


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    outdir = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "functions.package", str(outdir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert ARCHIVE_NAME in result.stdout
    return outdir / ARCHIVE_NAME


@pytest.fixture(scope="module")
def extracted(archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("source")
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(target)
    return target


def test_archive_layout(archive: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
    assert names[:2] == ["main.py", "requirements.txt"]
    for expected in (
        "functions/main.py",
        "functions/events.py",
        "shared/settings.py",
        "shared/host_bootstrap/startup.sh.tmpl",
        "shared/host_bootstrap/firewall.sh",
        "workspace_agent/__init__.py",
    ):
        assert expected in names, expected
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith(("tests/", "web/", "terraform/", "."))]


def test_requirements_are_the_project_dependencies(archive: Path) -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    with zipfile.ZipFile(archive) as zf:
        lines = zf.read("requirements.txt").decode().splitlines()
    assert lines == pyproject["project"]["dependencies"]


def test_archive_is_deterministic(archive: Path, tmp_path: Path) -> None:
    again = build(tmp_path)
    assert again.read_bytes() == archive.read_bytes()
    with zipfile.ZipFile(again) as zf:
        assert {info.date_time for info in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


SERVE_EVERY_TARGET = """
import json, sys
import functions_framework
from functions_framework import _function_registry
import functions.main
targets = json.loads(sys.argv[1])
apps = {t: functions_framework.create_app(t, "main.py") for t in targets}
kinds = {t: _function_registry.get_func_signature_type(t, None) for t in targets}
health = apps["health"].test_client().get("/api/health")
print(json.dumps({
    "module": functions.main.__file__,
    "kinds": kinds,
    "health": [health.status_code, health.get_json()],
}))
"""


def test_main_exposes_every_entry_point_to_functions_framework(
    extracted: Path, tmp_path: Path
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SERVE_EVERY_TARGET, json.dumps(list(ENTRY_POINTS))],
        cwd=extracted,
        env={
            "PYTHONPATH": str(extracted),
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "CLARATEACH_MODE": "local",
            "CLARATEACH_STATE_DIR": str(tmp_path / "state"),
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert Path(report["module"]).resolve().is_relative_to(extracted.resolve())
    assert report["kinds"]["provisioner"] == "cloudevent"
    assert {report["kinds"][t] for t in ENTRY_POINTS if t != "provisioner"} == {"http"}
    assert report["health"] == [200, {"status": "ok"}]
