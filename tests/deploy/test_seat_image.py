"""The seat image: Claude Code, git, Python 3, tmux, a non-root learner with UID 1000, and no
credential baked in (the agent passes ANTHROPIC_BASE_URL and a per-seat token at run time)."""

from __future__ import annotations

import json
import re

from tests.deploy.conftest import REPO
from workspace_agent.runtimes.docker import CONTAINER_WORK, LEARNER_HOME, LEARNER_UID

SEAT = REPO / "images" / "seat"
DOCKERFILE = (SEAT / "Dockerfile").read_text()
INSTRUCTIONS = [
    line.strip()
    for line in re.sub(r"\\\n", " ", DOCKERFILE).splitlines()
    if line.strip() and not line.lstrip().startswith("#")
]


def instructions(keyword: str) -> list[str]:
    return [i[len(keyword) + 1 :] for i in INSTRUCTIONS if i.upper().startswith(keyword + " ")]


def test_node_base_and_the_tools_learners_need() -> None:
    (base,) = instructions("FROM")
    assert re.fullmatch(r"node:2[2-9][\w.-]*", base), base
    runs = " ".join(instructions("RUN"))
    for package in ("git", "python3", "tmux"):
        assert re.search(rf"\b{package}\b", runs), package
    assert '"@anthropic-ai/claude-code@${version}"' in runs


def test_the_image_and_local_seats_share_one_claude_code_pin() -> None:
    from clarateach.claude_code import PIN_FILE, pinned_version

    assert PIN_FILE == SEAT / "claude-code.version"
    assert "claude-code.version /etc/clarateach/claude-code.version" in " ".join(
        instructions("COPY")
    )
    runs = " ".join(instructions("RUN"))
    assert 'version="${CLAUDE_CODE_VERSION:-$(cat /etc/clarateach/claude-code.version)}"' in runs
    assert 'grep -F "${version} (Claude Code)"' in runs  # npm resolving another one fails
    assert instructions("ARG") == ["CLAUDE_CODE_VERSION="]  # no second pin
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned_version())


def test_runs_as_the_learner_uid_the_agent_expects() -> None:
    (user,) = instructions("USER")
    assert user == LEARNER_UID
    assert "--login learner --home /home/learner" in " ".join(instructions("RUN"))
    assert LEARNER_HOME == "/home/learner"
    assert instructions("WORKDIR") == [CONTAINER_WORK]


def test_no_credential_is_baked_in() -> None:
    settings = instructions("ENV") + instructions("ARG")
    for setting in settings:
        assert not re.search(r"ANTHROPIC|API_KEY|AUTH_TOKEN|SECRET|PASSWORD", setting), setting
    for path in SEAT.iterdir():
        text = path.read_text()
        assert "sk-ant-" not in text and "BEGIN PRIVATE" not in text, path.name
    assert "ANTHROPIC_API_KEY" not in " ".join(instructions("RUN"))


def test_claude_code_starts_without_onboarding_or_self_updates() -> None:
    config = json.loads((SEAT / "claude.json").read_text())
    assert config["hasCompletedOnboarding"] is True
    assert "DISABLE_AUTOUPDATER=1" in " ".join(instructions("ENV"))
    assert (SEAT / ".dockerignore").read_text().split() == ["*", "!claude.json"]
