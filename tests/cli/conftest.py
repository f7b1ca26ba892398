"""Fixtures: a real in-process API server and a ``run_cli`` helper around typer's CliRunner."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clarateach.cli import app
from tests.cli.server import ApiServer, ScriptedProvisionerBus, run_api_server

API_KEY = "sk-ant-api03-" + "k" * 40


@dataclass(frozen=True)
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def text(self) -> str:
        """stdout + stderr with rich's line wrapping undone, for phrase assertions."""
        return " ".join((self.stdout + " " + self.stderr).split())


RunCli = Callable[..., CliResult]


@pytest.fixture
def bus() -> ScriptedProvisionerBus:
    return ScriptedProvisionerBus()


@pytest.fixture
def api(tmp_path: Path, bus: ScriptedProvisionerBus) -> Iterator[ApiServer]:
    with run_api_server(tmp_path / "state", bus) as server:
        yield server


@pytest.fixture
def run_cli(api: ApiServer, monkeypatch: pytest.MonkeyPatch) -> RunCli:
    """Invoke ``clarateach <args>`` against ``api``; the token comes from its state dir."""
    for name in ("CLARATEACH_API_URL", "CLARATEACH_TOKEN", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLARATEACH_STATE_DIR", str(api.state_dir))
    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> CliResult:
        runner = CliRunner()
        result = runner.invoke(
            app, list(args), env={"CLARATEACH_API_URL": api.url, **(env or {})}, input=input
        )
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"the CLI raised {result.exception!r}") from result.exception
        return CliResult(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "anthropic-key"
    path.write_text(API_KEY + "\n")
    path.chmod(0o600)
    return path
