"""Cockpit commands: ``workshop watch``, ``broadcast``, ``hands``, the seat actions
(``release-seat``, ``reset-seat``) and ``pause-model`` / ``resume-model`` (docs/cockpit.md).

They use the same API routes and auth as the web cockpit: ``GET …/room`` for the grid,
``POST …/broadcast``, and a shadow token (``POST …/shadow-token``) to read each live host's
``GET /control/activity`` and to mark a raised hand done (``DELETE /control/hands/{seat}``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any

import httpx
import typer
from rich.live import Live

from clarateach import render_cockpit
from clarateach.api_client import ApiClient
from clarateach.cli import (
    EXIT_API_ERROR,
    ApiUrlOpt,
    AudienceOpt,
    BudgetOpt,
    JsonOpt,
    LimitFlags,
    MaxInOpt,
    MaxOutOpt,
    PolicyFileOpt,
    RpmOpt,
    StateDirOpt,
    TokenOpt,
    WorkshopIdArg,
    _Connection,
    _emit,
    _fail,
    _handled,
    read_policy_file,
    stdout,
    workshop_app,
)
from shared.domain.model_policy import ModelPolicy

AGENT_TIMEOUT_SECONDS = 3.0


def _path(workshop_id: str, action: str) -> str:
    return f"/api/workshops/{workshop_id}/{action}"


def live_activity(
    client: ApiClient, workshop_id: str, room: dict[str, Any], http: httpx.Client
) -> dict[int, dict[str, Any]]:
    """Every ready host's ``/control/activity`` by seat; unreachable hosts are skipped."""
    hosts = [h for h in room["workshop"]["hosts"] if h["status"] == "ready" and h["endpoint"]]
    if not hosts or room["workshop"]["status"] not in ("running", "provisioning"):
        return {}
    token = client.request("POST", _path(workshop_id, "shadow-token"), operation="shadow_token")[
        "token"
    ]
    merged: dict[int, dict[str, Any]] = {}
    for host in hosts:
        try:
            response = http.get(
                f"{host['endpoint'].rstrip('/')}/control/activity",
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.HTTPError:
            continue
        if response.status_code == 200:
            for seat, value in response.json().get("seats", {}).items():
                merged[int(seat)] = value
    return merged


@workshop_app.command("watch")
def watch(
    workshop_id: WorkshopIdArg,
    interval: Annotated[
        float, typer.Option("--interval", min=1.0, max=60.0, help="Seconds between updates.")
    ] = 2.0,
    once: Annotated[bool, typer.Option("--once", help="Print one snapshot and exit.")] = False,
    all_seats: Annotated[bool, typer.Option("--all", help="Show free seats too.")] = False,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
    state_dir: StateDirOpt = None,
    audience: AudienceOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Live table of the room: state, idle time, what runs, model spend, raised hands."""
    with (
        _handled(json_output),
        _Connection(api_url, token, state_dir, audience).client() as client,
        httpx.Client(timeout=AGENT_TIMEOUT_SECONDS) as http,
    ):

        def snapshot() -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
            room = client.request("GET", _path(workshop_id, "room"), operation="get_room")
            return room, live_activity(client, workshop_id, room, http)

        if once or json_output:
            room, activity = snapshot()
            body = {**room, "activity": {str(k): v for k, v in activity.items()}}
            _emit(
                body,
                json_output,
                lambda: render_cockpit.room_table(room, activity, claimed_only=not all_seats),
            )
            return
        room, activity = snapshot()
        render = render_cockpit.room_table
        with Live(render(room, activity, claimed_only=not all_seats), console=stdout) as live:
            while True:
                time.sleep(interval)
                room, activity = snapshot()
                live.update(render(room, activity, claimed_only=not all_seats))


@workshop_app.command("broadcast")
def broadcast(
    workshop_id: WorkshopIdArg,
    message: Annotated[str, typer.Argument(help="Plain text, 1-500 characters.")],
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
    state_dir: StateDirOpt = None,
    audience: AudienceOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Show a message on every learner's page (kept for learners who join later)."""
    with _handled(json_output):
        with _Connection(api_url, token, state_dir, audience).client() as client:
            body = client.request(
                "POST",
                _path(workshop_id, "broadcast"),
                operation="broadcast",
                json={"message": message},
            )
        told = sum(1 for ok in body["hosts"].values() if ok)
        _emit(
            body,
            json_output,
            lambda: f"Broadcast sent; {told} of {len(body['hosts'])} host(s) showing it now.",
        )


@workshop_app.command("hands")
def hands(
    workshop_id: WorkshopIdArg,
    done: Annotated[
        int | None, typer.Option("--done", help="Mark this seat's raised hand done.", min=1)
    ] = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
    state_dir: StateDirOpt = None,
    audience: AudienceOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """The help queue (raised hands, longest wait first); ``--done SEAT`` clears one."""
    with (
        _handled(json_output),
        _Connection(api_url, token, state_dir, audience).client() as client,
        httpx.Client(timeout=AGENT_TIMEOUT_SECONDS) as http,
    ):
        room = client.request("GET", _path(workshop_id, "room"), operation="get_room")
        if done is not None:
            _hand_done(client, workshop_id, room, http, done, json_output)
        activity = live_activity(client, workshop_id, room, http)
        queue = sorted(
            ((seat, a["hand"]) for seat, a in activity.items() if a.get("hand")),
            key=lambda item: -float(item[1].get("waited") or 0),
        )
        body = {"hands": [{"seat": seat, **hand} for seat, hand in queue]}
        _emit(body, json_output, lambda: render_cockpit.hands_table(queue))


def _hand_done(
    client: ApiClient,
    workshop_id: str,
    room: dict[str, Any],
    http: httpx.Client,
    seat: int,
    json_output: bool,
) -> None:
    host = next(
        (h for h in room["workshop"]["hosts"] if h["seat_first"] <= seat <= h["seat_last"]), None
    )
    if seat > room["workshop"]["seats"] or host is None or not host["endpoint"]:
        _fail(EXIT_API_ERROR, f"seat {seat} is not a live seat of this workshop", json_output)
    token = client.request("POST", _path(workshop_id, "shadow-token"), operation="shadow_token")[
        "token"
    ]
    try:
        response = http.delete(
            f"{host['endpoint'].rstrip('/')}/control/hands/{seat}",
            headers={"Authorization": f"Bearer {token}"},
        )
    except httpx.HTTPError:
        _fail(EXIT_API_ERROR, f"seat {seat}'s host did not answer", json_output)
    if response.status_code not in (204, 404):
        _fail(
            EXIT_API_ERROR, f"seat {seat}'s host answered HTTP {response.status_code}", json_output
        )


def _seat_action(
    workshop_id: str,
    conn: _Connection,
    json_output: bool,
    *,
    action: str,
    operation: str,
    body: dict[str, Any],
    confirm: str | None,
    done: Callable[[dict[str, Any]], str],
) -> None:
    """One instructor action: ask ``confirm`` first (unless ``None`` or --json), ``POST
    …/{action}`` with ``body``, print ``done(answer)``."""
    with _handled(json_output):
        with conn.client() as client:
            if confirm is not None and not json_output:
                typer.confirm(confirm, abort=True)
            answer = client.request(
                "POST", _path(workshop_id, action), operation=operation, json=body
            )
        _emit(answer, json_output, lambda: done(answer))


def _not_told(answer: dict[str, Any], later: str) -> str:
    return "" if answer.get("host_told", True) else f" (its host was not reached; {later})"


@workshop_app.command("release-seat")
def release_seat(
    workshop_id: WorkshopIdArg,
    seat: Annotated[int, typer.Argument(help="The seat to free.", min=1, max=500)],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
    state_dir: StateDirOpt = None,
    audience: AudienceOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Free a seat for someone else: its learner's token and reconnect code stop working."""
    _seat_action(
        workshop_id, _Connection(api_url, token, state_dir, audience), json_output,
        action="release-seat", operation="release_seat", body={"seat": seat},
        confirm=None if yes else (
            f"Release seat {seat}? Its learner is disconnected and cannot rejoin it."
        ),
        done=lambda answer: f"Seat {seat} released"
        f"{_not_told(answer, 'it refuses the token once told')}.",
    )  # fmt: skip


@workshop_app.command("reset-seat")
def reset_seat(
    workshop_id: WorkshopIdArg,
    seat: Annotated[int, typer.Argument(help="The seat to reset.", min=1, max=500)],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
    state_dir: StateDirOpt = None,
    audience: AudienceOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """A fresh shell and an empty workspace for one seat (its learner keeps the seat)."""
    _seat_action(
        workshop_id, _Connection(api_url, token, state_dir, audience), json_output,
        action="reset-seat", operation="reset_seat", body={"seat": seat},
        confirm=None if yes else (
            f"Reset seat {seat}? Its shell restarts and every file in its workspace is deleted."
        ),
        done=lambda _: f"Seat {seat} reset: fresh shell, empty workspace.",
    )  # fmt: skip


SeatOpt = Annotated[
    int | None,
    typer.Option("--seat", min=1, max=500, help="Only this seat (default: every seat)."),
]


def _model_access(
    workshop_id: str, paused: bool, seat: int | None, conn: _Connection, json_output: bool
) -> None:
    word = "paused" if paused else "resumed"
    body: dict[str, Any] = {"paused": paused}
    if seat is not None:
        body["seat"] = seat
    _seat_action(
        workshop_id, conn, json_output,
        action="model-access", operation="set_model_access", body=body, confirm=None,
        done=lambda answer: (
            f"Model access {word} for every seat of {workshop_id}."
            if seat is None
            else f"Model access {word} for seat {seat}"
            f"{_not_told(answer, 'it applies once the host is told or restarts')}."
        ),
    )  # fmt: skip


@workshop_app.command("pause-model")
def pause_model(
    workshop_id: WorkshopIdArg,
    seat: SeatOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
    state_dir: StateDirOpt = None,
    audience: AudienceOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Kill switch: refuse model requests (of every seat, or of --seat N) until resume-model."""
    conn = _Connection(api_url, token, state_dir, audience)
    _model_access(workshop_id, True, seat, conn, json_output)


@workshop_app.command("resume-model")
def resume_model(
    workshop_id: WorkshopIdArg,
    seat: SeatOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
    state_dir: StateDirOpt = None,
    audience: AudienceOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Allow model requests again: of every seat (also lifting single-seat pauses), or of
    --seat N."""
    conn = _Connection(api_url, token, state_dir, audience)
    _model_access(workshop_id, False, seat, conn, json_output)


@workshop_app.command("policy")
def policy(
    workshop_id: WorkshopIdArg,
    policy_file: PolicyFileOpt = None,
    budget_usd: BudgetOpt = None,
    requests_per_minute: RpmOpt = None,
    max_input_tokens: MaxInOpt = None,
    max_output_tokens: MaxOutOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
    state_dir: StateDirOpt = None,
    audience: AudienceOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Show the model policy; with --policy-file and/or limit flags, change it (also while
    the workshop runs: hosts apply it to the next model request)."""
    limits = LimitFlags(budget_usd, requests_per_minute, max_input_tokens, max_output_tokens)
    with _handled(json_output):
        with _Connection(api_url, token, state_dir, audience).client() as client:
            if policy_file is None and not limits.given():
                current = _effective(client.get_workshop(workshop_id)["model_policy"])
                _emit(
                    {"model_policy": current},
                    json_output,
                    lambda: render_cockpit.policy_lines(current),
                )
                return
            base = (
                read_policy_file(policy_file, json_output)
                if policy_file is not None
                else _effective(client.get_workshop(workshop_id)["model_policy"])
            )
            answer = client.request(
                "POST",
                _path(workshop_id, "model-policy"),
                operation="set_model_policy",
                json={"model_policy": limits.apply(base)},
            )
        told = sum(1 for ok in answer["hosts"].values() if ok)
        _emit(
            answer,
            json_output,
            lambda: (
                f"Model policy of {workshop_id} changed; "
                f"{told} of {len(answer['hosts'])} host(s) applied it now."
            ),
        )


def _effective(stored: dict[str, Any] | None) -> dict[str, Any]:
    """The policy in force: a workshop created without one has the platform's default."""
    return ModelPolicy.model_validate(stored or {}).model_dump(mode="json")


@workshop_app.command("delete")
def delete(
    workshop_id: WorkshopIdArg,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
    state_dir: StateDirOpt = None,
    audience: AudienceOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Delete a created or stopped workshop with its seats, usage and API key."""
    with _handled(json_output):
        with _Connection(api_url, token, state_dir, audience).client() as client:
            if not yes and not json_output:
                typer.confirm(f"Delete workshop {workshop_id} and its seats for good?", abort=True)
            body = client.request(
                "DELETE", f"/api/workshops/{workshop_id}", operation="delete_workshop"
            )
        _emit(body, json_output, lambda: f"Workshop {workshop_id} deleted.")
