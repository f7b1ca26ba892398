"""Unit tests: the SSE usage parser, pricing, seat tokens and configuration (no sockets)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.domain.model_policy import DEFAULT_PRICES, ModelPolicy, SeatLimits
from tests.gateway.fake_upstream import FakeAnthropic, sse
from workspace_agent.gateway.config import GatewayConfig, GatewayConfigError
from workspace_agent.gateway.limits import Governor
from workspace_agent.gateway.seat_tokens import SeatTokens
from workspace_agent.gateway.service import GatewayHandle
from workspace_agent.gateway.usage import ResponseUsage, UsageLedger, estimate_cost, price_for
from workspace_agent.gateway.usage_parser import SseUsageParser, usage_from_json
from workspace_agent.settings import AgentSettings


def stream_bytes(fake: FakeAnthropic) -> bytes:
    events = [("message_start", fake._start_event()), *fake._rest_events()]
    return b"".join(sse(name, data) for name, data in events)


# -------------------------------------------------------------------------- SSE parser
@pytest.mark.parametrize("size", [1, 2, 7, 64, 100_000])
def test_the_parser_finds_usage_whatever_the_chunking(size: int) -> None:
    fake = FakeAnthropic()
    data = stream_bytes(fake)
    parser = SseUsageParser()
    for start in range(0, len(data), size):
        parser.feed(data[start : start + size])

    usage = parser.usage
    assert usage.model == fake.model
    assert {k: getattr(usage, k) for k in fake.usage} == fake.usage


def test_the_parser_handles_crlf_and_ignores_text_that_mentions_usage_events() -> None:
    mention = 'data: {"type": "message_delta"}'
    text_delta = {"type": "content_block_delta", "delta": {"type": "text_delta", "text": mention}}
    delta = json.dumps({"type": "message_delta", "usage": {"output_tokens": 9}})
    data = sse("content_block_delta", text_delta) + f"data: {delta}\r\n\r\n".encode()
    parser = SseUsageParser()
    parser.feed(data)

    assert parser.usage.output_tokens == 9
    assert parser.usage.seen


def test_an_over_long_line_is_dropped_and_the_buffer_stays_bounded() -> None:
    parser = SseUsageParser(max_line=1024)
    parser.feed(b"data: " + b"x" * 5000)
    parser.feed(b"y" * 5000)
    assert len(parser._partial) <= 1024
    parser.feed(
        b"z\n" + sse("message_delta", {"type": "message_delta", "usage": {"output_tokens": 5}})
    )

    assert parser.usage.output_tokens == 5


def test_non_streamed_usage_and_garbage() -> None:
    body = json.dumps({"model": "claude-opus-4-1", "usage": {"input_tokens": 3, "output_tokens": 4,
                       "cache_read_input_tokens": None}}).encode()  # fmt: skip
    usage = usage_from_json(body)
    assert (usage.model, usage.input_tokens, usage.output_tokens) == ("claude-opus-4-1", 3, 4)
    assert usage.cache_read_input_tokens == 0
    assert not usage_from_json(b"\xff not json").seen


# ----------------------------------------------------------------------------- pricing
def test_prices_are_keyed_by_exact_model_id_with_dated_aliases() -> None:
    opus_4_6 = price_for("claude-opus-4-6", DEFAULT_PRICES)
    # The old prefix table charged every "claude-opus-4*" id the Opus 4 rate: 3x too much.
    assert opus_4_6 is not None and (opus_4_6.input, opus_4_6.output) == (5, 25)
    opus_4 = price_for("claude-opus-4-20250514", DEFAULT_PRICES)
    assert opus_4 is not None and (opus_4.input, opus_4.output) == (15, 75)
    assert price_for("claude-sonnet-4-5", DEFAULT_PRICES) == price_for(
        "claude-sonnet-4-5-20250929", DEFAULT_PRICES
    )
    assert price_for("claude-haiku-4-5-20251001", DEFAULT_PRICES) == price_for(
        "claude-haiku-4-5", DEFAULT_PRICES
    )
    assert price_for("claude-opus-4-6-preview", DEFAULT_PRICES) is None  # no prefix matching
    assert price_for("mystery-model", DEFAULT_PRICES) is None
    assert price_for("", DEFAULT_PRICES) is None
    assert price_for("x", {}) is None


def test_an_unpriced_response_model_is_charged_the_highest_rate_and_flagged() -> None:
    usage = ResponseUsage(model="claude-new-thing", input_tokens=1_000_000)
    cost, exact = estimate_cost(usage, DEFAULT_PRICES)
    assert not exact and cost == pytest.approx(15)  # the dearest model (Opus 4.1), $15 input
    # ... unless the requested model (an alias answered under another id) is priced.
    cost, exact = estimate_cost(usage, DEFAULT_PRICES, requested="claude-haiku-4-5")
    assert exact and cost == pytest.approx(1)


def test_unknown_and_disallowed_models_are_refused_naming_the_allowed_ones() -> None:
    policy = ModelPolicy()
    assert policy.model_refusal("claude-sonnet-4-6") is None
    refusal = policy.model_refusal("claude-unknown-9")
    assert refusal is not None and "claude-unknown-9" in refusal and "claude-sonnet-4-6" in refusal
    assert policy.model_refusal(None) is not None
    haiku = "claude-haiku-4-5"
    allow = ModelPolicy.model_validate(
        {"claude_code": {"allowed_models": [haiku], "default_model": haiku}}
    )
    refusal = allow.model_refusal("claude-opus-4-6")
    assert refusal is not None and "Allowed models: claude-haiku-4-5." in refusal
    assert allow.model_refusal("claude-haiku-4-5") is None
    with pytest.raises(ValueError, match="default_model"):
        ModelPolicy.model_validate(
            {"claude_code": {"allowed_models": ["claude-haiku-4-5"], "default_model": "x-1"}}
        )


def test_cost_counts_every_token_kind() -> None:
    million = 1_000_000
    usage = ResponseUsage(
        model="claude-sonnet-4-5",
        input_tokens=million,
        output_tokens=million,
        cache_creation_input_tokens=million,
        cache_read_input_tokens=million,
    )
    assert estimate_cost(usage, DEFAULT_PRICES) == (pytest.approx(3 + 15 + 3.75 + 0.3), True)


# -------------------------------------------------------------------------- seat tokens
def test_seat_tokens_are_random_persistent_and_seat_bound(tmp_path: Path) -> None:
    tokens = SeatTokens.load_or_create(tmp_path / "gw", range(1, 4))
    again = SeatTokens.load_or_create(tmp_path / "gw", range(1, 5))  # a seat added later

    assert len({tokens.token_for(s) for s in (1, 2, 3)}) == 3
    assert all(again.token_for(s) == tokens.token_for(s) for s in (1, 2, 3))
    assert again.matches(4, again.token_for(4))
    assert not tokens.matches(2, tokens.token_for(1))
    assert not tokens.matches(1, None) and not tokens.matches(1, "")
    assert not tokens.matches(9, tokens.token_for(1))
    assert not tokens.matches(1, tokens.token_for(1) + "x" * 300)
    assert tokens.token_for(1) not in repr(tokens)


# --------------------------------------------------------------------------- config
POLICY = ModelPolicy(defaults=SeatLimits(requests_per_minute=5, budget_usd=2))


def test_config_from_the_agent_environment(tmp_path: Path) -> None:
    config = GatewayConfig.from_env({
        "CLARATEACH_AGENT_WORKSHOP_ID": "w1", "CLARATEACH_AGENT_HOST_INDEX": "2",
        "CLARATEACH_AGENT_SEATS": "11-20", "CLARATEACH_AGENT_STATE_DIR": str(tmp_path),
        "CLARATEACH_AGENT_API_KEY_REF": "local:w1-key",
        "CLARATEACH_AGENT_MODEL_POLICY": POLICY.model_dump_json(),
        "CLARATEACH_AGENT_MODEL_PAUSED": "true", "CLARATEACH_AGENT_RUNTIME": "docker",
        "CLARATEACH_AGENT_PORT": "8443",
    })  # fmt: skip

    assert (config.seat_first, config.seat_last, config.host_index) == (11, 20, 2)
    assert config.policy == POLICY and config.paused
    assert config.upstream == "https://api.anthropic.com"
    assert config.seat_agent_url == "http://172.17.0.1:{port}"
    assert config.agent_port == 8443


@pytest.mark.parametrize(
    "env",
    [
        {"CLARATEACH_AGENT_SEATS": "5-2"},
        {"CLARATEACH_AGENT_SEATS": "a-b"},
        {"CLARATEACH_AGENT_MODEL_POLICY": '{"defaults": {"requests_per_minute": -1}}'},
        {"CLARATEACH_AGENT_MODEL_UPSTREAM": "file:///etc/passwd"},
    ],
)
def test_bad_configuration_names_the_problem(env: dict[str, str]) -> None:
    with pytest.raises(GatewayConfigError):
        GatewayConfig.from_env(env)


def test_config_from_agent_settings(tmp_path: Path) -> None:
    settings = AgentSettings(
        workshop_id="w2", host_index=1, seats=(4, 5, 6), state_dir=tmp_path,
        api_key_ref="local:key", model_policy=POLICY.model_dump_json(), port=9000,
        model_upstream="http://127.0.0.1:1", secrets_url=f"local:{tmp_path}",
    )  # fmt: skip
    config = GatewayConfig.from_agent_settings(settings)

    assert (config.workshop_id, config.seat_first, config.seat_last) == ("w2", 4, 6)
    assert config.policy == POLICY
    assert config.upstream == "http://127.0.0.1:1"
    assert config.agent_port == 9000


def test_seat_env_points_claude_code_at_the_gateway(tmp_path: Path) -> None:
    config = GatewayConfig(workshop_id="w", host_index=0, seat_first=1, seat_last=2,
                           state_dir=tmp_path)  # fmt: skip
    ledger = UsageLedger()
    handle = GatewayHandle(config, SeatTokens.load_or_create(tmp_path, config.seats), ledger,
                           Governor(config.policy, ledger))  # fmt: skip
    with pytest.raises(RuntimeError, match="set_agent_port"):
        handle.seat_env(1)
    handle.set_agent_port(4321)

    env = handle.seat_env(2)
    assert env == {
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:4321/seats/2/model",
        "ANTHROPIC_AUTH_TOKEN": handle.tokens.token_for(2),
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_BUG_COMMAND": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    with pytest.raises(KeyError):
        handle.seat_env(3)


def test_the_workshops_default_model_reaches_the_seat_env_and_its_settings(
    tmp_path: Path,
) -> None:
    policy = ModelPolicy.model_validate({"claude_code": {
        "default_model": "claude-haiku-4-5",
        "allowed_models": ["claude-haiku-4-5", "claude-sonnet-4-6"],
        "claude_md": "# Workshop rules\nBe kind.\n",
        "settings": {"permissions": {"allow": ["Bash(ls:*)"]}, "env": {"X": "1"}, "model": "y"},
    }})  # fmt: skip
    config = GatewayConfig(workshop_id="w", host_index=0, seat_first=1, seat_last=1,
                           state_dir=tmp_path / "agent", policy=policy, agent_port=1)  # fmt: skip
    ledger = UsageLedger()
    handle = GatewayHandle(config, SeatTokens.load_or_create(tmp_path, config.seats), ledger,
                           Governor(config.policy, ledger))  # fmt: skip
    handle.set_agent_port(4321)
    env = handle.seat_env(1)
    assert env["ANTHROPIC_MODEL"] == env["ANTHROPIC_SMALL_FAST_MODEL"] == "claude-haiku-4-5"

    work = tmp_path / "work"
    (work / ".claude").mkdir(parents=True)
    (work / ".claude" / "settings.json").write_text('{"theme": "dark", "model": "learner"}')
    handle.prepare_seat(work, home=True)

    settings = json.loads((work / ".claude" / "settings.json").read_text())
    assert settings["theme"] == "dark"  # the learner's own key is kept
    assert settings["model"] == "claude-haiku-4-5"  # the platform's keys win
    assert settings["availableModels"] == ["claude-haiku-4-5", "claude-sonnet-4-6"]
    assert settings["permissions"] == {"allow": ["Bash(ls:*)"]}  # the instructor's
    assert settings["env"]["X"] == "1" and settings["env"]["DISABLE_TELEMETRY"] == "1"
    assert settings["autoUpdates"] is False
    assert (work / ".claude" / "CLAUDE.md").read_text() == "# Workshop rules\nBe kind.\n"
    onboarding = json.loads((work / ".claude.json").read_text())
    assert onboarding["hasCompletedOnboarding"] is True
    assert onboarding["projects"][str(work.resolve())]["hasTrustDialogAccepted"] is True


def test_seat_files_never_follow_a_learners_symlink(tmp_path: Path) -> None:
    outside = tmp_path / "agent-secrets"
    outside.mkdir()
    (outside / "settings.json").write_text('{"secret": "sk-ant-do-not-copy"}')
    work = tmp_path / "work"
    work.mkdir()
    (work / ".claude").symlink_to(outside)
    config = GatewayConfig(workshop_id="w", host_index=0, seat_first=1, seat_last=1,
                           state_dir=tmp_path / "agent", agent_port=1)  # fmt: skip
    ledger = UsageLedger()
    handle = GatewayHandle(config, SeatTokens.load_or_create(tmp_path, config.seats), ledger,
                           Governor(config.policy, ledger))  # fmt: skip

    handle.prepare_seat(work, home=True)

    assert json.loads((outside / "settings.json").read_text()) == {"secret": "sk-ant-do-not-copy"}
    assert sorted(p.name for p in outside.iterdir()) == ["settings.json"]


def test_an_invalid_policy_starts_the_gateway_paused_instead_of_failing_the_agent(
    tmp_path: Path,
) -> None:
    from aiohttp import web

    from workspace_agent.gateway import setup_gateway

    (tmp_path / "gateway").mkdir(mode=0o700)
    (tmp_path / "gateway" / "access.json").write_text('{"paused": false}')  # resumed earlier
    settings = AgentSettings(workshop_id="w3", seats=(1,), state_dir=tmp_path,
                             model_policy='{"defaults": {"budget_usd": "lots"}}')  # fmt: skip
    handle = setup_gateway(web.Application(), settings)

    assert handle.paused
    assert handle.governor.policy == ModelPolicy()
