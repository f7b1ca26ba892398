"""The readiness report: latency summaries, failures by cause, host load, and a verdict
against thresholds. ``build`` makes the JSON-able dict (``--json`` prints it as is);
``render`` turns it into rich tables."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from rich.console import Group
from rich.markup import escape
from rich.table import Table

from clarateach.loadtest.learner import LearnerResult
from clarateach.loadtest.stats import summary


@dataclass(frozen=True)
class Thresholds:
    """A run passes when every check holds (defaults: the issue's workshop-day bar)."""

    max_failures: int = 0
    code_to_prompt_p99_s: float = 5.0
    echo_p99_s: float = 0.1


METRICS = (
    ("join", "join_s", "POST /api/join"),
    ("terminal_connect", "connect_s", "terminal upgrade → hello"),
    ("first_output", "first_output_s", "terminal open → first output"),
    ("code_to_prompt", "code_to_prompt_s", "code → working prompt"),
)


def build(
    results: Sequence[LearnerResult],
    thresholds: Thresholds,
    *,
    typing: bool = True,
    **context: Any,
) -> dict[str, Any]:
    """The report; without ``typing`` (no keystrokes planned) there is no echo check."""
    latency: dict[str, Any] = {}
    for name, attribute, _label in METRICS:
        latency[name] = summary([v for r in results if (v := getattr(r, attribute)) is not None])
    latency["echo"] = summary([v for r in results for v in r.echo_s])
    latency["model_request"] = summary([v for r in results for v in r.model_s])
    failures = Counter(r.cause for r in results if r.cause)
    examples = {}
    for r in results:
        if r.cause and r.cause not in examples:
            examples[r.cause] = r.detail
    learners = {
        "total": len(results),
        "joined": sum(r.join_s is not None for r in results),
        "at_prompt": sum(r.code_to_prompt_s is not None for r in results),
        "done": sum(r.stage == "done" for r in results),
        "failed": sum(r.cause is not None for r in results),
        "join_retries": sum(r.join_retries for r in results),
    }
    checks = [
        _check("failures", learners["failed"], thresholds.max_failures, "<="),
        _check("code_to_prompt_p99_s", latency["code_to_prompt"]["p99"],
               thresholds.code_to_prompt_p99_s, "<"),
    ]  # fmt: skip
    if typing:
        checks.append(_check("echo_p99_s", latency["echo"]["p99"], thresholds.echo_p99_s, "<"))
    return {
        **context,
        "learners": learners,
        "latency_s": latency,
        "failures": dict(sorted(failures.items(), key=lambda kv: (-kv[1], kv[0]))),
        "failure_examples": examples,
        "thresholds": asdict(thresholds),
        "verdict": {"pass": all(c["ok"] for c in checks), "checks": checks},
    }


def _check(name: str, value: float | int | None, limit: float, op: str) -> dict[str, Any]:
    ok = value is not None and (value <= limit if op == "<=" else value < limit)
    return {"name": name, "value": value, "limit": limit, "op": op, "ok": ok}


# --------------------------------------------------------------------------- rendering
def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


def render(report: dict[str, Any]) -> Group:
    parts: list[Any] = []
    target = report.get("target", {})
    learners = report["learners"]
    head = Table.grid(padding=(0, 2))
    head.add_row("target", escape(str(target.get("api_url", ""))))
    head.add_row("workshop", escape(f"{target.get('workshop_id')} ({target.get('hosts')} hosts)"))
    if report.get("start_to_running_s") is not None:
        head.add_row("start → running", f"{report['start_to_running_s']:.2f} s")
    if report.get("arrival_spread_s") is not None:
        head.add_row("arrivals spread over", f"{report['arrival_spread_s']:.2f} s")
    head.add_row(
        "learners",
        f"{learners['total']} arrived, {learners['joined']} joined, "
        f"{learners['at_prompt']} at a prompt, {learners['failed']} failed",
    )
    parts.append(head)

    table = Table(title="Latency (ms)", title_justify="left")
    for column in ("metric", "n", "p50", "p95", "p99", "max"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    labels = {name: label for name, _a, label in METRICS}
    labels["echo"] = "keystroke echo"
    labels["model_request"] = "model request via gateway"
    for name, stats in report["latency_s"].items():
        if stats["n"] == 0 and name == "model_request":
            continue
        table.add_row(
            labels.get(name, name),
            str(stats["n"]),
            *(_ms(stats[k]) for k in ("p50", "p95", "p99", "max")),
        )
    parts.append(table)

    if report["failures"]:
        failures = Table(title="Failures by cause", title_justify="left")
        failures.add_column("cause")
        failures.add_column("learners", justify="right")
        failures.add_column("example")
        for cause, count in report["failures"].items():
            example = report["failure_examples"].get(cause, "")
            failures.add_row(escape(cause), str(count), escape(example))
        parts.append(failures)

    if report.get("hosts"):
        hosts = Table(title="Hosts (agent /healthz)", title_justify="left")
        for column in ("host", "samples", "cpu % mean", "cpu % max", "mem % max",
                       "agent cpu s", "agent rss MiB"):  # fmt: skip
            hosts.add_column(column, justify="right")
        for h in report["hosts"]:
            rss = h.get("agent_rss_bytes_max")
            hosts.add_row(
                str(h["index"]), str(h["samples"]),
                *(_num(h["host_cpu_percent"].get(k)) for k in ("mean", "max")),
                _num(h.get("host_memory_percent_max")), _num(h.get("agent_cpu_seconds")),
                "-" if rss is None else f"{rss / 2**20:.0f}",
            )  # fmt: skip
        parts.append(hosts)
    if report.get("loadtest_process"):
        own = report["loadtest_process"]
        parts.append(
            f"loadtest process itself: {own['cpu_seconds']:.1f} CPU-s over {own['wall_s']:.1f} s"
        )

    if report.get("platform_process"):
        cpu = report["platform_process"]["cpu_seconds"]
        parts.append(f"private platform (API, provisioner): {cpu:.1f} CPU-s")
    verdict = report["verdict"]
    lines = []
    for c in verdict["checks"]:
        value = c["value"]
        shown = (
            "-" if value is None else (f"{value:g}" if isinstance(value, int) else f"{value:.3f}")
        )
        mark = "[green]ok[/]" if c["ok"] else "[bold red]FAIL[/]"
        lines.append(f"  {mark}  {c['name']} = {shown} (must be {c['op']} {c['limit']:g})")
    word = "[bold green]READY[/]" if verdict["pass"] else "[bold red]NOT READY[/]"
    parts.append("Verdict: " + word + "\n" + "\n".join(lines))
    if target.get("local_logs"):
        parts.append(f"Logs of the private platform: {escape(str(target['local_logs']))}")
    cleanup = report.get("cleanup")
    if cleanup:
        parts.append(f"Cleanup: {escape(str(cleanup.get('summary', '')))}")
    return Group(*parts)


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.1f}"
