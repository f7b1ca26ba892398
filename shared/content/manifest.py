"""``workshop.toml``: the manifest schema (pydantic, unknown fields refused).

::

    title = "Claude Code 101"                # 1-100 printable characters
    description = "Your first session"       # optional, up to 2000 characters

    [claude]                                 # optional; the shape of the workshop's
    default_model = "claude-sonnet-4-5"      # model policy ``claude_code`` settings
    allowed_models = ["claude-sonnet-4-5"]   # (shared/domain/model_policy.py)
    claude_md = "Be brief."                  # ~/.claude/CLAUDE.md in every seat
    settings = { permissions = { allow = ["Bash(pytest:*)"] } }   # settings.json keys

    [starter]                                # optional
    git_commit = "initial"                   # git init + commit starter/ with this message

    [[steps]]                                # 1-50 steps, in order
    id = "explore"                           # a-z, 0-9, '-'; unique
    title = "Explore the starter repo"
    guide = "guide/01-explore.md"            # must exist in the pack
    check = "checks/explored.sh"             # optional; must exist in the pack
    check_timeout_s = 30                     # 1-120, default 30
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.content.errors import ContentPackError
from shared.domain.model_policy import ClaudeCodeSettings
from shared.domain.progress import MAX_STEPS, STEP_ID

MANIFEST_FILE = "workshop.toml"
CHECK_TIMEOUT_DEFAULT = 30
CHECK_TIMEOUT_MAX = 120
GUIDE_PATH = re.compile(r"guide/[0-9]{2}-[A-Za-z0-9._-]{1,80}\.md")
CHECK_PATH = re.compile(r"checks/[A-Za-z0-9._-]{1,80}")


def _printable_text(value: str, what: str) -> str:
    if any(unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\n\t" for ch in value):
        raise ValueError(f"{what} must not contain control characters")
    return value


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    title: str = Field(min_length=1, max_length=100)
    guide: str
    check: str | None = None
    check_timeout_s: int = Field(default=CHECK_TIMEOUT_DEFAULT, ge=1, le=CHECK_TIMEOUT_MAX)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not STEP_ID.fullmatch(value):
            raise ValueError("must be 1-40 of a-z, 0-9 and '-', starting with a letter or digit")
        return value

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        if "\n" in value or "\t" in value:
            raise ValueError("must be one line")
        return _printable_text(value, "title")

    @field_validator("guide")
    @classmethod
    def _guide(cls, value: str) -> str:
        if not GUIDE_PATH.fullmatch(value):
            raise ValueError("must be a path like 'guide/01-name.md'")
        return value

    @field_validator("check")
    @classmethod
    def _check(cls, value: str | None) -> str | None:
        if value is not None and not CHECK_PATH.fullmatch(value):
            raise ValueError("must be a path like 'checks/name.sh' (directly in checks/)")
        return value


class Starter(BaseModel):
    """How ``starter/`` lands in a seat. Without ``git_commit`` the files are only copied."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: After copying, the seat runs ``git init`` and commits every starter file with this
    #: message (as the learner), so the workspace starts as a repository with one commit.
    git_commit: str | None = Field(default=None, min_length=1, max_length=72)

    @field_validator("git_commit")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        if value is not None and ("\n" in value or value.startswith("-")):
            raise ValueError("must be one line and not start with '-'")
        return None if value is None else _printable_text(value, "git_commit")


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=2000)
    claude: ClaudeCodeSettings | None = None
    starter: Starter = Starter()
    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS)

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        if "\n" in value:
            raise ValueError("must be one line")
        return _printable_text(value, "title")

    @field_validator("description")
    @classmethod
    def _description(cls, value: str | None) -> str | None:
        return None if value is None else _printable_text(value, "description")

    def step_index(self, step_id: str) -> int | None:
        return next((i for i, s in enumerate(self.steps) if s.id == step_id), None)


def parse_manifest(raw: bytes) -> Manifest:
    """Parse and validate ``workshop.toml`` bytes (cross-file checks are the pack's)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ContentPackError(MANIFEST_FILE, "encoding", "must be UTF-8") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ContentPackError(MANIFEST_FILE, "toml", f"not valid TOML: {exc}") from exc
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ContentPackError(MANIFEST_FILE, _loc(first["loc"]), _message(first)) from exc
    _unique_steps(manifest)
    return manifest


def _unique_steps(manifest: Manifest) -> None:
    seen_ids: set[str] = set()
    seen_guides: set[str] = set()
    for i, step in enumerate(manifest.steps):
        if step.id in seen_ids:
            raise ContentPackError(MANIFEST_FILE, f"steps[{i}].id", f"duplicate id {step.id!r}")
        if step.guide in seen_guides:
            raise ContentPackError(
                MANIFEST_FILE, f"steps[{i}].guide", f"{step.guide} is already another step's guide"
            )
        seen_ids.add(step.id)
        seen_guides.add(step.guide)


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(root)"


def _message(error: Any) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field is missing"
    message = str(error.get("msg", "invalid value"))
    return message.removeprefix("Value error, ")
