"""End to end with real workspace agents, over the Pub/Sub emulator and over the local bus.

API service publishes ``workshop.start_requested`` -> Pub/Sub push subscription (or the local
bus POSTing the same push envelope) -> functions-framework ``provisioner`` -> ``LocalCompute``
starts ``python -m workspace_agent`` per host -> each agent reports ``host.ready`` to the
``join`` function's ``POST /api/hosts/events`` with its host events token, which publishes it on
the same transport -> provisioner -> ``running``.
Then stop -> ``stopped`` with every agent process (and its tmux servers) gone.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from functions.runtime import set_platform
from shared.adapters.local_bus import LocalBus
from shared.adapters.local_compute import LocalCompute
from shared.adapters.local_secrets import LocalSecrets
from shared.adapters.sqlite_store import SqliteStore
from shared.auth.instructor import Instructor
from shared.auth.platform_keys import push_token
from shared.bootstrap import Platform, bootstrap
from shared.domain.model import HostStatus, WorkshopStatus
from shared.ports.event_bus import EventBus
from shared.services import workshops
from shared.settings import Settings
from tests.provisioner.e2e_support import (
    agent_processes,
    served_join_function,
    served_provisioner,
)
from tests.support.emulators import Emulator
from tests.support.wait import wait_for

pytestmark = pytest.mark.slow
TEACHER = Instructor(owner="teacher@example.com")
API_KEY = "sk-ant-api03-" + "e2eTestKey_" * 6


@contextmanager
def pubsub_transport(
    emulator: Emulator, push_url: str
) -> Iterator[tuple[EventBus, dict[str, str]]]:
    """A topic with a push subscription to the provisioner (agents report through the API)."""
    from google.cloud import pubsub_v1  # type: ignore[attr-defined]

    from shared.adapters.pubsub_bus import PubSubBus

    project, topic = emulator.project, f"workshop-events-{uuid.uuid4().hex[:8]}"
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    topic_path = publisher.topic_path(project, topic)
    publisher.create_topic(name=topic_path)
    subscription = subscriber.subscription_path(project, f"provisioner-{topic}")
    subscriber.create_subscription(
        request={
            "name": subscription,
            "topic": topic_path,
            "enable_message_ordering": True,
            "push_config": {"push_endpoint": push_url},
            "ack_deadline_seconds": 60,
            "retry_policy": {"minimum_backoff": {"seconds": 0}, "maximum_backoff": {"seconds": 2}},
        }
    )
    try:
        yield PubSubBus(project=project, topic=topic), {}
    finally:
        subscriber.delete_subscription(subscription=subscription)
        publisher.delete_topic(topic=topic_path)


@pytest.fixture(params=[pytest.param("pubsub", marks=pytest.mark.emulator), "local"])
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    state_dir = tmp_path / "state"
    # Pub/Sub's push has no token here (on GCP, Cloud Run checks the push OIDC token).
    token = push_token(state_dir) if request.param == "local" else None
    with (
        served_provisioner(token) as push_url,
        served_join_function() as api_url,
        ExitStack() as stack,
    ):
        settings = Settings(
            mode="local", state_dir=state_dir, public_api_url=api_url, provisioner_url=push_url
        )
        if request.param == "pubsub":
            emulator = request.getfixturevalue("pubsub_emulator")
            bus, agent_env = stack.enter_context(pubsub_transport(emulator, push_url))
        else:  # embedded mode: the API publishes on the local bus, with the push token
            bus, agent_env = LocalBus(push_url=push_url, push_token=token or ""), {}
        # tmux starts every seat's session at readiness (the default backend starts shells on
        # first attach, and no learner attaches here), so each seat has a process that stop
        # must not leave behind. tests/local_platform covers the default with a live shell.
        agent_env = {**agent_env, "CLARATEACH_AGENT_TERMINAL_BACKEND": "tmux"}
        compute = LocalCompute.from_settings(settings, extra_env=agent_env)
        platform = bootstrap(
            settings,
            store=SqliteStore(tmp_path / "state.db"),
            bus=bus,
            compute=compute,
            secrets=LocalSecrets(settings.state_dir / "secrets"),
        )
        set_platform(platform)
        try:
            yield platform
        finally:
            set_platform(None)
            compute.cleanup_orphans()
            platform.close()


def status_of(platform: Platform, workshop_id: str) -> WorkshopStatus:
    workshop = platform.store.get_workshop(workshop_id)
    assert workshop is not None
    return workshop.status


def test_start_to_running_and_stop_to_stopped_with_real_agents(platform: Platform) -> None:
    hosts_dir = platform.settings.state_dir / "hosts"
    created = workshops.create_workshop(
        platform, TEACHER, name="E2E workshop", seats=4, api_key=API_KEY, seats_per_host=2
    )
    workshops.start_workshop(platform, TEACHER, created.id)

    wait_for(
        lambda: status_of(platform, created.id) in (WorkshopStatus.RUNNING, WorkshopStatus.FAILED),
        timeout=90,
        interval=0.1,
        message="workshop to leave provisioning",
    )
    running = platform.store.get_workshop(created.id)
    assert running is not None
    assert running.status is WorkshopStatus.RUNNING, running.error
    assert [h.status for h in running.hosts] == [HostStatus.READY, HostStatus.READY]
    assert all(h.endpoint and h.endpoint.startswith("http://127.0.0.1:") for h in running.hosts)
    assert all({"requested", "instance_running", "ready"} <= set(h.timings) for h in running.hosts)
    agents = agent_processes(hosts_dir)
    # The agents themselves (seat shells run through workspace_agent/runtimes/netns_launch.py).
    assert len([p for p in agents if "-m workspace_agent" in " ".join(p.cmdline())]) == 2
    descendants = [c for p in agents for c in p.children(recursive=True)]
    assert any("tmux" in " ".join(c.cmdline()) for c in descendants), "seats run in tmux"
    everything = [*agents, *descendants]

    workshops.stop_workshop(platform, TEACHER, created.id)

    wait_for(
        lambda: status_of(platform, created.id) is WorkshopStatus.STOPPED,
        timeout=60,
        interval=0.1,
        message="workshop to stop",
    )
    wait_for(
        lambda: not any(p.is_running() and p.status() != "zombie" for p in everything),
        timeout=15,
        message="agent processes to exit",
    )
    assert agent_processes(hosts_dir) == []
    assert running.api_key_ref and platform.secrets.access(running.api_key_ref) is None


def test_stop_during_provisioning_leaves_no_agent_behind(platform: Platform) -> None:
    hosts_dir = platform.settings.state_dir / "hosts"
    created = workshops.create_workshop(
        platform, TEACHER, name="Stopped early", seats=6, api_key=API_KEY, seats_per_host=2
    )
    workshops.start_workshop(platform, TEACHER, created.id)
    workshops.stop_workshop(platform, TEACHER, created.id)  # before any host is ready

    wait_for(
        lambda: status_of(platform, created.id) is WorkshopStatus.STOPPED,
        timeout=60,
        interval=0.1,
        message="workshop to stop",
    )
    wait_for(lambda: agent_processes(hosts_dir) == [], timeout=15, message="no agent left")
    assert platform.compute.list_hosts({"workshop": created.id}) == []
