"""The host VM price table the cost estimate uses: USD per hour, per region, on-demand and Spot.

Source: Google Cloud "VM instance pricing", https://cloud.google.com/compute/vm-instance-pricing
(E2 and N2 predefined machine types, Linux, no sustained/committed-use discounts), and
"Disk and image pricing", https://cloud.google.com/compute/disks-image-pricing (balanced
persistent disk). Figures as published on ``PRICES_AS_OF``; not re-read since (this table is
compiled offline). Spot prices are dynamic and Google may change them up to once a day, so a
Spot figure is an estimate by nature. A machine type or region not listed has no price: the
estimate says so instead of guessing, and a deployment-wide ceiling then refuses the start.
"""

from __future__ import annotations

from dataclasses import dataclass

PRICE_SOURCE = "https://cloud.google.com/compute/vm-instance-pricing"
PRICES_AS_OF = "2025-06-01"


@dataclass(frozen=True)
class VmPrice:
    on_demand: float
    spot: float


#: (region, machine type) -> USD per hour.
VM_PRICES: dict[tuple[str, str], VmPrice] = {
    ("us-central1", "e2-standard-2"): VmPrice(on_demand=0.067006, spot=0.020102),
    ("us-central1", "e2-standard-4"): VmPrice(on_demand=0.134012, spot=0.040204),
    ("us-central1", "e2-standard-8"): VmPrice(on_demand=0.268024, spot=0.080407),
    ("us-central1", "n2-standard-4"): VmPrice(on_demand=0.194236, spot=0.047300),
    ("europe-west1", "e2-standard-2"): VmPrice(on_demand=0.073708, spot=0.022112),
    ("europe-west1", "e2-standard-4"): VmPrice(on_demand=0.147416, spot=0.044225),
    ("europe-west1", "e2-standard-8"): VmPrice(on_demand=0.294832, spot=0.088450),
    ("europe-west1", "n2-standard-4"): VmPrice(on_demand=0.213660, spot=0.052030),
}

#: Balanced persistent disk, USD per GB-month, by region (a month is 730 hours in the table).
DISK_USD_PER_GB_MONTH: dict[str, float] = {"us-central1": 0.100, "europe-west1": 0.110}
HOURS_PER_MONTH = 730

#: Embedded mode: hosts are local processes and cost nothing.
LOCAL_MACHINE_TYPE = "local-process"
