"""``clarateach content init|check`` and ``clarateach workshop progress`` (docs/content-packs.md).

``content init DIR`` writes a small pack teaching a first Claude Code session (a trimmed
``examples/claude-code-101``, shipped as package data in ``clarateach/content_template``);
``content check PATH`` validates a directory or ``.zip`` with the same module the API uses.
"""

# No ``from __future__ import annotations``: ``progress``'s options are evaluated at
# registration, from the CLI module passed in.
import shutil
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from shared.content import ContentPackError, Pack, load_pack_dir, load_pack_zip, pack_to_zip

TEMPLATE = Path(__file__).resolve().parents[1] / "content_template"
BAR_WIDTH = 30

content_app = typer.Typer(help="Write and validate workshop content packs.", no_args_is_help=True)
base: Any = None


def register(app: typer.Typer, workshop_app: typer.Typer, cli_module: ModuleType) -> None:
    """Add ``content`` to ``app`` and ``progress`` to ``workshop``; ``cli_module`` is the
    calling ``clarateach.cli`` (passed in, not imported: no import cycle)."""
    global base
    base = cli = cli_module
    app.add_typer(content_app, name="content")

    # Defined here so its options are the CLI's own (connection flags and environment).
    @workshop_app.command("progress")
    def progress(
        workshop_id: cli.WorkshopIdArg,  # type: ignore[name-defined]
        api_url: cli.ApiUrlOpt = None,  # type: ignore[name-defined]
        token: cli.TokenOpt = None,  # type: ignore[name-defined]
        state_dir: cli.StateDirOpt = None,  # type: ignore[name-defined]
        audience: cli.AudienceOpt = None,  # type: ignore[name-defined]
        json_output: cli.JsonOpt = False,  # type: ignore[name-defined]
    ) -> None:
        """Learners' progress through the content pack: per seat, and seats per step."""
        with cli._handled(json_output):
            with cli._Connection(api_url, token, state_dir, audience).client() as client:
                body = client.progress(workshop_id)
            cli._emit(body, json_output, lambda: render_progress(body))


def read_pack(path: Path) -> tuple[Pack, bytes]:
    """The pack at ``path`` (a directory or a .zip) and the zip to upload; raises
    ``ContentPackError`` or ``OSError``."""
    data = pack_to_zip(path) if path.is_dir() else path.read_bytes()
    return load_pack_zip(data), data


def describe(error: ContentPackError) -> str:
    return f"invalid content pack: {error.message}"


@content_app.command("init")
def init(
    directory: Annotated[Path, typer.Argument(help="Where to write the pack (new or empty).")],
) -> None:
    """Write a small example pack (3 steps: explore, CLAUDE.md, fix a test) to DIRECTORY."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        base._fail(base.EXIT_USAGE, f"{directory} exists and is not an empty directory", False)
    shutil.copytree(
        TEMPLATE, directory, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
    )
    for script in (directory / "checks").iterdir():
        script.chmod(0o755)
    pack = load_pack_dir(directory)  # the template itself must stay valid
    shown = escape(str(directory))
    base.stdout.print(
        f"Wrote [bold]{escape(pack.manifest.title)}[/] ({len(pack.manifest.steps)} steps) to"
        f" {shown}. Edit it, then: clarateach content check {shown}"
    )


@content_app.command("check")
def check(
    path: Annotated[Path, typer.Argument(help="A pack directory or .zip.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Validate a pack as the API will: layout, limits, paths, workshop.toml."""
    try:
        pack, data = read_pack(path)
    except ContentPackError as exc:
        error = {"code": exc.code, "message": exc.message, "file": exc.file, "field": exc.field}
        base._fail(base.EXIT_USAGE, describe(exc), json_output, {"error": error})
    except OSError as exc:
        base._fail(base.EXIT_USAGE, f"cannot read {path}: {exc.strerror}", json_output)
    summary = {
        "title": pack.manifest.title,
        "files": len(pack.files),
        "bytes": pack.total_bytes,
        "zip_bytes": len(data),
        "steps": [
            {"id": s.id, "title": s.title, "check": s.check, "check_timeout_s": s.check_timeout_s}
            for s in pack.manifest.steps
        ],
    }
    base._emit({"content": summary}, json_output, lambda: _summary_table(summary))


def _summary_table(summary: dict[str, Any]) -> Table:
    size = f"{summary['files']} files, {summary['zip_bytes']} bytes zipped"
    table = Table(title=f"{summary['title']}: valid ({size})")
    for column in ("#", "step", "title", "check"):
        table.add_column(column)
    for i, step in enumerate(summary["steps"]):
        check = step["check"] or "-"
        if step["check"]:
            check += f" ({step['check_timeout_s']} s)"
        table.add_row(str(i + 1), step["id"], step["title"], check)
    return table


def render_progress(body: dict[str, Any]) -> Any:
    from rich.console import Group

    content = body.get("content")
    if not content:
        return "This workshop has no content pack (workshop create --content PATH)."
    steps = content["steps"]
    histogram = Table(title=f"{content['title']}: seats per step")
    for column in ("#", "step", "seats", ""):
        histogram.add_column(column)
    most = max((h["seats"] for h in body["histogram"]), default=0) or 1
    for h in body["histogram"]:
        bar = "█" * round(BAR_WIDTH * h["seats"] / most)
        histogram.add_row(str(h["step"] + 1), escape(h["title"]), str(h["seats"]), bar)
    seats = Table(title="Seats")
    for column in ("seat", "step", "checks passed"):
        seats.add_column(column)
    for row in body["seats"]:
        index = row["step"]
        title = steps[index]["title"] if index < len(steps) else "?"
        passed = ", ".join(row["checks_passed"]) or "-"
        seats.add_row(str(row["seat"]), f"{index + 1}. {escape(title)}", escape(passed))
    if not body["seats"]:
        return Group(histogram, "No progress reported yet.")
    return Group(histogram, seats)
