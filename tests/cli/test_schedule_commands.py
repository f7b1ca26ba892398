"""``workshop create`` schedule options, the cost estimate, ``start``, ``extend`` and ``end``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clarateach import cli
from shared.domain import cost
from shared.domain.vm_prices import PRICE_SOURCE, PRICES_AS_OF
from shared.services import costs
from tests.cli.conftest import RunCli


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


@pytest.fixture
def gce_prices(monkeypatch: pytest.MonkeyPatch) -> cost.HostPricing:
    """Price the in-process server's hosts like e2-standard-4 VMs in us-central1 (the local
    platform's own hosts are processes and cost nothing)."""
    pricing = cost.host_pricing("e2-standard-4", "us-central1-a", spot=False, disk_gb=50)
    monkeypatch.setattr(costs, "pricing_for", lambda settings: pricing)
    return pricing


def create(run_cli: RunCli, key_file: Path, *extra: str) -> dict:
    result = run_cli(
        "workshop", "create", "-n", "Timed", "-s", "20", "--api-key-file", str(key_file),
        "--json", *extra,
    )  # fmt: skip
    assert result.exit_code == 0, result.text
    return json.loads(result.stdout)["workshop"]


def test_create_shows_the_estimate_computed_from_the_price_table(
    run_cli: RunCli, key_file: Path, gce_prices: cost.HostPricing
) -> None:
    result = run_cli(
        "workshop", "create", "-n", "Timed", "-s", "20", "--api-key-file", str(key_file),
        "--duration", "120", "--grace-minutes", "0",
    )  # fmt: skip

    assert result.exit_code == 0, result.text
    assert gce_prices.usd_per_hour is not None
    vm_usd = 2 * 2 * gce_prices.usd_per_hour  # 20 seats -> 2 hosts, for 2 hours
    assert f"${vm_usd:,.2f}" in result.text
    assert "2 hosts x 4.00 VM-hours" in result.text
    assert "e2-standard-4 (us-central1, on-demand" in result.text
    assert PRICE_SOURCE in result.text and PRICES_AS_OF in result.text
    assert "no per-seat budget: unlimited" in result.text


def test_create_with_a_start_time_shows_the_warmup_and_the_end(
    run_cli: RunCli, key_file: Path
) -> None:
    starts = (datetime.now(UTC) + timedelta(days=2)).replace(second=0, microsecond=0)
    workshop = create(
        run_cli, key_file, "--starts-at", iso(starts), "--warmup-minutes", "20",
        "--duration", "90",
    )  # fmt: skip

    schedule = workshop["schedule"]
    assert datetime.fromisoformat(schedule["starts_at"]) == starts
    assert datetime.fromisoformat(schedule["ends_at"]) == starts + timedelta(minutes=90)
    assert datetime.fromisoformat(schedule["warmup_at"]) == starts - timedelta(minutes=20)
    shown = run_cli("workshop", "info", workshop["id"])
    assert "Warm-up" in shown.text and "(automatic start)" in shown.text
    assert starts.strftime("%Y-%m-%d %H:%M") in shown.text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--ends-at", "tomorrow"), "--ends-at: not an ISO 8601 date-time"),
        (("--starts-at", "2030-01-01T10:00"), "--starts-at: give a time zone offset"),
        (("--ends-at", "2030-01-01T10:00Z", "--duration", "5"), "not both"),
    ],
)
def test_bad_schedule_options_are_usage_errors(
    run_cli: RunCli, key_file: Path, args: tuple[str, ...], message: str
) -> None:
    result = run_cli(
        "workshop", "create", "-n", "x", "-s", "2", "--api-key-file", str(key_file), *args
    )
    assert result.exit_code == cli.EXIT_USAGE
    assert message in result.text


def test_start_prints_the_estimate_before_starting(
    run_cli: RunCli, key_file: Path, gce_prices: cost.HostPricing
) -> None:
    workshop = create(run_cli, key_file)

    result = run_cli("workshop", "start", workshop["id"])

    assert result.exit_code == 0, result.text
    assert "Cost estimate:" in result.text and "e2-standard-4" in result.text
    assert result.text.index("Cost estimate:") < result.text.index("is provisioning")


def test_extend_and_end(run_cli: RunCli, key_file: Path) -> None:
    workshop = create(run_cli, key_file)
    before = datetime.fromisoformat(workshop["schedule"]["ends_at"])

    extended = run_cli("workshop", "extend", workshop["id"], "--minutes", "30", "--json")
    assert extended.exit_code == 0, extended.text
    ends = datetime.fromisoformat(json.loads(extended.stdout)["workshop"]["schedule"]["ends_at"])
    assert ends == before + timedelta(minutes=30)

    until = (datetime.now(UTC) + timedelta(hours=5)).replace(microsecond=0)
    moved = run_cli("workshop", "extend", workshop["id"], "--until", iso(until), "--json")
    assert (
        datetime.fromisoformat(json.loads(moved.stdout)["workshop"]["schedule"]["ends_at"]) == until
    )

    ended = run_cli("workshop", "end", workshop["id"])
    assert ended.exit_code == 0, ended.text
    assert "ended; hosts are deleted at" in ended.text


def test_extend_needs_exactly_one_option_and_reports_refusals(
    run_cli: RunCli, key_file: Path
) -> None:
    workshop = create(run_cli, key_file)
    assert run_cli("workshop", "extend", workshop["id"]).exit_code == cli.EXIT_USAGE
    too_far = run_cli("workshop", "extend", workshop["id"], "--minutes", "1440")
    assert too_far.exit_code == cli.EXIT_API_ERROR
    assert "at most 24 hours after the start" in too_far.text
