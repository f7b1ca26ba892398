"""Cost arithmetic (shared.domain.cost) against the price table (shared.domain.vm_prices)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.cost import (
    estimate,
    exceeds,
    host_pricing,
    model_budget_ceiling,
    region_of,
    so_far,
)
from shared.domain.vm_prices import (
    DISK_USD_PER_GB_MONTH,
    HOURS_PER_MONTH,
    PRICE_SOURCE,
    PRICES_AS_OF,
    VM_PRICES,
)

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def test_every_table_entry_is_positive_and_spot_is_cheaper_than_on_demand():
    assert PRICE_SOURCE.startswith("https://cloud.google.com/")
    assert datetime.fromisoformat(PRICES_AS_OF)
    for (region, _machine), price in VM_PRICES.items():
        assert 0 < price.spot < price.on_demand
        assert region in DISK_USD_PER_GB_MONTH


def test_the_hourly_price_is_the_table_price_plus_the_boot_disk():
    pricing = host_pricing("e2-standard-4", "europe-west1-b", spot=False, disk_gb=50)
    spot = host_pricing("e2-standard-4", "europe-west1-b", spot=True, disk_gb=50)
    disk = DISK_USD_PER_GB_MONTH["europe-west1"] * 50 / HOURS_PER_MONTH

    assert pricing.region == "europe-west1"
    assert pricing.usd_per_hour == pytest.approx(
        VM_PRICES[("europe-west1", "e2-standard-4")].on_demand + disk
    )
    assert spot.usd_per_hour == pytest.approx(
        VM_PRICES[("europe-west1", "e2-standard-4")].spot + disk
    )
    assert pricing.source == PRICE_SOURCE and pricing.as_of == PRICES_AS_OF


def test_an_unlisted_machine_has_no_price_and_counts_as_exceeding_any_ceiling():
    pricing = host_pricing("a3-megagpu-8g", "us-central1-a", spot=False, disk_gb=50)
    figures = estimate(
        hosts=1, start=T0, end=T0 + timedelta(hours=1), model_ceiling=0, pricing=pricing
    )

    assert pricing.usd_per_hour is None
    assert figures.vm_usd is None and figures.total_usd is None
    assert exceeds(figures, 1_000_000)


def test_estimate_is_hosts_times_window_hours_times_price_plus_model_ceiling():
    pricing = host_pricing("e2-standard-4", "us-central1-a", spot=False, disk_gb=50)
    figures = estimate(
        hosts=3,
        start=T0,
        end=T0 + timedelta(hours=3, minutes=25),
        model_ceiling=150.0,
        pricing=pricing,
    )

    hours = 3 + 25 / 60
    assert figures.vm_hours == pytest.approx(3 * hours)
    assert figures.vm_usd == pytest.approx(3 * hours * pricing.usd_per_hour)
    assert figures.total_usd == pytest.approx(figures.vm_usd + 150.0)
    assert not exceeds(figures, 152.0) and exceeds(figures, 151.0)
    shown = figures.as_dict()
    assert shown["kind"] == "estimate" and shown["pricing"]["machine_type"] == "e2-standard-4"


def test_model_ceiling_is_seats_times_budget_with_overrides_and_none_when_unlimited():
    policy = {
        "defaults": {"budget_usd": 5.0},
        "seat_overrides": {"2": {"budget_usd": 20.0}, "9": {"budget_usd": 1.0}},
    }
    assert model_budget_ceiling(policy, 3) == pytest.approx(5 + 20 + 5)
    assert model_budget_ceiling({}, 3) is None  # the default policy has no budget
    assert (
        model_budget_ceiling({"seat_overrides": {"1": {}}, "defaults": {"budget_usd": 1}}, 2)
        is None
    )


def test_cost_so_far_is_elapsed_vm_time_plus_model_spend():
    pricing = host_pricing("e2-standard-2", "us-central1", spot=True, disk_gb=10)
    figures = so_far(
        hosts=2,
        billing_started_at=T0,
        until=T0 + timedelta(minutes=90),
        model_spend=1.5,
        pricing=pricing,
    )
    assert figures.vm_hours == pytest.approx(3.0)
    assert figures.total_usd == pytest.approx(3.0 * pricing.usd_per_hour + 1.5)
    never = so_far(hosts=2, billing_started_at=None, until=T0, model_spend=0, pricing=pricing)
    assert never.vm_usd == 0


def test_region_of_a_zone_and_of_a_region():
    assert region_of("us-central1-f") == "us-central1"
    assert region_of("us-central1") == "us-central1"
