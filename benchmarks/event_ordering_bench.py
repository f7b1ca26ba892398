"""Lifecycle-event delay under usage load, on the Pub/Sub emulator (issue 12 item 5).

A 50-host workshop: every host reports ``host.usage`` every 15 s (after boot they report in
bursts, since they started together), and the provisioner handles each delivery in
``--handle-ms`` (a Firestore transaction or two). The subscription has message ordering on,
as Terraform creates it, and the consumer handles one message of an ordering key at a time,
as Pub/Sub delivers an ordered subscription. The script publishes rounds of 50 usage reports
followed by one lifecycle event (``host.ready`` / ``workshop.stop_requested``) and measures
publish -> handled for the lifecycle events, twice: usage with the workshop's ordering key
(the old behaviour) and usage without one (``shared.domain.events.UNORDERED_EVENT_TYPES``).

    python -m benchmarks.event_ordering_bench [--hosts 50] [--rounds 5] [--handle-ms 40]

Timing is reported, never asserted.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import uuid
from typing import Any

from benchmarks._emulators import EmulatorUnavailable, pubsub_emulator
from benchmarks._stats import print_table, summarize
from shared.domain.events import HOST_READY, HOST_USAGE, WORKSHOP_STOP_REQUESTED, Event

PROJECT = "clarateach-test"


def run(mode: str, hosts: int, rounds: int, handle_s: float) -> dict[str, Any]:
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    publisher = pubsub_v1.PublisherClient(
        publisher_options=pubsub_v1.types.PublisherOptions(enable_message_ordering=True)
    )
    subscriber = pubsub_v1.SubscriberClient()
    topic = publisher.topic_path(PROJECT, f"bench-{uuid.uuid4().hex[:8]}")
    subscription = subscriber.subscription_path(PROJECT, f"bench-{uuid.uuid4().hex[:8]}")
    publisher.create_topic(request={"name": topic})
    subscriber.create_subscription(
        request={"name": subscription, "topic": topic, "enable_message_ordering": True}
    )
    published: dict[str, float] = {}
    delays: list[float] = []
    lifecycle_total = rounds
    done = threading.Event()
    lock = threading.Lock()

    def handle(message: Any) -> None:
        time.sleep(handle_s)  # the provisioner's work for this delivery
        kind = message.attributes.get("type")
        key = message.attributes.get("bench_id", "")
        with lock:
            if kind != HOST_USAGE and key in published:
                delays.append(time.perf_counter() - published[key])
                if len(delays) >= lifecycle_total:
                    done.set()
        message.ack()

    future = subscriber.subscribe(subscription, callback=handle)
    started = time.perf_counter()
    try:
        for round_index in range(rounds):
            for host in range(hosts):
                _publish(publisher, topic, Event(HOST_USAGE, "wsbench", {"host_index": host}),
                         mode, None)  # fmt: skip
            kind = HOST_READY if round_index % 2 == 0 else WORKSHOP_STOP_REQUESTED
            bench_id = uuid.uuid4().hex
            with lock:
                published[bench_id] = time.perf_counter()
            _publish(publisher, topic, Event(kind, "wsbench", {}), mode, bench_id)
            # The next round of reports arrives while this one is still being handled.
            time.sleep(hosts * handle_s / 2)
        finished = done.wait(timeout=rounds * hosts * handle_s * 4 + 60)
    finally:
        future.cancel()
        subscriber.delete_subscription(request={"subscription": subscription})
        publisher.delete_topic(request={"topic": topic})
    wall = time.perf_counter() - started
    row = summarize(f"usage {mode}", delays, wall, lifecycle_events=len(delays))
    row["max ms"] = max(delays, default=float("nan")) * 1000
    row["complete"] = "yes" if finished else "no"
    return row


def _publish(publisher: Any, topic: str, event: Event, mode: str, bench_id: str | None) -> None:
    data, attributes, ordering_key = event.to_message()
    if mode == "keyed":  # the old behaviour: every event carries the workshop id
        ordering_key = event.workshop_id
    if bench_id:
        attributes = {**attributes, "bench_id": bench_id}
    publisher.publish(topic, data, ordering_key=ordering_key, **attributes).result(timeout=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--handle-ms", type=float, default=40.0)
    args = parser.parse_args(argv)
    try:
        with pubsub_emulator():
            rows = [
                run(mode, args.hosts, args.rounds, args.handle_ms / 1000)
                for mode in ("keyed", "unkeyed")
            ]
    except EmulatorUnavailable as exc:
        print(f"Pub/Sub emulator unavailable: {exc}")
        return 0
    print_table(
        f"lifecycle event delay, {args.hosts} usage reports per round, "
        f"{args.handle_ms:.0f} ms per delivery (publish -> handled)",
        rows,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
