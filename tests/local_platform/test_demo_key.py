"""The demo workshop's API key: the user's real one if set, else a well-formed placeholder."""

from __future__ import annotations

import pytest

from clarateach.local_platform import _demo_api_key
from shared.domain.validation import validate_api_key


def test_without_a_key_the_placeholder_is_valid_and_marked_fake(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    key, real = _demo_api_key()
    assert not real
    assert key.startswith("sk-ant-demo-placeholder-")
    assert validate_api_key(key) == key
    assert _demo_api_key()[0] != key  # a fresh one each time, never a shared constant


def test_a_real_key_in_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", " sk-ant-api03-" + "r" * 40 + "\n")
    assert _demo_api_key() == ("sk-ant-api03-" + "r" * 40, True)


def test_a_malformed_environment_key_falls_back_to_the_placeholder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "not a key")
    key, real = _demo_api_key()
    assert not real and key.startswith("sk-ant-demo-placeholder-")
