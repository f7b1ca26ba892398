"""Pure parts of the loadtest: arrivals, percentiles, echo matching, the verdict."""

from __future__ import annotations

import pytest

from clarateach.loadtest.learner import EchoMeter, LearnerResult
from clarateach.loadtest.report import Thresholds, build
from clarateach.loadtest.schedule import arrival_offsets
from clarateach.loadtest.stats import percentile, summary


def test_arrivals_are_uniform_over_the_window_or_all_at_once() -> None:
    assert arrival_offsets(4, 20) == [0.0, 5.0, 10.0, 15.0]
    assert arrival_offsets(3, 20, burst=True) == [0.0, 0.0, 0.0]
    assert arrival_offsets(0, 20) == []
    with pytest.raises(ValueError):
        arrival_offsets(-1, 5)


def test_percentiles_are_nearest_rank_values_that_were_observed() -> None:
    samples = [float(i) for i in range(1, 101)]  # 1..100
    assert percentile(samples, 50) == 50.0
    assert percentile(samples, 99) == 99.0
    assert percentile([3.0, 1.0, 2.0], 95) == 3.0
    assert percentile([], 50) is None
    assert summary([0.2, 0.1]) == {"n": 2, "p50": 0.1, "p95": 0.2, "p99": 0.2, "max": 0.2}
    assert summary([])["p99"] is None


def test_echo_is_matched_in_order_and_escape_sequences_are_not_echoes() -> None:
    result = LearnerResult(index=0)
    meter = EchoMeter(result)
    meter.typed(ord("k"), 1.0)
    meter.typed(ord("a"), 1.1)
    meter.output(b"\x1b[K", 1.2)  # erase-line: its "K" is not the typed "k"
    meter.output(b"\x1b[?2004hxk", 1.5)
    assert result.echo_s == [0.5]
    meter.output(b"a", 1.6)
    assert result.echo_s == [0.5, pytest.approx(0.5)]
    assert meter.oldest_age(9.0) == 0.0


def _learner(
    i: int, prompt: float | None, echo: list[float], cause: str | None = None
) -> LearnerResult:
    result = LearnerResult(index=i, join_s=0.01, code_to_prompt_s=prompt, echo_s=echo)
    if cause:
        result.fail(cause, "why")
    else:
        result.stage = "done"
    return result


def test_the_verdict_checks_each_threshold_against_the_measured_numbers() -> None:
    good = [_learner(i, 1.0 + i / 10, [0.01, 0.02]) for i in range(10)]
    report = build(good, Thresholds())
    assert report["verdict"]["pass"] is True
    assert report["latency_s"]["code_to_prompt"]["p99"] == 1.9
    assert report["latency_s"]["echo"]["n"] == 20

    slow_echo = [*good, _learner(10, 1.0, [0.5])]
    report = build(slow_echo, Thresholds())
    assert [c["name"] for c in report["verdict"]["checks"] if not c["ok"]] == ["echo_p99_s"]
    assert build(slow_echo, Thresholds(echo_p99_s=1.0))["verdict"]["pass"] is True

    failing = [
        *good,
        _learner(10, None, [], "join:workshop_full"),
        _learner(11, None, [], "join:workshop_full"),
        _learner(12, None, [], "prompt:timeout"),
    ]
    report = build(failing, Thresholds(max_failures=2))
    assert report["failures"] == {"join:workshop_full": 2, "prompt:timeout": 1}
    assert report["learners"]["failed"] == 3
    assert report["verdict"]["checks"][0] == {
        "name": "failures", "value": 3, "limit": 2, "op": "<=", "ok": False
    }  # fmt: skip
    # Without typing there is nothing to echo, so no echo check at all.
    checks = build([_learner(0, 1.0, [])], Thresholds(), typing=False)["verdict"]["checks"]
    assert [c["name"] for c in checks] == ["failures", "code_to_prompt_p99_s"]
    assert build([_learner(0, 1.0, [])], Thresholds())["verdict"]["pass"] is False
    # No sample at all is a failed check, never a pass by default.
    assert (
        build([_learner(0, None, [], "join:timeout")], Thresholds(max_failures=5))["verdict"][
            "pass"
        ]
        is False
    )


def test_the_platform_passes_its_model_upstream_to_every_host() -> None:
    from shared.domain.model import Host, Workshop
    from shared.services.agent_config import agent_config
    from shared.settings import Settings

    workshop = Workshop(id="w1", name="n", code="CLAUDE-ABCD", seats=2, seats_per_host=2, owner="o")
    host = Host(index=0, name="ct-w1-h0", seat_first=1, seat_last=2)
    default = agent_config(Settings(), workshop, host)
    assert "CLARATEACH_AGENT_MODEL_UPSTREAM" not in default  # the agent's default applies
    upstream = Settings.from_env({"CLARATEACH_MODEL_UPSTREAM": "http://127.0.0.1:9"})
    config = agent_config(upstream, workshop, host)
    assert config["CLARATEACH_AGENT_MODEL_UPSTREAM"] == "http://127.0.0.1:9"
