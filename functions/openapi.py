"""The OpenAPI 3.1 document of the API, served at ``GET /api/openapi.json``.

Request schemas come from the pydantic models in ``functions.schemas`` (one source of truth
for what the router accepts); response schemas are declared here to match ``functions.views``.
``tests/api/test_openapi_fuzz.py`` runs schemathesis against the live app with this document,
so a drift between the two fails the suite.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic.json_schema import models_json_schema

from functions.cockpit_schemas import Broadcast, ChangeModelPolicy, ReleaseSeat, ResetSeat
from functions.http import ROUTES, Route
from functions.schemas import (
    ChangeSchedule,
    CreateWorkshop,
    HostCredentialsRequest,
    Join,
    ModelAccess,
)
from shared.domain.cockpit import MODEL_ERROR_COUNTERS

REF = "#/components/schemas/{model}"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _object(properties: dict[str, Any], *, required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
    }


INT = {"type": "integer"}
STR = {"type": "string"}
TIME = {"type": "string", "format": "date-time"}
NUMBER = {"type": "number"}
BOOL = {"type": "boolean"}
USAGE_COUNTERS = {
    "requests": INT,
    "input_tokens": INT,
    "output_tokens": INT,
    "cache_creation_input_tokens": INT,
    "cache_read_input_tokens": INT,
    "cost_usd": NUMBER,
    **{name: INT for name in MODEL_ERROR_COUNTERS},
}

RESPONSE_SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": _object(
        {
            "error": _object(
                {
                    "code": STR,
                    "message": STR,
                    "field": {**STR, "description": "validation errors: the offending field"},
                    "status": {**STR, "description": "wrong-state errors: the current status"},
                },
                required=["code", "message"],
            )
        }
    ),
    "Host": _object(
        {
            "index": INT,
            "name": STR,
            "status": {"enum": ["pending", "creating", "ready", "failed", "lost", "deleted"]},
            "endpoint": _nullable(STR),
            "seat_first": INT,
            "seat_last": INT,
            "error": _nullable(STR),
            "timings": {"type": "object", "additionalProperties": STR},
        }
    ),
    "Workshop": _object(
        {
            "id": STR,
            "name": STR,
            "code": STR,
            "seats": INT,
            "seats_per_host": INT,
            "status": {
                "enum": ["created", "provisioning", "running", "stopping", "stopped", "failed"]
            },
            "owner": STR,
            "created_at": TIME,
            "updated_at": TIME,
            "error": _nullable(STR),
            "attempt": INT,
            "model_paused": {"type": "boolean"},
            "paused_seats": {
                "type": "array",
                "items": INT,
                "description": "seats whose model access alone is paused",
            },
            "model_policy": {"type": "object"},
            "hosts": {"type": "array", "items": _ref("Host")},
            "schedule": _nullable(_ref("Schedule")),
            "stopped_at": _nullable(TIME),
            "cost": _nullable(_ref("Cost")),
        }
    ),
    "Schedule": _object(
        {
            "starts_at": _nullable(TIME),
            "ends_at": TIME,
            "warmup_minutes": INT,
            "warmup_at": _nullable(TIME),
            "join_opens_at": _nullable(TIME),
            "end_grace_minutes": INT,
            "grace_ends_at": TIME,
            "phase": {"enum": ["before", "open", "ending", "grace", "over"]},
        }
    ),
    "CostFigures": _object(
        {
            "kind": {"enum": ["estimate", "so_far", "final"]},
            "hosts": INT,
            "vm_hours": NUMBER,
            "vm_usd": {**_nullable(NUMBER), "description": "null: no price for this machine"},
            "model_usd": {
                **_nullable(NUMBER),
                "description": "estimate: the model budget ceiling (null: unlimited);"
                " so far / final: model spend reported by the hosts",
            },
            "total_usd": _nullable(NUMBER),
            "pricing": _object(
                {
                    "machine_type": STR,
                    "region": STR,
                    "spot": {"type": "boolean"},
                    "usd_per_hour": _nullable(NUMBER),
                    "source": STR,
                    "as_of": STR,
                }
            ),
        }
    ),
    "Cost": _object(
        {
            "estimate": _nullable(_ref("CostFigures")),
            "so_far": _nullable(_ref("CostFigures")),
            "final": _nullable(_ref("CostFigures")),
        }
    ),
    "LearnerSchedule": _object(
        {
            "ends_at": TIME,
            "grace_ends_at": TIME,
            "warning_minutes": {"type": "array", "items": INT},
            "server_time": TIME,
        }
    ),
    "WorkshopEnvelope": _object({"workshop": _ref("Workshop")}),
    "WorkshopPage": _object(
        {"workshops": {"type": "array", "items": _ref("Workshop")}, "next_cursor": _nullable(STR)}
    ),
    "SeatClaim": _object(
        {
            "seat": INT,
            "host": INT,
            "joined_at": TIME,
            "last_seen": TIME,
            "display_name": {
                **_nullable(STR),
                "description": "the learner's name as given at join (show it as text)",
            },
        }
    ),
    "SeatList": _object(
        {
            "seats": {
                "type": "array",
                "items": _ref("SeatClaim"),
            }
        }
    ),
    "Usage": _object(
        {
            "seats": {"type": "array", "items": _object({"seat": INT, **USAGE_COUNTERS})},
            "totals": _object(USAGE_COUNTERS),
        }
    ),
    "WorkshopRef": _object({"id": STR, "name": STR}),
    "JoinGrant": _object(
        {
            "token": {**STR, "description": "learner JWT (RS256), sent as a Bearer token"},
            "endpoint": {**STR, "description": "base URL of the seat's workspace agent"},
            "seat": INT,
            "host": INT,
            "reconnect_code": {**STR, "description": "shown once; rejoins this seat"},
            "workshop": _ref("WorkshopRef"),
            "schedule": _nullable(_ref("LearnerSchedule")),
            "broadcast": _nullable(_ref("LearnerBroadcast")),
        }
    ),
    "LearnerBroadcast": _object({"message": STR, "sent_at": STR}),
    "ShadowGrant": _object(
        {
            "token": STR,
            "expires_in": INT,
            "workshop": _ref("WorkshopRef"),
            "hosts": {
                "type": "array",
                "items": _object(
                    {
                        "index": INT,
                        "endpoint": _nullable(STR),
                        "seat_first": INT,
                        "seat_last": INT,
                    }
                ),
            },
        }
    ),
    "Room": _object(
        {
            "workshop": _ref("Workshop"),
            "seats": {
                "type": "array",
                "items": _object(
                    {
                        "seat": INT,
                        "claimed": {"type": "boolean"},
                        "claim": _nullable(_ref("SeatClaim")),
                        "requests": INT,
                        "tokens": INT,
                        "cost_usd": NUMBER,
                        "budget_usd": _nullable(NUMBER),
                        "budget_share": _nullable(NUMBER),
                        "model_paused": {
                            **BOOL,
                            "description": "this seat's model access alone is paused",
                        },
                        "errors": {
                            **_object({name: INT for name in MODEL_ERROR_COUNTERS}),
                            "description": "model errors counted by the seat's gateway",
                        },
                    }
                ),
            },
            "totals": _object(USAGE_COUNTERS),
            "broadcast": _nullable(_object({"message": STR, "sent_at": TIME, "by": STR})),
            "policy": {
                "type": "object",
                "description": "the model policy in force (defaults filled in)",
            },
        }
    ),
    "BroadcastSent": _object(
        {
            "broadcast": _object({"message": STR, "sent_at": TIME, "by": STR}),
            "hosts": {
                "type": "object",
                "additionalProperties": {"type": "boolean"},
                "description": "host index -> whether the host took it now",
            },
        }
    ),
    "ModelAccessSet": _object(
        {
            "workshop": _ref("Workshop"),
            "seat": INT,
            "paused": {"type": "boolean"},
            "host": INT,
            "host_told": {"type": "boolean"},
        },
        required=["workshop"],
    ),
    "PolicyChanged": _object(
        {
            "workshop": _ref("Workshop"),
            "hosts": {
                "type": "object",
                "additionalProperties": {"type": "boolean"},
                "description": "host index -> whether the host applied it now",
            },
        }
    ),
    "SeatReleased": _object({"seat": INT, "host": INT, "host_told": {"type": "boolean"}}),
    "SeatReset": _object({"seat": INT, "host": INT}),
    "Deleted": _object({"deleted": STR}),
    "HostCredentials": {
        "oneOf": [
            _object(
                {
                    "api_key": {
                        **STR,
                        "description": "the calling host's workshop Anthropic key (only ever here)",
                    }
                }
            ),
            _object(
                {
                    "certificate_pem": {**STR, "description": "chain, leaf first (PEM)"},
                    "private_key_pem": {**STR, "description": "the certificate's key (PEM)"},
                    "names": {"type": "array", "items": STR},
                    "not_after": TIME,
                }
            ),
        ]
    },
    "Jwks": _object({"keys": {"type": "array", "items": {"type": "object"}}}),
    "Health": _object({"status": {"const": "ok"}}),
    "HostEventAccepted": _object({"message_id": {"type": "string"}}),
    "Content": _object(
        {
            "title": STR,
            "description": _nullable(STR),
            "files": INT,
            "bytes": INT,
            "steps": {
                "type": "array",
                "items": _object({"id": STR, "title": STR, "check": {"type": "boolean"}}),
            },
        }
    ),
    "ContentStored": _object({"content": _ref("Content")}),
    "Progress": _object(
        {
            "content": _nullable(_ref("Content")),
            "seats": {
                "type": "array",
                "items": _object(
                    {
                        "seat": INT,
                        "step": INT,
                        "checks_passed": {"type": "array", "items": STR},
                    }
                ),
            },
            "histogram": {
                "type": "array",
                "items": _object({"step": INT, "id": STR, "title": STR, "seats": INT}),
            },
        }
    ),
    "OpenApi": {"type": "object", "required": ["openapi", "paths"]},
}

# route name -> (summary, request model, success status, success schema, error statuses)
OPERATIONS: dict[str, tuple[str, type | None, int, str, tuple[int, ...]]] = {
    "health": ("Liveness check", None, 200, "Health", ()),
    "jwks": ("Public keys that verify learner tokens", None, 200, "Jwks", ()),
    "openapi": ("This document", None, 200, "OpenApi", ()),
    "join": (
        "Join a running workshop (new seat or reconnect)",
        Join,
        200,
        "JoinGrant",
        (400, 404, 409, 429, 503),
    ),
    "host_credentials": (
        "A host VM's workshop API key or the deployment TLS certificate, for a GCE instance"
        " identity token (hosts only)",
        HostCredentialsRequest,
        200,
        "HostCredentials",
        (401, 403, 404, 429, 503),
    ),
    "host_events": (
        "A host reports host.ready/failed/usage about itself (identity token or host token)",
        None,
        202,
        "HostEventAccepted",
        (400, 401, 403, 429, 503),
    ),
    "host_content": (
        "The calling host's workshop content pack as a zip; 204 if it has none (hosts only)",
        None,
        200,
        "ContentZip",
        (400, 401, 403, 404, 429, 503),
    ),
    "create_workshop": ("Create a workshop", CreateWorkshop, 201, "WorkshopEnvelope", (400, 503)),
    "put_content": (
        "Upload the workshop's content pack (a zip, docs/content-packs.md); before start only."
        " An invalid pack is 400 invalid_content_pack naming the file and field",
        None,
        200,
        "ContentStored",
        (400, 404, 409, 503),
    ),
    "get_progress": (
        "Learners' progress through the content pack: per seat and a per-step histogram",
        None,
        200,
        "Progress",
        (404,),
    ),
    "list_workshops": (
        "List the caller's workshops (admins: all)",
        None,
        200,
        "WorkshopPage",
        (400,),
    ),
    "get_workshop": ("One workshop", None, 200, "WorkshopEnvelope", (404,)),
    "start_workshop": (
        "Start provisioning (publishes workshop.start_requested)",
        None,
        202,
        "WorkshopEnvelope",
        (404, 409, 503),
    ),
    "stop_workshop": (
        "Stop (publishes workshop.stop_requested)",
        None,
        202,
        "WorkshopEnvelope",
        (404, 409, 503),
    ),
    "change_schedule": (
        "Extend, move or end the workshop's schedule (one of ends_at, extend_minutes, end_now)",
        ChangeSchedule,
        200,
        "WorkshopEnvelope",
        (400, 404, 409),
    ),
    "list_seats": ("Claimed seats", None, 200, "SeatList", (404,)),
    "get_usage": ("Model usage per seat and totals", None, 200, "Usage", (404,)),
    "set_model_access": (
        "Pause or resume model access, of every seat or (with seat) of one seat",
        ModelAccess,
        200,
        "ModelAccessSet",
        (400, 404, 501, 503),
    ),
    "set_model_policy": (
        "Replace the model policy (per-seat budgets and rate limits); running hosts apply it"
        " at once",
        ChangeModelPolicy,
        200,
        "PolicyChanged",
        (400, 404),
    ),
    "shadow_token": (
        "Instructor token for read-only terminal shadowing",
        None,
        200,
        "ShadowGrant",
        (404, 409),
    ),
    "broadcast": (
        "Show a message on every learner page (plain text, 1-500 characters; kept for"
        " learners who join later)",
        Broadcast,
        200,
        "BroadcastSent",
        (404,),
    ),
    "release_seat": (
        "Free a seat for someone else; its learner's token and reconnect code stop working",
        ReleaseSeat,
        200,
        "SeatReleased",
        (404,),
    ),
    "reset_seat": (
        "Reset a seat: a fresh shell and an empty workspace (503 if its host is unreachable)",
        ResetSeat,
        200,
        "SeatReset",
        (404, 503),
    ),
    "delete_workshop": (
        "Delete a created or stopped workshop with its seats, usage and API key",
        None,
        200,
        "Deleted",
        (404, 409),
    ),
    "get_room": (
        "Cockpit snapshot: workshop, hosts, cost so far and every seat with its usage",
        None,
        200,
        "Room",
        (404,),
    ),
}

ERROR_DESCRIPTIONS = {
    400: "Invalid request (the field is named)",
    401: "Missing, invalid or expired token",
    403: "A valid token, but not for a ClaraTeach host of this deployment",
    404: "Not found (or not yours)",
    405: "Method not allowed",
    409: "Wrong state (current status given), workshop full, doors not open or ended,"
    " or over the deployment's cost ceiling",
    413: "Request body too large",
    429: "Too many failed attempts",
    501: "Not available in this build",
    503: "A dependency is unavailable; retry",
}


def _success(schema: str) -> dict[str, Any]:
    if schema == "ContentZip":
        binary = {"type": "string", "format": "binary"}
        return {"description": "Success", "content": {"application/zip": {"schema": binary}}}
    return {"description": "Success", "content": {"application/json": {"schema": _ref(schema)}}}


def _error_response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": ERROR_DESCRIPTIONS[status],
        "content": {"application/json": {"schema": _ref("Error")}},
    }
    if status == 429:
        response["headers"] = {"Retry-After": {"schema": INT, "required": True}}
    return response


def _operation(route: Route) -> dict[str, Any]:
    summary, body_model, status, schema, errors = OPERATIONS[route.name]
    statuses = set(errors) | {405, 413}
    if route.instructor:
        statuses.add(401)
    if body_model is not None:
        statuses.add(400)
    operation: dict[str, Any] = {
        "operationId": route.name,
        "summary": summary,
        "tags": ["instructor" if route.instructor else "public"],
        "responses": {
            str(status): _success(schema),
            **{str(code): _error_response(code) for code in sorted(statuses)},
        },
    }
    if route.instructor:
        operation["security"] = [{"bearer": []}]
    if route.name in ("host_credentials", "host_events", "host_content"):
        operation["security"] = [{"hostIdentity": []}]
    if route.name == "host_content":
        operation["responses"]["204"] = {"description": "The workshop has no content pack"}
        operation["parameters"] = [
            {"name": name, "in": "query", "required": True, "schema": schema_}
            for name, schema_ in (
                ("workshop_id", {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"}),
                ("host_index", {"type": "string", "pattern": "^[0-9]{1,6}$"}),
                ("attempt", {"type": "string", "pattern": "^[0-9]{1,6}$"}),
            )
        ]
    if route.name == "put_content":
        operation["requestBody"] = {
            "required": True,
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
        }
    if body_model is not None:
        operation["requestBody"] = {
            # host_credentials: an empty body asks for the API key (hosts of older images).
            "required": route.name != "host_credentials",
            "content": {"application/json": {"schema": _ref(body_model.__name__)}},
        }
    parameters = []
    if "{workshop_id}" in route.template:
        parameters.append(
            {
                "name": "workshop_id",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
            }
        )
    if route.name == "list_workshops":
        parameters += [
            {
                "name": "limit",
                "in": "query",
                "schema": {"type": "integer", "minimum": 1, "maximum": 200},
            },
            {"name": "cursor", "in": "query", "schema": {"type": "string", "maxLength": 1024}},
        ]
    if parameters:
        operation["parameters"] = parameters
    return operation


REQUEST_MODELS = (
    CreateWorkshop, Join, ModelAccess, ChangeSchedule, Broadcast, ReleaseSeat, ResetSeat,
    HostCredentialsRequest,
    ChangeModelPolicy,
)  # fmt: skip


@cache
def openapi_document() -> dict[str, Any]:
    """The whole document (built once per process)."""
    _, request_defs = models_json_schema(
        [(m, "validation") for m in REQUEST_MODELS],
        ref_template=REF,
    )
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.template, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ClaraTeach API",
            "version": "1",
            "description": "Instructor control plane and learner join (docs/protocol.md §1). "
            'Every error body is {"error": {"code", "message"}}.',
        },
        "paths": paths,
        "components": {
            "schemas": {**request_defs.get("$defs", {}), **RESPONSE_SCHEMAS},
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "Local: the admin token. GCP: a Google ID token.",
                },
                "hostIdentity": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A GCE instance identity token (format=full) whose "
                    "audience is the host-credentials URL; host VMs only.",
                },
            },
        },
    }
