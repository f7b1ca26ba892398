"""``POST /api/hosts/events``: a host's word reaches the provisioner only with proof of which
host it is, and only for itself.

Local hosts prove themselves with the host events token derived for exactly their workshop,
host index and start attempt; GCE hosts with the instance identity token of VM
``ct-<workshop>-h<index>`` (the fake verifier behaves like google-auth: unknown token = bad
signature, other audience = refused). Every refusal publishes nothing and never echoes the
token; the accepted event is re-stamped with the server's clock.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from shared.auth.platform_keys import PLATFORM_SECRET_FILE, host_events_token
from shared.bootstrap import Platform
from shared.domain.events import HOST_FAILED, HOST_READY, HOST_USAGE, Event
from shared.domain.model import Workshop, utcnow
from shared.services.host_credentials import HostCredentialLimiter
from shared.services.host_events import install_limiter
from shared.services.ratelimit import Budget
from tests.api.conftest import Api
from tests.support.fakes import FakeClock, RecordingBus
from tests.support.host_identity import HOST_ACCOUNT, PROJECT, ZONE, IdentityTokens, identity_claims

PATH = "/api/hosts/events"
AUDIENCE = "https://ct-join-123.europe-west1.run.app"


def body(
    workshop_id: str, index: int = 0, attempt: int = 0, kind: str = HOST_READY, **data: Any
) -> bytes:
    payload: dict[str, Any] = {"host_index": index, "attempt": attempt, **data}
    if kind == HOST_READY:
        payload.setdefault("endpoint", "http://127.0.0.1:9100")
    return Event(kind, workshop_id, payload).to_message()[0]


def post(platform: Platform, raw: bytes, authorization: str | None, **kw: Any) -> Any:
    headers = {} if authorization is None else {"Authorization": authorization}
    return Api(platform, **kw).call("POST", PATH, raw=raw, headers=headers)


def token_for(platform: Platform, workshop_id: str, index: int = 0, attempt: int = 0) -> str:
    return "Bearer " + host_events_token(platform.settings.state_dir, workshop_id, index, attempt)


# ------------------------------------------------------------------------------ local
def test_a_local_host_with_its_token_is_published_restamped_with_the_server_clock(
    platform: Platform, bus: RecordingBus, running: dict[str, Any]
) -> None:
    future = Event(
        HOST_READY,
        running["id"],
        {"host_index": 1, "attempt": 0, "endpoint": "http://127.0.0.1:9101", "timings": {}},
        occurred_at=utcnow() + timedelta(days=1),
    )
    before = utcnow()
    response = post(platform, future.to_message()[0], token_for(platform, running["id"], 1))

    assert response.status == 202, response.json()
    [published] = bus.events
    assert response.json()["message_id"]
    assert (published.type, published.workshop_id) == (HOST_READY, running["id"])
    assert published.data["host_index"] == 1 and published.data["attempt"] == 0
    assert before <= published.occurred_at <= utcnow()  # the host's clock is not trusted


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Basic abc", "Bearer not-a-token", "Bearer " + "0" * 64],
)
def test_no_or_a_bad_token_is_401_and_nothing_is_published(
    platform: Platform, bus: RecordingBus, running: dict[str, Any], authorization: str | None
) -> None:
    response = post(platform, body(running["id"]), authorization)
    assert response.status == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert bus.events == []


@pytest.mark.parametrize(
    ("claimed", "proven"),
    [
        ({"index": 1}, {"index": 0}),  # host 0 speaking for host 1
        ({"attempt": 1}, {"attempt": 0}),  # a host of attempt 0 claiming attempt 1
        ({"attempt": 0}, {"attempt": 1}),  # a host of attempt 1 replaying as attempt 0
        ({"workshop": "other"}, {}),  # a host of this workshop speaking for another
    ],
)
def test_a_genuine_token_cannot_speak_for_another_host_attempt_or_workshop(
    platform: Platform,
    api: Api,
    bus: RecordingBus,
    running: dict[str, Any],
    claimed: dict[str, Any],
    proven: dict[str, Any],
) -> None:
    other = api.create(seats=5)
    workshops = {"other": other["id"]}
    claim = {"index": 0, "attempt": 0, **claimed}
    proof = {"index": 0, "attempt": 0, **proven}
    target = workshops.get(claim.pop("workshop", None), running["id"])
    raw = body(target, claim["index"], claim["attempt"])
    response = post(
        platform, raw, token_for(platform, running["id"], proof["index"], proof["attempt"])
    )
    assert response.status == 401
    assert bus.events == []


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        json.dumps({"type": "host.ready"}).encode(),
        Event("workshop.stop_requested", "w", {"host_index": 0, "attempt": 0}).to_message()[0],
        Event(HOST_READY, "w", {"host_index": 0}).to_message()[0],  # no attempt
        Event(HOST_READY, "w", {"host_index": "0", "attempt": 0}).to_message()[0],
        Event(HOST_READY, "w", {"host_index": 0, "attempt": True}).to_message()[0],
    ],
)
def test_what_is_not_a_host_event_is_400_and_nothing_is_published(
    platform: Platform, bus: RecordingBus, raw: bytes
) -> None:
    response = post(platform, raw, token_for(platform, "w"))
    assert response.status == 400, response.json()
    assert bus.events == []


def test_refusals_are_rate_limited_but_a_genuine_host_is_never_held_back(
    platform: Platform, bus: RecordingBus, running: dict[str, Any]
) -> None:
    clock = FakeClock()
    install_limiter(
        platform.store,
        HostCredentialLimiter(Budget(3, 3), Budget(100, 100), clock=clock),
    )
    for _ in range(3):
        assert post(platform, body(running["id"]), "Bearer wrong").status == 401
    limited = post(platform, body(running["id"]), "Bearer wrong")
    assert limited.status == 429 and int(limited.headers["Retry-After"]) >= 1
    assert bus.events == []
    # Locally every host and every learner's shell share 127.0.0.1: a flood of bad requests
    # from a seat must not hold back the real host's report on that same address.
    genuine = token_for(platform, running["id"])
    assert post(platform, body(running["id"]), genuine).status == 202
    assert len(bus.events) == 1


def test_the_token_never_appears_in_a_refusal_or_the_logs(
    platform: Platform, running: dict[str, Any], captured_logs: list[str]
) -> None:
    genuine = token_for(platform, running["id"], 0, 0)
    response = post(platform, body(running["id"], 1), genuine)  # refused: host 0's token
    assert response.status == 401
    secret = genuine.split()[1]
    assert secret not in response.body.decode() + json.dumps(response.headers)
    assert secret not in "".join(captured_logs)
    assert (platform.settings.state_dir / PLATFORM_SECRET_FILE).stat().st_mode & 0o777 == 0o600


# -------------------------------------------------------------------------------- gcp
@pytest.fixture
def tokens() -> IdentityTokens:
    return IdentityTokens()


@pytest.fixture
def gcp(platform: Platform, running: dict[str, Any]) -> Platform:
    platform.settings = replace(
        platform.settings,
        mode="gcp",
        gcp_project=PROJECT,
        gce_zone=ZONE,
        host_service_account=HOST_ACCOUNT,
        host_credentials_url=AUDIENCE + "/",
    )
    return platform


def gce(tokens: IdentityTokens, workshop_id: str, index: int, **changes: Any) -> str:
    claims = identity_claims(f"ct-{workshop_id}-h{index}", AUDIENCE, **changes)
    return "Bearer " + tokens.mint(claims)


@pytest.mark.parametrize("kind", [HOST_READY, HOST_FAILED, HOST_USAGE])
def test_a_gce_host_with_its_identity_token_is_heard(
    gcp: Platform, bus: RecordingBus, running: dict[str, Any], tokens: IdentityTokens, kind: str
) -> None:
    extra = {"seats": {}} if kind == HOST_USAGE else {"reason": "x"} if kind == HOST_FAILED else {}
    raw = body(running["id"], 1, 0, kind, **extra)
    response = post(gcp, raw, gce(tokens, running["id"], 1), verify_id_token=tokens.verify)
    assert response.status == 202, response.json()
    assert [e.type for e in bus.events] == [kind]


@pytest.mark.parametrize(
    ("vm", "status"),
    [
        ("other-workshop", 403),  # VM ct-<other>-h0 reporting for this workshop
        ("other-host", 403),  # VM ct-<this>-h0 reporting for host 1
        ("other-project", 403),
        ("not-a-host", 403),
        ("wrong-audience", 401),
        ("unsigned", 401),
    ],
)
def test_a_gce_host_cannot_speak_for_another_vm(
    gcp: Platform,
    bus: RecordingBus,
    running: dict[str, Any],
    tokens: IdentityTokens,
    vm: str,
    status: int,
) -> None:
    this = running["id"]
    authorization = {
        "other-workshop": gce(tokens, "wother00000", 1),
        "other-host": gce(tokens, this, 0),
        "other-project": gce(tokens, this, 1, project_id="someone-else"),
        "not-a-host": "Bearer " + tokens.mint(identity_claims("jumpbox", AUDIENCE)),
        "wrong-audience": "Bearer "
        + tokens.mint(identity_claims(f"ct-{this}-h1", "https://evil.example")),
        "unsigned": "Bearer forged-identity-token",
    }[vm]
    response = post(gcp, body(this, 1), authorization, verify_id_token=tokens.verify)
    assert response.status == status, response.json()
    assert bus.events == []


def test_a_gce_vm_older_than_the_current_start_attempt_is_refused(
    gcp: Platform, bus: RecordingBus, running: dict[str, Any], tokens: IdentityTokens
) -> None:
    """VM names repeat across attempts; the identity token's ``instance_creation_timestamp``
    (set by Google, not the VM) tells a leftover of an earlier attempt from this attempt's VM."""
    requested = utcnow()

    def stamp(current: Workshop) -> Workshop:
        host = current.host(1)
        assert host is not None
        return current.with_host(replace(host, timings={"requested": requested.isoformat()}))

    gcp.store.update_workshop(running["id"], stamp)
    created = {
        "old": int((requested - timedelta(minutes=20)).timestamp()),
        "new": int((requested + timedelta(seconds=20)).timestamp()),
    }
    identity = identity_claims(f"ct-{running['id']}-h1", AUDIENCE)

    def as_vm(created_at: int) -> str:
        claims = {
            **identity,
            "google": {
                "compute_engine": {
                    **identity["google"]["compute_engine"],
                    "instance_creation_timestamp": created_at,
                }
            },
        }
        return "Bearer " + tokens.mint(claims)

    old = post(gcp, body(running["id"], 1), as_vm(created["old"]), verify_id_token=tokens.verify)
    assert old.status == 403 and bus.events == []
    new = post(gcp, body(running["id"], 1), as_vm(created["new"]), verify_id_token=tokens.verify)
    assert new.status == 202 and len(bus.events) == 1
