"""The ``clarateach`` command line: instructor commands and the local platform.

    clarateach workshop create | list | info | start | stop | seats | usage | extend | end
    clarateach workshop pause-model | resume-model | shadow-token | logs
    clarateach local up [--port 8080] [--demo]
    clarateach loadtest --learners N [--over S | --burst] [--local | --create | --workshop ID]

Every ``workshop`` command takes ``--json`` (the API body on stdout, nothing else) and the
connection options ``--api-url``, ``--token``, ``--state-dir``, ``--audience``; their
precedence is documented in ``clarateach.credentials``.

Exit codes (scripts can rely on them):
    0 success                      1 the API refused (its error message is printed)
    2 bad command-line usage       3 the API cannot be reached
    4 no credentials               5 ``start --wait``: the workshop failed or was stopped
    6 ``start --wait`` timed out   70 internal error (a bug; CLARATEACH_DEBUG=1 shows it)
    130 interrupted (Ctrl-C)

Errors go to stderr (as ``{"error": {...}}`` JSON with ``--json``); no traceback is shown.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text

from clarateach import host_logs, render, render_schedule
from clarateach.api_client import ApiClient, ApiError, ApiUnreachable
from clarateach.cli_name import hint
from clarateach.credentials import (
    CredentialsError,
    is_local_url,
    resolve_api_url,
    resolve_credentials,
)
from clarateach.schedule_cli import ScheduleOptionError, parse_time, schedule_body
from shared.domain.capacity import HostShape, hosts_for, needs
from shared.domain.cockpit import MODEL_ERROR_COUNTERS
from shared.domain.model_policy import ModelPolicy
from shared.settings import default_state_dir

EXIT_API_ERROR = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_NO_CREDENTIALS = 4
EXIT_WORKSHOP_FAILED = 5
EXIT_WAIT_TIMEOUT = 6
EXIT_INTERRUPTED = 130

app = typer.Typer(
    help="ClaraTeach: hands-on Claude Code workshops.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
workshop_app = typer.Typer(help="Create, run and inspect workshops.", no_args_is_help=True)
local_app = typer.Typer(help="Run the whole platform on this machine.", no_args_is_help=True)
app.add_typer(workshop_app, name="workshop")
app.add_typer(local_app, name="local")

ApiUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--api-url",
        envvar="CLARATEACH_API_URL",
        help="API base URL. Default: the running local platform, else http://127.0.0.1:8080.",
        show_default=False,
    ),
]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="CLARATEACH_TOKEN",
        help="Instructor bearer token (prefer the environment variable: argv is visible "
        "to other local users). Default: the local admin token, or a Google ID token.",
        show_default=False,
    ),
]
StateDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--state-dir",
        envvar="CLARATEACH_STATE_DIR",
        help="Local platform state directory (holds admin-token). "
        "Default: $XDG_STATE_HOME/clarateach or ~/.local/state/clarateach.",
        show_default=False,
    ),
]
AudienceOpt = Annotated[
    str | None,
    typer.Option(
        "--audience",
        envvar="CLARATEACH_INSTRUCTOR_AUDIENCE",
        help="GCP: audience of the Google ID token. Default: the API URL.",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the API's JSON body only.")]
WorkshopIdArg = Annotated[str, typer.Argument(help="Workshop id (see `workshop list`).")]

stdout = Console(highlight=False)
stderr = Console(stderr=True, highlight=False)


# --------------------------------------------------------------------------- plumbing
class _Connection:
    """The resolved connection options of one command invocation."""

    def __init__(
        self, api_url: str | None, token: str | None, state_dir: Path | None, audience: str | None
    ) -> None:
        self.api_url, self.token, self.audience = api_url, token, audience
        self.state_dir = (state_dir or default_state_dir()).expanduser()

    def client(self) -> ApiClient:
        creds = resolve_credentials(
            self.api_url,
            self.token,
            self.state_dir,
            self.audience,
            os.environ.get("CLARATEACH_API_URLS") or None,
        )
        return ApiClient(creds.api_url, creds.token, function_urls=creds.function_urls)


def _fail(
    code: int,
    message: str,
    json_output: bool,
    error: dict[str, Any] | None = None,
    error_code: str = "cli_error",
) -> NoReturn:
    if json_output:
        body = error or {"error": {"code": error_code, "message": message}}
        sys.stderr.write(json.dumps(body) + "\n")
    else:
        stderr.print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(code)


@contextmanager
def _handled(json_output: bool) -> Iterator[None]:
    """Turn every expected failure into a message and an exit code, never a traceback."""
    try:
        yield
    except ApiError as exc:
        _fail(EXIT_API_ERROR, str(exc), json_output, exc.as_json())
    except ApiUnreachable as exc:
        start = f" Start it with `{hint('local up')}`." if is_local_url(exc.base_url) else ""
        _fail(EXIT_UNREACHABLE, f"{exc}.{start}", json_output, error_code="api_unreachable")
    except CredentialsError as exc:
        _fail(EXIT_NO_CREDENTIALS, str(exc), json_output, error_code="no_credentials")
    except KeyboardInterrupt:
        _fail(EXIT_INTERRUPTED, "interrupted", json_output)


def _emit(body: Any, json_output: bool, human: Callable[[], Any]) -> None:
    if json_output:
        sys.stdout.write(json.dumps(body, indent=2, sort_keys=True) + "\n")
    else:
        rendered = human()
        if rendered is not None:
            stdout.print(rendered)


# --------------------------------------------------------------------------- API key
API_KEY_ENV = "ANTHROPIC_API_KEY"


def read_api_key(api_key_file: Path | None, json_output: bool) -> str:
    """The workshop's Anthropic key: ``--api-key-file`` (``-`` = stdin), then
    ``ANTHROPIC_API_KEY``, then a hidden prompt on a terminal. Never from argv, never echoed.
    """
    if api_key_file is not None:
        if str(api_key_file) == "-":
            return sys.stdin.readline().strip()
        try:
            mode = api_key_file.stat().st_mode
            key = api_key_file.read_text().strip()
        except OSError as exc:
            _fail(
                EXIT_API_ERROR,
                f"cannot read --api-key-file {api_key_file}: {exc.strerror}",
                json_output,
            )
        if mode & (stat.S_IRGRP | stat.S_IROTH):
            stderr.print(
                f"[yellow]warning:[/] {api_key_file} is readable by other users (chmod 600 it)"
            )
        return key
    if os.environ.get(API_KEY_ENV):
        return os.environ[API_KEY_ENV].strip()
    if sys.stdin.isatty():
        return str(typer.prompt("Anthropic API key (input hidden)", hide_input=True)).strip()
    _fail(
        EXIT_API_ERROR,
        f"no API key: pass --api-key-file PATH (or - for stdin) or set {API_KEY_ENV}",
        json_output,
    )


def _read_json_file(path: Path, what: str, json_output: bool) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        _fail(2, f"cannot read {what} {path}: {exc}", json_output)


def read_policy_file(path: Path, json_output: bool) -> dict[str, Any]:
    """A ``ModelPolicy`` file: TOML if it ends in ``.toml``, else JSON (docs/gateway.md)."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        _fail(2, f"cannot read the model policy file {path}: {exc}", json_output)
    try:
        policy = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        kind = "TOML" if path.suffix.lower() == ".toml" else "JSON"
        _fail(2, f"the model policy file {path} is not valid {kind}: {exc}", json_output)
    if not isinstance(policy, dict):
        _fail(2, "the model policy file must hold an object (a table in TOML)", json_output)
    return policy


@dataclass(frozen=True)
class LimitFlags:
    """``--budget-usd`` and friends: per-seat defaults layered over the policy (file or
    current); ``None`` leaves a limit as it is."""

    budget_usd: float | None = None
    requests_per_minute: int | None = None
    max_input_tokens: int | None = None
    max_output_tokens: int | None = None

    def given(self) -> dict[str, float | int]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    def apply(self, policy: dict[str, Any]) -> dict[str, Any]:
        """``policy`` with the given limits set in its ``defaults`` (a policy without
        ``defaults`` starts from the platform's: 60 requests per minute, else unlimited)."""
        if not self.given():
            return policy
        if "defaults" in policy:
            defaults = dict(policy["defaults"] or {})
        else:
            defaults = ModelPolicy().defaults.model_dump(mode="json")
        defaults.update(self.given())
        return {**policy, "defaults": defaults}


BudgetOpt = Annotated[
    float | None, typer.Option("--budget-usd", min=0, help="Model budget per seat (USD).")
]
RpmOpt = Annotated[
    int | None,
    typer.Option("--requests-per-minute", min=1, help="Model requests per minute per seat."),
]
MaxInOpt = Annotated[
    int | None, typer.Option("--max-input-tokens", min=0, help="Input tokens per seat, in all.")
]
MaxOutOpt = Annotated[
    int | None,
    typer.Option("--max-output-tokens", min=0, help="Output tokens per seat, in all."),
]
PolicyFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--policy-file",
        "--model-policy-file",
        help="ModelPolicy as TOML (.toml) or JSON: limits, budgets, seat_overrides, prices,"
        " claude_code (docs/gateway.md). Flags such as --budget-usd apply on top.",
    ),
]


def model_policy_from_options(
    policy_file: Path | None,
    default_model: str | None,
    allow_model: list[str] | None,
    claude_md: Path | None,
    claude_settings: Path | None,
    json_output: bool,
    limits: LimitFlags = LimitFlags(),
) -> dict[str, Any] | None:
    """The ``model_policy`` of ``workshop create``: the file's, with the limit flags and the
    Claude Code options on top; ``None`` when no option was given (the server's default
    policy). The server validates it (400 naming the field)."""
    if not any((policy_file, default_model, allow_model, claude_md, claude_settings)) and not (
        limits.given()
    ):
        return None
    policy = read_policy_file(policy_file, json_output) if policy_file else {}
    policy = limits.apply(policy)
    claude = dict(policy.get("claude_code") or {})
    if default_model:
        claude["default_model"] = default_model
    if allow_model:
        claude["allowed_models"] = list(allow_model)
    if claude_md:
        try:
            claude["claude_md"] = claude_md.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            _fail(2, f"cannot read {claude_md}: {exc}", json_output)
    if claude_settings:
        claude["settings"] = _read_json_file(claude_settings, "settings", json_output)
    if claude:
        policy["claude_code"] = claude
    return policy


# --------------------------------------------------------------------------- commands
@workshop_app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", "-n", help="Workshop name shown to learners.")],
    seats: Annotated[int, typer.Option("--seats", "-s", help="Number of learner seats.")],
    seats_per_host: Annotated[
        int | None, typer.Option("--seats-per-host", help="Seats per host (server default 10).")
    ] = None,
    api_key_file: Annotated[
        Path | None,
        typer.Option(
            "--api-key-file",
            help=f"File holding the Anthropic API key ('-' reads stdin). "
            f"Else ${API_KEY_ENV}, else a hidden prompt.",
        ),
    ] = None,
    starts_at: Annotated[
        str | None,
        typer.Option(
            "--starts-at",
            help="When doors open (ISO 8601 with offset); hosts start --warmup-minutes before.",
        ),
    ] = None,
    ends_at: Annotated[
        str | None, typer.Option("--ends-at", help="When it ends (default: start + 3 h).")
    ] = None,
    duration: Annotated[
        int | None,
        typer.Option("--duration", min=1, help="Minutes from the start (or now) to the end."),
    ] = None,
    warmup_minutes: Annotated[
        int | None, typer.Option("--warmup-minutes", help="Warm-up before --starts-at (15).")
    ] = None,
    join_opens_at: Annotated[
        str | None,
        typer.Option("--join-opens-at", help="Learners may join from then (default: at once)."),
    ] = None,
    grace_minutes: Annotated[
        int | None,
        typer.Option("--grace-minutes", help="Download-only minutes after the end (10)."),
    ] = None,
    model_policy_file: PolicyFileOpt = None,
    budget_usd: BudgetOpt = None,
    requests_per_minute: RpmOpt = None,
    max_input_tokens: MaxInOpt = None,
    max_output_tokens: MaxOutOpt = None,
    default_model: Annotated[
        str | None,
        typer.Option("--default-model", help="Model Claude Code starts with in every seat."),
    ] = None,
    allow_model: Annotated[
        list[str] | None,
        typer.Option("--allow-model", help="Allow only this model (repeat for several)."),
    ] = None,
    claude_md: Annotated[
        Path | None,
        typer.Option("--claude-md", help="File written as every seat's .claude/CLAUDE.md."),
    ] = None,
    claude_settings: Annotated[
        Path | None,
        typer.Option("--claude-settings", help="JSON Claude Code settings for every seat."),
    ] = None,
    content: Annotated[
        Path | None,
        typer.Option(
            "--content",
            help="Content pack (directory or .zip; docs/content-packs.md): starter files,"
            " guide and checks for every seat. Validated here, uploaded after create.",
        ),
    ] = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
    state_dir: StateDirOpt = None,
    audience: AudienceOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Create a workshop (it starts in status 'created'; run `workshop start` next).

    Prints the cost estimate. With --starts-at the platform starts it by itself."""
    with _handled(json_output):
        conn = _Connection(api_url, token, state_dir, audience)
        try:
            schedule = schedule_body(
                starts_at=starts_at,
                ends_at=ends_at,
                duration_minutes=duration,
                warmup_minutes=warmup_minutes,
                join_opens_at=join_opens_at,
                grace_minutes=grace_minutes,
            )
        except ScheduleOptionError as exc:
            _fail(EXIT_USAGE, str(exc), json_output)
        limits = LimitFlags(budget_usd, requests_per_minute, max_input_tokens, max_output_tokens)
        policy = model_policy_from_options(
            model_policy_file, default_model, allow_model, claude_md, claude_settings, json_output,
            limits,
        )  # fmt: skip
        pack_zip = _content_zip(content, json_output) if content is not None else None
        key = read_api_key(api_key_file, json_output)
        with conn.client() as client:
            workshop = client.create_workshop(
                name, seats, key, seats_per_host, schedule=schedule, model_policy=policy
            )
            if pack_zip is not None:
                workshop["content"] = _upload_content(client, workshop, pack_zip, json_output)
        _emit({"workshop": workshop}, json_output, lambda: render.workshop_view(workshop))
        if not json_output:
            next_step = escape(hint(f"workshop start {workshop.get('id')} --wait", state_dir))
            stdout.print(f"Next: [bold]{next_step}[/]")


def _content_zip(path: Path, json_output: bool) -> bytes:
    """The pack at ``path`` zipped and validated, before anything is created."""
    from clarateach.commands.content import describe, read_pack
    from shared.content import ContentPackError

    try:
        return read_pack(path)[1]
    except ContentPackError as exc:
        error = {"code": exc.code, "message": exc.message, "file": exc.file, "field": exc.field}
        _fail(EXIT_USAGE, describe(exc), json_output, {"error": error})
    except OSError as exc:
        _fail(EXIT_USAGE, f"cannot read --content {path}: {exc.strerror}", json_output)


def _upload_content(
    client: ApiClient, workshop: dict[str, Any], data: bytes, json_output: bool
) -> dict[str, Any]:
    try:
        return dict(client.put_content(str(workshop.get("id")), data)["content"])
    except ApiError as exc:
        message = f"workshop {workshop.get('id')} was created, but its content upload failed: {exc}"
        _fail(EXIT_API_ERROR, message, json_output, exc.as_json())


@workshop_app.command("list")
def list_(
    limit: Annotated[int, typer.Option("--limit", min=1, max=200, help="Page size.")] = 50,
    cursor: Annotated[str | None, typer.Option("--cursor", help="Next-page cursor.")] = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
    state_dir: StateDirOpt = None,
    audience: AudienceOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """List your workshops, newest first."""
    with _handled(json_output):
        with _Connection(api_url, token, state_dir, audience).client() as client:
            page = client.list_workshops(limit, cursor)

        def human() -> Any:
            if not page["workshops"]:
                return f"No workshops yet. Create one with `{hint('workshop create', state_dir)}`."
            if page["next_cursor"]:
                stdout.print(render.workshops_table(page["workshops"]))
                return f"More: --cursor {page['next_cursor']}"
            return render.workshops_table(page["workshops"])

        _emit(page, json_output, human)


@workshop_app.command("info")
def info(
    workshop_id: WorkshopIdArg,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
    state_dir: StateDirOpt = None,
    audience: AudienceOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Show one workshop: status, join code, hosts."""
    with _handled(json_output):
        with _Connection(api_url, token, state_dir, audience).client() as client:
            workshop = client.get_workshop(workshop_id)
        _emit({"workshop": workshop}, json_output, lambda: render.workshop_view(workshop))


@workshop_app.command("start")
def start(
    workshop_id: WorkshopIdArg,
    wait: Annotated[
        bool, typer.Option("--wait", help="Follow provisioning until running or failed.")
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="Seconds --wait waits at most.")
    ] = 900,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask to confirm the cost estimate.")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Start nothing: show the hosts and Compute quota it would need."
        ),
    ] = False,
    machine_type: Annotated[
        str,
        typer.Option(
            "--machine-type",
            envvar="CLARATEACH_GCE_MACHINE_TYPE",
            help="--dry-run: host machine type (Terraform's machine_type).",
        ),
    ] = "e2-standard-4",
    disk_gb: Annotated[
        int,
        typer.Option(
            "--disk-gb", envvar="CLARATEACH_GCE_DISK_GB", help="--dry-run: host boot disk size."
        ),
    ] = 50,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
    state_dir: StateDirOpt = None,
    audience: AudienceOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Start provisioning hosts. With --wait, exit 0 once running, 5 if it failed.

    Shows the cost estimate first; on a terminal it asks to confirm (--yes skips that)."""
    with _handled(json_output):
        if dry_run:
            _dry_run(workshop_id, machine_type, disk_gb, api_url, token, state_dir, audience,
                     json_output)  # fmt: skip
            return
        with _Connection(api_url, token, state_dir, audience).client() as client:
            if not json_output:
                _confirm_estimate(client.get_workshop(workshop_id), ask=not yes)
            workshop = client.start_workshop(workshop_id)
            if wait:
                workshop = wait_until_running(client, workshop, timeout, json_output)
        if json_output:
            _emit({"workshop": workshop}, True, lambda: None)
        elif wait:
            stdout.print(render.workshop_view(workshop))
            stdout.print(
                f"[bold green]Running.[/] Learners join with code "
                f"[bold magenta]{escape(str(workshop.get('code')))}[/]"
            )
        else:
            stdout.print(render.progress_line(workshop))
            follow = hint(f"workshop start {workshop_id} --wait", state_dir)
            stdout.print(f"Follow it with: {escape(follow)}")


def _confirm_estimate(workshop: dict[str, Any], *, ask: bool) -> None:
    estimate = (workshop.get("cost") or {}).get("estimate")
    if isinstance(estimate, dict):
        stdout.print(Text("Cost estimate: ").append_text(render_schedule.estimate_text(estimate)))
    if ask and sys.stdin.isatty() and not typer.confirm("Start the workshop?", default=True):
        raise typer.Exit(EXIT_API_ERROR)


def _dry_run(
    workshop_id: str,
    machine_type: str,
    disk_gb: int,
    api_url: str | None,
    token: str | None,
    state_dir: Path | None,
    audience: str | None,
    json_output: bool,
) -> None:
    """What ``start`` would create, and the free quota each metric needs for it."""
    with _Connection(api_url, token, state_dir, audience).client() as client:
        workshop = client.get_workshop(workshop_id)
    hosts = hosts_for(int(workshop["seats"]), int(workshop["seats_per_host"]))
    try:
        required = needs(hosts, HostShape(machine_type, disk_gb))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--machine-type") from None
    body = {
        "workshop_id": workshop["id"],
        "hosts": hosts,
        "machine_type": machine_type,
        "disk_gb": disk_gb,
        "needs": required,
    }

    def human() -> str:
        lines = [
            f"{hosts} hosts of {machine_type} with {disk_gb} GB pd-balanced; free quota needed:"
        ]
        lines += [f"  {metric:<18} {amount:g}" for metric, amount in required.items()]
        lines.append("The provisioner checks these before creating any VM (docs/deployment.md).")
        return "\n".join(lines)

    _emit(body, json_output, human)


#: Statuses from which a workshop will not become running without another start.
_DEAD_END = frozenset({"failed", "stopping", "stopped"})
POLL_INTERVAL_SECONDS = 0.5


def wait_until_running(
    client: ApiClient, workshop: dict[str, Any], timeout: float, json_output: bool
) -> dict[str, Any]:
    """Poll the workshop until ``running``; exit 5 on a dead end, 6 on ``timeout``."""
    deadline = time.monotonic() + timeout
    workshop_id = str(workshop.get("id"))
    ready_seen: set[Any] = set()
    spinner = stderr.status(render.progress_line(workshop)) if not json_output else None
    if spinner is not None:
        spinner.start()
    try:
        while True:
            status = workshop.get("status")
            for host in workshop.get("hosts") or []:
                if host.get("status") == "ready" and host.get("index") not in ready_seen:
                    ready_seen.add(host.get("index"))
                    if spinner is not None:
                        endpoint = escape(str(host.get("endpoint")))
                        stderr.print(f"  host {host.get('index')} ready: {endpoint}")
            if spinner is not None:
                spinner.update(render.progress_line(workshop))
            if status == "running":
                return workshop
            if status in _DEAD_END:
                reason = workshop.get("error") or f"the workshop is {status}"
                _fail(
                    EXIT_WORKSHOP_FAILED,
                    f"workshop {workshop_id} {status}: {reason}",
                    json_output,
                    {
                        "error": {
                            "code": f"workshop_{status}",
                            "message": str(reason),
                            "workshop": workshop,
                        }
                    },
                )
            if time.monotonic() >= deadline:
                _fail(
                    EXIT_WAIT_TIMEOUT,
                    f"workshop {workshop_id} still {status} after {timeout:g}s",
                    json_output,
                )
            time.sleep(POLL_INTERVAL_SECONDS)  # the poll interval of a deadline-bounded wait
            workshop = client.get_workshop(workshop_id)
    finally:
        if spinner is not None:
            spinner.stop()


@workshop_app.command("stop")
def stop(
    workshop_id: WorkshopIdArg,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
    state_dir: StateDirOpt = None,
    audience: AudienceOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Stop the workshop: hosts are deleted, the API key is removed."""
    with _handled(json_output):
        with _Connection(api_url, token, state_dir, audience).client() as client:
            workshop = client.stop_workshop(workshop_id)
        _emit({"workshop": workshop}, json_output, lambda: render.progress_line(workshop))


@workshop_app.command("extend")
def extend(
    workshop_id: WorkshopIdArg,
    minutes: Annotated[
        int | None, typer.Option("--minutes", "-m", min=1, help="Push the end back this much.")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="New end time (ISO 8601 with offset).")
    ] = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
    state_dir: StateDirOpt = None,
    audience: AudienceOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Move the workshop's end: --minutes later, or --until a new time."""
    with _handled(json_output):
        if (minutes is None) == (until is None):
            _fail(EXIT_USAGE, "give exactly one of --minutes or --until", json_output)
        try:
            end = parse_time("--until", until)
        except ScheduleOptionError as exc:
            _fail(EXIT_USAGE, str(exc), json_output)
        change: dict[str, Any] = (
            {"extend_minutes": minutes} if end is None else {"ends_at": end.isoformat()}
        )
        with _Connection(api_url, token, state_dir, audience).client() as client:
            workshop = client.change_schedule(workshop_id, change)
        _emit({"workshop": workshop}, json_output, lambda: render.workshop_view(workshop))


@workshop_app.command("end")
def end(
    workshop_id: WorkshopIdArg,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
    state_dir: StateDirOpt = None,
    audience: AudienceOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """End the workshop now: learners get the grace period to download their work, then
    the hosts are deleted (use `stop` to delete them at once)."""
    with _handled(json_output):
        with _Connection(api_url, token, state_dir, audience).client() as client:
            workshop = client.change_schedule(workshop_id, {"end_now": True})

        def human() -> Any:
            grace = (workshop.get("schedule") or {}).get("grace_ends_at")
            return (
                f"Workshop {workshop.get('id')} ended; hosts are deleted at {render.when(grace)}."
            )

        _emit({"workshop": workshop}, json_output, human)


@workshop_app.command("seats")
def seats(
    workshop_id: WorkshopIdArg,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
    state_dir: StateDirOpt = None,
    audience: AudienceOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Which seats are taken, by whom, on which host, when each learner was last seen, and
    each seat's model errors."""
    with _handled(json_output):
        with _Connection(api_url, token, state_dir, audience).client() as client:
            body = client.seats(workshop_id)
            usage = {row["seat"]: row for row in client.usage(workshop_id)["seats"]}
        for seat in body["seats"]:
            counters = usage.get(seat["seat"], {})
            seat["errors"] = {name: int(counters.get(name, 0)) for name in MODEL_ERROR_COUNTERS}
        _emit(body, json_output, lambda: render.seats_table(body))


@workshop_app.command("usage")
def usage(
    workshop_id: WorkshopIdArg,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
    state_dir: StateDirOpt = None,
    audience: AudienceOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Model usage per seat: requests, tokens and estimated cost."""
    with _handled(json_output):
        with _Connection(api_url, token, state_dir, audience).client() as client:
            body = client.usage(workshop_id)
        _emit(body, json_output, lambda: render.usage_table(body))


@workshop_app.command("logs")
def logs(
    workshop_id: WorkshopIdArg,
    host: Annotated[
        int | None, typer.Option("--host", min=0, help="Only this host (index, 0-based).")
    ] = None,
    project: Annotated[
        str | None,
        typer.Option(
            "--project",
            envvar=["CLARATEACH_GCP_PROJECT", "GOOGLE_CLOUD_PROJECT"],
            help="GCP: the project whose Cloud Logging holds the hosts' logs.",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10000, help="At most.")] = 1000,
    api_url: ApiUrlOpt = None,
    state_dir: StateDirOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Host logs (agent, startup script): local log files, or Cloud Logging on GCP."""
    with _handled(json_output):
        directory = (state_dir or default_state_dir()).expanduser()
        local = is_local_url(resolve_api_url(api_url, directory))
        if not local and not project:
            _fail(EXIT_USAGE, "--project (or CLARATEACH_GCP_PROJECT) is needed on GCP", json_output)
        try:
            if local:
                lines = list(host_logs.local_logs(directory, workshop_id, host))[-limit:]
            else:
                lines = host_logs.cloud_logs(
                    _logging_session(), str(project), workshop_id, host, limit=limit
                )
        except (ValueError, RuntimeError) as exc:
            _fail(EXIT_API_ERROR, str(exc), json_output)
        body = {"lines": [line.__dict__ for line in lines]}

        def human() -> Any:
            if not lines:
                return "No log lines (yet)."
            for line in lines:
                stamp = f"{line.timestamp} " if line.timestamp else ""
                stdout.print(f"{escape(line.host)} {escape(stamp)}{escape(line.text)}")
            return None

        _emit(body, json_output, human)


def _logging_session() -> Any:
    """An authorized ``requests`` session with the caller's ADC (needs logging.viewer)."""
    import google.auth
    from google.auth.transport.requests import AuthorizedSession

    credentials, _ = google.auth.default(scopes=[host_logs.READ_SCOPE])
    return AuthorizedSession(credentials)


@workshop_app.command("shadow-token")
def shadow_token(
    workshop_id: WorkshopIdArg,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
    state_dir: StateDirOpt = None,
    audience: AudienceOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """A short-lived instructor token that opens any seat's terminal read-only."""
    with _handled(json_output):
        with _Connection(api_url, token, state_dir, audience).client() as client:
            body = client.shadow_token(workshop_id)
        if json_output:
            _emit(body, True, lambda: None)
        else:  # the token alone on one unwrapped line, so it can be copied whole
            stdout.print(render.shadow_hosts(body))
            stdout.print(str(body.get("token", "")), soft_wrap=True, markup=False)


# --------------------------------------------------------------------------- local
@local_app.command("up")
def local_up(
    port: Annotated[
        int, typer.Option("--port", "-p", min=0, max=65535, help="0 = any free port.")
    ] = 8080,
    host: Annotated[str, typer.Option("--host", help="Listen address.")] = "127.0.0.1",
    state_dir: StateDirOpt = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Also create and start a 5-seat demo workshop.")
    ] = False,
    web_dir: Annotated[
        Path | None,
        typer.Option("--web-dir", help="Built web client. Default: web/dist of this checkout."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logs.")] = False,
    stop_workshops: Annotated[
        bool,
        typer.Option(
            "--stop-workshops",
            help="Stop every workshop (agents, shells) at Ctrl-C and start from a clean slate."
            " Default: running workshops keep running and the next `local up` adopts them.",
        ),
    ] = False,
) -> None:
    """Serve the web client, the API and the provisioner on one port until Ctrl-C; running
    workshops keep running across restarts unless --stop-workshops."""
    from clarateach.local_platform import LocalOptions, run

    options = LocalOptions(
        host=host,
        port=port,
        state_dir=(state_dir or default_state_dir()).expanduser().resolve(),
        demo=demo,
        web_dir=web_dir,
        verbose=verbose,
        stop_workshops=stop_workshops,
    )
    raise typer.Exit(run(options))


# --------------------------------------------------------------------------- command groups
def _register_command_modules() -> None:
    from clarateach.commands import content, loadtest

    loadtest.register(app, sys.modules[__name__])
    content.register(app, workshop_app, sys.modules[__name__])


_register_command_modules()

EXIT_INTERNAL = 70


def main() -> None:
    """Console-script entry point: a bug shows one line, not a traceback.

    ``CLARATEACH_DEBUG=1`` shows the traceback instead.
    """
    try:
        app()
    except Exception as exc:
        if os.environ.get("CLARATEACH_DEBUG"):
            raise
        stderr.print(
            f"[bold red]error:[/] unexpected {type(exc).__name__}: {escape(str(exc))} "
            "(set CLARATEACH_DEBUG=1 for details)"
        )
        sys.exit(EXIT_INTERNAL)


# Cockpit commands (watch, broadcast, hands) live in their own module; importing it registers
# them on ``workshop_app``.
from clarateach import cockpit_cli  # noqa: E402, F401

if __name__ == "__main__":
    main()
