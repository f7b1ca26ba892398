"""``clarateach loadtest --local`` end to end: its private platform and fake model API come
and go with the run; a NOT READY run keeps the logs (and only the logs)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clarateach.cli import app
from tests.local_platform.process import processes_using


def test_a_local_run_leaves_only_its_logs_when_not_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where --local makes its dirs
    for name in ("CLARATEACH_API_URL", "CLARATEACH_TOKEN", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    # An echo p99 below 0 s cannot be met: the verdict must be NOT READY.
    result = CliRunner().invoke(
        app,
        ["loadtest", "--local", "--learners", "2", "--duration", "1", "--model-requests", "1",
         "--max-echo-p99", "0", "--max-prompt-p99", "60", "--json"],
    )  # fmt: skip

    assert result.exit_code == 7, result.output
    report = json.loads(result.stdout)
    assert report["target"]["local_platform"] is True
    assert report["learners"]["at_prompt"] == 2 and report["failures"] == {}
    assert report["latency_s"]["model_request"]["n"] == 2  # through the fake upstream
    assert report["platform_process"]["cpu_seconds"] > 0
    assert [c["name"] for c in report["verdict"]["checks"] if not c["ok"]] == ["echo_p99_s"]

    logs = Path(report["target"]["local_logs"])
    assert sorted(p.name for p in tmp_path.iterdir()) == [logs.name]  # the state dir is gone
    names = sorted(p.name for p in logs.iterdir())
    assert "platform.log" in names and any(n.endswith(".agent.log") for n in names)
    text = "".join(p.read_text(errors="replace") for p in logs.iterdir())
    assert "sk-ant-" not in text  # the (fake) workshop key is in no log
    assert "eyJ" not in result.stdout + result.stderr  # no learner JWT in the report
    assert processes_using(tmp_path) == []  # no platform, agent or shell left
