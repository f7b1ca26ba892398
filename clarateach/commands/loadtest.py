"""``clarateach loadtest``: rehearse a workshop day and print a readiness report.

    clarateach loadtest --learners 100 --over 20 --local
    clarateach loadtest --learners 200 --burst --local --json
    clarateach loadtest --learners 300 --over 600 --create --i-own-this-deployment \\
        --api-url https://api.example.org --api-key-file key.txt

Exit codes (besides those of ``clarateach.cli``): 0 the verdict is READY, 7 NOT READY (the
report says which threshold failed), 8 the run was refused (a target that is not loopback
without ``--i-own-this-deployment``, a workshop with joined seats, not running, too small).

``clarateach.cli`` registers the command (``register``); the option annotations below are
resolved by typer when the app runs, after that.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit

import psutil
import typer
from rich.live import Live
from rich.markup import escape

from clarateach.api_client import ApiClient
from clarateach.cli_name import hint
from clarateach.credentials import is_local_url
from clarateach.loadtest import report as report_mod
from clarateach.loadtest.learner import LearnerResult
from clarateach.loadtest.runner import MAX_LEARNERS, MAX_SECONDS, LoadtestRefused, RunConfig, run

if TYPE_CHECKING:
    from clarateach import cli as base
else:
    base = None  # ``clarateach.cli`` (its options and error plumbing), set by ``register``

EXIT_NOT_READY = 7
EXIT_REFUSED = 8


def register(app: typer.Typer, cli_module: ModuleType) -> None:
    """Add ``loadtest`` to ``app``; ``cli_module`` is the calling ``clarateach.cli`` (passed in,
    not imported, so that ``python -m clarateach.cli`` has no import cycle)."""
    global base
    base = cli_module
    app.command("loadtest")(loadtest)


def _usage(message: str) -> typer.BadParameter:
    return typer.BadParameter(message)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def loadtest(
    learners: Annotated[
        int, typer.Option("--learners", "-n", min=1, max=MAX_LEARNERS, help="Simulated learners.")
    ],
    over: Annotated[
        float,
        typer.Option("--over", min=0, max=MAX_SECONDS, help="Seconds over which they arrive."),
    ] = 0.0,
    burst: Annotated[
        bool, typer.Option("--burst", help="Everyone presses join at once (no --over).")
    ] = False,
    workshop: Annotated[
        str | None,
        typer.Option("--workshop", help="Use this running workshop (it must have no learners)."),
    ] = None,
    create: Annotated[
        bool,
        typer.Option("--create", help="Create, start and afterwards stop a workshop (default)."),
    ] = False,
    local: Annotated[
        bool,
        typer.Option(
            "--local",
            help="Rehearse against a private, throw-away local platform with a fake model API.",
        ),
    ] = False,
    type_rate: Annotated[
        float, typer.Option("--type-rate", min=0, max=50, help="Keystrokes per second each.")
    ] = 5.0,
    model_requests: Annotated[
        int,
        typer.Option("--model-requests", min=0, max=100, help="Model calls each, via the gateway."),
    ] = 0,
    duration: Annotated[
        float,
        typer.Option("--duration", min=0, max=MAX_SECONDS, help="Seconds each learner types."),
    ] = 10.0,
    seats_per_host: Annotated[
        int | None,
        typer.Option("--seats-per-host", min=1, help="For --create (server default 10)."),
    ] = None,
    keep: Annotated[
        bool, typer.Option("--keep", help="Do not stop the workshop it created.")
    ] = False,
    own_deployment: Annotated[
        bool,
        typer.Option("--i-own-this-deployment", help="Allow a target that is not on this machine."),
    ] = False,
    origin: Annotated[
        str | None,
        typer.Option("--origin", help="Web origin sent with terminals. Default: the API's."),
    ] = None,
    max_failures: Annotated[
        int, typer.Option("--max-failures", min=0, help="Verdict: failed learners allowed.")
    ] = 0,
    max_prompt_p99: Annotated[
        float,
        typer.Option("--max-prompt-p99", min=0, help="Verdict: code → prompt p99 below (s)."),
    ] = 5.0,
    max_echo_p99: Annotated[
        float, typer.Option("--max-echo-p99", min=0, help="Verdict: echo p99 below (s).")
    ] = 0.1,
    start_timeout: Annotated[
        float, typer.Option("--start-timeout", min=1, help="Seconds to wait for running.")
    ] = 600.0,
    api_key_file: Annotated[
        Path | None,
        typer.Option("--api-key-file", help="For --create: the workshop's Anthropic key file."),
    ] = None,
    api_url: base.ApiUrlOpt = None,
    token: base.TokenOpt = None,
    state_dir: base.StateDirOpt = None,
    audience: base.AudienceOpt = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Rehearse a workshop day: N learners join, open terminals, type; then a report."""
    if burst and over:
        raise _usage("--burst and --over exclude each other")
    if workshop is not None and (create or local):
        raise _usage("--workshop cannot be combined with --create or --local")
    if local and (api_url or token or keep):
        raise _usage("--local runs its own platform: drop --api-url, --token and --keep")
    if model_requests and not duration:
        raise _usage("--model-requests needs a --duration over which to make them")
    thresholds = report_mod.Thresholds(max_failures, max_prompt_p99, max_echo_p99)
    settings: dict[str, Any] = {
        "learners": learners, "over": over, "burst": burst, "duration": duration,
        "type_rate": type_rate, "model_requests": model_requests, "workshop_id": workshop,
        "seats_per_host": seats_per_host, "keep": keep, "thresholds": thresholds,
        "start_timeout": start_timeout,
    }  # fmt: skip
    with base._handled(json_output):
        if local:
            report = _run_local(settings, origin, json_output)
        else:
            conn = base._Connection(api_url, token, state_dir, audience)
            with conn.client() as client:
                if not is_local_url(client.base_url) and not own_deployment:
                    base._fail(
                        EXIT_REFUSED,
                        f"{client.base_url} is not on this machine: a loadtest is real load on"
                        " a real deployment. Pass --i-own-this-deployment if it is yours.",
                        json_output,
                        error_code="loadtest_refused",
                    )
                if workshop is None:
                    settings["api_key"] = base.read_api_key(api_key_file, json_output)
                config = RunConfig(
                    api_url=client.base_url,
                    origin=origin or origin_of(client.base_url),
                    **settings,
                )
                report = _execute(config, client, json_output)
    _print(report, json_output)
    if not report["verdict"]["pass"]:
        raise typer.Exit(EXIT_NOT_READY)


def _run_local(settings: dict[str, Any], origin: str | None, json_output: bool) -> dict[str, Any]:
    from clarateach.loadtest.local_target import (
        FakeUpstream,
        LocalPlatformProcess,
        LocalTargetError,
    )

    async def main() -> dict[str, Any]:
        upstream = await FakeUpstream().start()
        platform = LocalPlatformProcess(upstream.url)
        try:
            if not json_output:
                base.stderr.print("Starting a private local platform…")
            try:
                await asyncio.to_thread(platform.wait_ready)
            except LocalTargetError as exc:
                base._fail(EXIT_REFUSED, str(exc), json_output, error_code="local_platform")
            config = RunConfig(
                api_url=platform.url,
                origin=origin or origin_of(platform.url),
                api_key=upstream.key,
                **settings,
            )
            server = psutil.Process(platform.process.pid)
            cpu_before = sum(server.cpu_times()[:2])
            with ApiClient(platform.url, platform.token) as client:
                report = await _run_with_progress(config, client, json_output)
            report["target"]["local_platform"] = True
            # The API, provisioner and bus of the private platform (agents are in "hosts").
            report["platform_process"] = {
                "cpu_seconds": round(sum(server.cpu_times()[:2]) - cpu_before, 2)
            }
            if not report["verdict"]["pass"]:  # the state directory goes; the logs stay
                report["target"]["local_logs"] = str(await asyncio.to_thread(platform.save_logs))
            return report
        finally:
            await asyncio.to_thread(platform.stop)
            await upstream.stop()

    return asyncio.run(main())


def _execute(config: RunConfig, client: ApiClient, json_output: bool) -> dict[str, Any]:
    return asyncio.run(_run_with_progress(config, client, json_output))


async def _run_with_progress(
    config: RunConfig, client: ApiClient, json_output: bool
) -> dict[str, Any]:
    live: Live | None = None
    if not json_output and base.stderr.is_terminal:
        live = Live(_progress_line([]), console=base.stderr, transient=True)

    def tick(results: Sequence[LearnerResult]) -> None:
        if live is not None:
            live.update(_progress_line(results))

    with live if live is not None else contextlib.nullcontext():
        try:
            return await run(config, client, on_tick=tick)
        except LoadtestRefused as exc:
            base._fail(EXIT_REFUSED, str(exc), json_output, error_code="loadtest_refused")


def _progress_line(results: Sequence[LearnerResult]) -> str:
    stages = [r.stage for r in results]
    arrived = sum(s != "waiting" for s in stages)
    joined = sum(r.join_s is not None for r in results)
    prompt = sum(r.code_to_prompt_s is not None for r in results)
    failed = sum(r.cause is not None for r in results)
    return (
        f"learners arrived [bold]{arrived}[/]/{len(results)}  joined [bold]{joined}[/]  "
        f"at a prompt [bold green]{prompt}[/]  failed [bold red]{failed}[/]"
    )


def _print(report: dict[str, Any], json_output: bool) -> None:
    if json_output:
        sys.stdout.write(json.dumps(report, indent=2, sort_keys=True) + "\n")
    else:
        base.stdout.print(report_mod.render(report))
        if report.get("cleanup", {}).get("kept"):
            workshop_id = escape(str(report["target"]["workshop_id"]))
            base.stdout.print(f"Stop it with: {escape(hint(f'workshop stop {workshop_id}'))}")
