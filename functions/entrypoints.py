"""Which HTTP entry point of ``functions.main`` serves which API operation (route name).

The one router (``functions.http.ROUTES``) names every route's handler; each split entry point
serves the operations listed here, imports only their handlers on its first request, and
answers 404 for the rest. ``api`` serves every operation (the
local platform and the single-URL deployment). Assigning a new route to a function is one line:
add its operation id to that function's set. tests/api/test_entrypoints.py checks that every
route is served by exactly one split function, and that the union is the all-in-one API.

Plain data with no imports, so the CLI can map an operation to its function's URL cheaply.
"""

from __future__ import annotations

#: The all-in-one entry point (every operation).
ALL_IN_ONE = "api"

#: Split entry point -> (the canonical path served at its bare URL, its operation ids).
SPLIT: dict[str, tuple[str, frozenset[str]]] = {
    # Creating a workshop includes uploading its content pack (the one writer of the bucket).
    "create_workshop": ("/api/workshops", frozenset({"create_workshop", "put_content"})),
    "start_workshop": ("/api/workshops", frozenset({"start_workshop"})),
    "stop_workshop": ("/api/workshops", frozenset({"stop_workshop"})),
    # Read-only: never writes state (its account holds roles/datastore.viewer).
    "workshops": (
        "/api/workshops",
        frozenset(
            {
                "list_workshops",
                "get_workshop",
                "list_seats",
                "get_usage",
                "get_progress",
                "get_room",
                "openapi",
            }
        ),
    ),
    # Instructor control actions on a running workshop (the cockpit's routes go here too).
    "control": (
        "/api/workshops",
        frozenset(
            {
                "change_schedule",
                "set_model_access",
                "set_model_policy",
                "shadow_token",
                "broadcast",
                "release_seat",
                "reset_seat",
                "delete_workshop",
            }
        ),
    ),
    # Learners: reads state, claims seats, signs learner tokens; never publishes.
    "join_workshop": ("/api/join", frozenset({"join"})),
    # Host VMs (instance identity token): their workshop's API key and their events. Kept out
    # of join_workshop, so the public join function neither reads API keys nor publishes.
    "hosts": ("/api/hosts", frozenset({"host_credentials", "host_events", "host_content"})),
    "jwks": ("/api/jwks.json", frozenset({"jwks"})),
    "health": ("/api/health", frozenset({"health"})),
}


def operations(entry_point: str) -> frozenset[str]:
    return SPLIT[entry_point][1]


def entry_point_of(operation: str) -> str:
    """The split entry point serving ``operation`` (``KeyError`` if none does)."""
    for name, (_, ops) in SPLIT.items():
        if operation in ops:
            return name
    raise KeyError(operation)


def operation_table() -> dict[str, str]:
    """Operation id -> the split entry point serving it (what the web client routes by)."""
    return {op: name for name, (_, ops) in SPLIT.items() for op in sorted(ops)}
