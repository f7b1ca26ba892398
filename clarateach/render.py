"""Human-readable (rich) views of API responses. ``--json`` output never comes through here.

Every function takes the decoded API body and returns a renderable; nothing here talks to
the network. Values from the server are escaped so a workshop called ``[red]x`` prints
literally instead of being read as rich markup.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

_STATUS_STYLES = {
    "created": "cyan",
    "provisioning": "yellow",
    "running": "bold green",
    "stopping": "yellow",
    "stopped": "dim",
    "failed": "bold red",
    "ready": "green",
    "creating": "yellow",
    "pending": "dim",
    "lost": "red",
    "deleted": "dim",
}


def status_text(status: Any) -> Text:
    value = str(status or "?")
    return Text(value, style=_STATUS_STYLES.get(value, ""))


def _s(value: Any) -> str:
    return "" if value is None else escape(str(value))


def when(value: Any) -> str:
    """``2026-11-25 12:57 UTC`` from the API's ISO timestamps (anything else as is)."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return _s(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def workshops_table(workshops: list[dict[str, Any]]) -> Table:
    table = Table(title="Workshops", title_justify="left")
    for column in ("ID", "Name", "Code", "Seats", "Status", "Created"):
        table.add_column(column)
    for w in workshops:
        table.add_row(
            _s(w.get("id")),
            _s(w.get("name")),
            _s(w.get("code")),
            _s(w.get("seats")),
            status_text(w.get("status")),
            when(w.get("created_at")),
        )
    return table


def hosts_table(hosts: list[dict[str, Any]]) -> Table:
    table = Table(title="Hosts", title_justify="left")
    for column in ("#", "Name", "Seats", "Status", "Endpoint"):
        table.add_column(column)
    for h in hosts:
        seats = f"{h.get('seat_first')}-{h.get('seat_last')}"
        table.add_row(
            _s(h.get("index")),
            _s(h.get("name")),
            seats,
            status_text(h.get("status")),
            _s(h.get("endpoint") or h.get("error") or ""),
        )
    return table


def workshop_view(w: dict[str, Any]) -> RenderableType:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    rows: list[tuple[str, Any]] = [
        ("ID", _s(w.get("id"))),
        ("Name", _s(w.get("name"))),
        ("Join code", Text(str(w.get("code") or ""), style="bold magenta")),
        ("Status", status_text(w.get("status"))),
        ("Seats", f"{w.get('seats')} ({w.get('seats_per_host')} per host)"),
        ("Owner", _s(w.get("owner"))),
        ("Created", when(w.get("created_at"))),
        ("Updated", when(w.get("updated_at"))),
    ]
    if w.get("error"):
        rows.append(("Error", Text(str(w["error"]), style="red")))
    from clarateach.render_schedule import cost_rows, schedule_rows  # it imports `when` from here

    rows += schedule_rows(w) + cost_rows(w)
    for label, value in rows:
        grid.add_row(label, value)
    hosts = w.get("hosts") or []
    return Group(grid, hosts_table(hosts)) if hosts else grid


#: Short words for the model error counters (``shared.domain.cockpit.MODEL_ERROR_COUNTERS``).
ERROR_WORDS = {
    "upstream_unreachable": "unreachable",
    "key_refused": "key refused",
    "budget_refused": "over budget",
    "rate_refused": "rate-limited",
    "paused_refused": "paused",
}


def error_summary(errors: dict[str, Any] | None) -> str:
    """``"2 unreachable, 1 key refused"``; ``""`` when the seat had no model error."""
    return ", ".join(
        f"{int(errors[name])} {word}"
        for name, word in ERROR_WORDS.items()
        if errors and int(errors.get(name) or 0) > 0
    )


def seats_table(body: dict[str, Any]) -> Table:
    """Claimed seats; a row's ``errors`` (model error counters) is added by the command."""
    table = Table(title="Seats", title_justify="left")
    for column in ("Seat", "Name", "Host", "Joined", "Last seen", "Model errors"):
        table.add_column(column)
    for s in body.get("seats") or []:
        table.add_row(
            _s(s.get("seat")),
            Text(str(s.get("display_name") or "")),  # the learner's text: never markup
            _s(s.get("host")),
            when(s.get("joined_at")),
            when(s.get("last_seen")),
            error_summary(s.get("errors")),
        )
    return table


_USAGE_COLUMNS = (
    ("requests", "Requests"),
    ("input_tokens", "Input"),
    ("output_tokens", "Output"),
    ("cache_creation_input_tokens", "Cache write"),
    ("cache_read_input_tokens", "Cache read"),
)


def _number(value: Any) -> str:
    if isinstance(value, (int, float)):
        return f"{int(value):,}"
    return _s(value)


def _usd(value: Any) -> str:
    return f"${value:,.4f}" if isinstance(value, (int, float)) else _s(value)


def usage_table(body: dict[str, Any]) -> Table:
    table = Table(title="Model usage", title_justify="left", show_footer=True)
    totals = body.get("totals") or {}
    table.add_column("Seat", footer="total")
    for key, label in _USAGE_COLUMNS:
        table.add_column(label, justify="right", footer=_number(totals.get(key, "")))
    table.add_column("Cost", justify="right", footer=_usd(totals.get("cost_usd", "")))
    for s in body.get("seats") or []:
        table.add_row(
            _s(s.get("seat")),
            *(_number(s.get(k)) for k, _ in _USAGE_COLUMNS),
            _usd(s.get("cost_usd")),
        )
    return table


def progress_line(w: dict[str, Any]) -> Text:
    """``provisioning - hosts ready 2/5`` for the ``start --wait`` spinner."""
    hosts = w.get("hosts") or []
    ready = sum(1 for h in hosts if h.get("status") == "ready")
    line = Text.assemble(
        "workshop ", (str(w.get("id")), "bold"), " is ", status_text(w.get("status"))
    )
    if hosts:
        line.append(f" - hosts ready {ready}/{len(hosts)}")
    return line


def shadow_hosts(body: dict[str, Any]) -> Table:
    """Which host serves which seats, for opening a seat's terminal with a shadow token."""
    table = Table(
        title=f"Shadow token valid for {body.get('expires_in')} s; hosts", title_justify="left"
    )
    for column in ("#", "Seats", "Endpoint"):
        table.add_column(column)
    for h in body.get("hosts") or []:
        seats = f"{h.get('seat_first')}-{h.get('seat_last')}"
        table.add_row(_s(h.get("index")), seats, _s(h.get("endpoint")))
    return table
