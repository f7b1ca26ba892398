"""Schemathesis over every operation of ``/api/openapi.json``, against the real
functions-framework ``api`` app (WSGI, in process), authenticated as the local admin.

Checks: no 5xx, documented status codes, content types, headers (``Retry-After`` on 429) and
response bodies conforming to their schemas; schema-violating requests must be refused (4xx).
Half of the generated workshop ids and join codes are swapped for seeded ones, so success
paths (200/201/202) are exercised and validated too, not only 404s.

The number of cases run is printed at the end of the module (``-s`` or ``-rA`` to see it).
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import functions_framework
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from functions import runtime
from functions.http import ROUTES
from functions.openapi import openapi_document
from shared.adapters.sqlite_store import SqliteStore
from shared.auth.instructor import Instructor, admin_token_path, ensure_admin_token
from shared.bootstrap import Platform, bootstrap
from shared.content import pack_to_zip
from shared.domain.model import WorkshopStatus
from shared.ports.store import SeatRequest
from shared.services import workshops
from shared.settings import Settings
from tests.api.conftest import API_KEY, force_running
from tests.support.content_packs import EXAMPLE
from tests.support.fakes import MemorySecrets, NullCompute, RecordingBus
from tests.support.net import free_port

MAIN = str(Path(__file__).resolve().parents[2] / "functions" / "main.py")
EXAMPLES_PER_OPERATION = 80
CASES: Counter[str] = Counter()
#: (operation, status class) of every response, to show success paths were exercised.
OUTCOMES: Counter[tuple[str, str]] = Counter()
# Content pack uploads are raw zips: random bytes (refused, 400) and real packs (accepted).
schemathesis.openapi.media_type(
    "application/zip",
    st.one_of(st.binary(max_size=512), st.just(pack_to_zip(EXAMPLE))),
)
EXCLUDED_CHECKS = [
    # A schema-valid body may still be refused by a rule JSON Schema cannot express (a name of
    # blanks, seats above this deployment's cap, an id that does not exist): 4xx is correct.
    schemathesis.checks.positive_data_acceptance,
]


class Seeded:
    platform: Platform
    #: Chosen at import time: schemathesis asks for credentials while collecting.
    token: str = secrets.token_urlsafe(32)
    workshop_ids: list[str]
    #: Created workshops only DELETE is pointed at: the other operations' cases start, stop
    #: and fill the shared ones, so a delete of those may rightly get 409 every time.
    deletable: list[str]
    join_code: str


SEED = Seeded()


# The document does not depend on the platform, so the schema is built at import time (the
# lazy ``schemathesis.pytest.from_fixture`` does not work with pytest 9); requests reach the
# real functions-framework app, whose platform the module fixture below installs.
APP = functions_framework.create_app(target="api", source=MAIN)
schema = schemathesis.openapi.from_dict(openapi_document())
schema.app = APP


@pytest.fixture(scope="module", autouse=True)
def seeded_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    state = tmp_path_factory.mktemp("fuzz")
    config = Settings(mode="local", state_dir=state, allowed_origins=("https://t.example",))
    store = SqliteStore(config.database_path)
    platform = bootstrap(
        config, store=store, bus=RecordingBus(), compute=NullCompute(), secrets=MemorySecrets()
    )
    token_file = admin_token_path(config)
    token_file.write_text(SEED.token)
    token_file.chmod(0o600)
    assert ensure_admin_token(config) == SEED.token
    SEED.platform = platform
    SEED.workshop_ids, SEED.join_code = _seed(platform), ""
    admin = Instructor("local-admin", is_admin=True)
    SEED.deletable = [
        workshops.create_workshop(
            platform, admin, name=f"doomed-{n}", seats=1, api_key=API_KEY, seats_per_host=1
        ).id
        for n in range(10)
    ]
    running = platform.store.get_workshop(SEED.workshop_ids[0])
    assert running is not None
    SEED.join_code = running.code
    runtime.set_platform(platform)
    yield platform
    runtime.set_platform(None)
    store.close()
    total = sum(CASES.values())
    print(f"\nschemathesis: {total} cases over {len(CASES)} operations")
    for (operation, outcome), count in sorted(OUTCOMES.items()):
        print(f"  {operation:50} {outcome} {count}")
    successes = {op for (op, outcome) in OUTCOMES if outcome == "2xx"}
    assert successes == set(CASES), f"no success case for {set(CASES) - successes}"


def _seed(platform: Platform) -> list[str]:
    """A running workshop with seats and usage, a created one and a failed one."""
    admin = Instructor("local-admin", is_admin=True)

    def make(name: str) -> str:
        return workshops.create_workshop(
            platform, admin, name=name, seats=5, api_key=API_KEY, seats_per_host=2
        ).id

    running, created, failed = make("running"), make("created"), make("failed")
    stored = force_running(platform, running, base_port=free_port())  # nothing listens there
    platform.store.assign_seat(stored, SeatRequest("h1"))
    platform.store.put_seat_usage(running, {1: {"requests": 1, "input_tokens": 5, "cost_usd": 0.1}})
    platform.store.update_workshop(
        failed, lambda w: replace(w, status=WorkshopStatus.FAILED, error="quota")
    )
    return [running, created, failed]


@schema.auth()
class AdminToken:
    """The local admin token, applied by schemathesis itself: it still sends its own
    missing/invalid-credential cases, which must get 401."""

    def get(self, case: Any, context: Any) -> str:
        return SEED.token

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


def _steer(case: Any) -> None:
    """Point about half the cases at seeded data (deterministic in the generated values).

    Containers are replaced, never mutated in place, so schemathesis re-validates the case:
    a negative case that steering made valid is then checked as a positive one.
    """
    params = dict(case.path_parameters or {})
    if "workshop_id" in params and len(str(params["workshop_id"])) % 2 == 0:
        choice = len(str(params["workshop_id"])) // 2 % len(SEED.workshop_ids)
        if case.operation.method.upper() == "DELETE" and SEED.deletable:
            params["workshop_id"] = SEED.deletable.pop()
        else:
            params["workshop_id"] = SEED.workshop_ids[choice]
        case.path_parameters = params
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("code"), str) and len(body["code"]) % 2:
        case.body = {k: v for k, v in body.items() if k != "reconnect_code"} | {
            "code": SEED.join_code
        }


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_conforms_and_never_fails_on_the_server(case: Any) -> None:
    _steer(case)
    CASES[case.operation.label] += 1
    response = case.call_and_validate(excluded_checks=EXCLUDED_CHECKS)
    OUTCOMES[(case.operation.label, f"{response.status_code // 100}xx")] += 1


def test_the_document_describes_every_route() -> None:
    document = openapi_document()
    described = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert described == {(r.method, r.template) for r in ROUTES}
