"""``clarateach local up``: the whole platform on this machine, on one port, until Ctrl-C.

What runs (one process plus one agent process per host):

* an aiohttp server on ``--host:--port`` (``clarateach.local_app``): the web client and every
  ``/api`` route through ``functions.http.handle``;
* the provisioner, served by functions-framework's real CloudEvent app on a free loopback
  port (``clarateach.provisioner_server``); the ``LocalBus`` POSTs Pub/Sub push envelopes to
  it, exactly as a push subscription does on GCP, with the platform's push token (deliveries
  without it are refused with 401); hosts report their events to ``POST /api/hosts/events``
  with their own host events token instead (docs/events.md, "Who may speak");
* the reconciler, every ``RECONCILE_EVERY`` seconds, as an asyncio task;
* hosts: ``python -m workspace_agent`` children started by ``LocalCompute``.

State lives in ``--state-dir`` (default: ``CLARATEACH_STATE_DIR``, else
``$XDG_STATE_HOME/clarateach`` or ``~/.local/state/clarateach`` - one place per user, so the
CLI finds the admin token from any directory): ``state.db`` (SQLite), ``secrets/``,
``hosts/``, ``admin-token`` and ``platform-secret`` (0600), ``local-server.json`` (where this
server listens, for the CLI) and ``logs/platform.log`` (JSON lines).

Restarts keep running workshops running (issue 20). Shutdown (SIGINT, SIGTERM or SIGHUP)
stops the HTTP server and the provisioner and closes the store, but leaves every live
workshop and its agents (their own sessions) and seat shells (the agents' terminal holders)
running; the next start adopts them: the same codes, seats, reconnect codes, files and
shells. An adopted host whose agent died meanwhile is restarted on its old port
(``LocalCompute.restart_host``), and its new agent adopts the shells its terminal holder kept.
Agents of workshops that are no longer live are killed at start-up. The provisioner listens
on the same loopback port as last time when it can (``provisioner-port``), so adopted agents
keep reaching it.

``--stop-workshops`` is the previous behaviour: start-up gives a clean slate (agents left
behind are killed, the workshops they served are stopped), and shutdown (a second signal
skips the graceful part) stops live workshops through the normal stop path, drains the bus,
kills any agent still recorded (its seats' shells end with it), stops the provisioner and
closes the store: nothing this process started outlives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import secrets
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from aiohttp import web
from rich.console import Console

from clarateach.api_client import ApiClient, ApiError, ApiUnreachable
from clarateach.claude_code import (
    ClaudeCodeInstallError,
    Installation,
    ensure_installed,
    is_installed,
    pinned_version,
)
from clarateach.cli_name import hint
from clarateach.credentials import (
    read_server_record,
    remove_server_record,
    write_server_record,
)
from clarateach.provisioner_server import ProvisionerServer
from shared.auth.platform_keys import push_token
from shared.bootstrap import Platform
from shared.settings import Settings, default_state_dir

log = logging.getLogger("clarateach.local")

RECONCILE_EVERY = 15.0
DEMO_SEATS = 5
DEMO_NAME = "Demo workshop"
DEMO_READY_TIMEOUT = 120.0
#: The demo workshop's content pack: the repository's example (docs/content-packs.md), or the
#: packaged `content init` template where the repository is not at hand.
DEMO_CONTENT = Path(__file__).resolve().parents[1] / "examples" / "claude-code-101"
DEMO_CONTENT_FALLBACK = Path(__file__).resolve().parent / "content_template"
#: How long graceful shutdown waits for workshops to reach ``stopped`` before killing hosts.
GRACEFUL_STOP_TIMEOUT = 20.0
_LIVE = ("provisioning", "running")
#: Seconds during which a repeated SIGINT/SIGTERM is taken as the same stop request.
SIGNAL_REPEAT_WINDOW = 1.0


class StartupError(Exception):
    """The platform cannot start; the message tells the user what to do."""


@dataclass(frozen=True)
class LocalOptions:
    host: str = "127.0.0.1"
    port: int = 8080
    state_dir: Path = field(default_factory=default_state_dir)
    demo: bool = False
    web_dir: Path | None = None
    verbose: bool = False
    stop_workshops: bool = False


def run(options: LocalOptions, console: Console | None = None) -> int:
    """Run until SIGINT/SIGTERM; return the process exit code (0 after a clean stop)."""
    console = console or Console(highlight=False)
    try:
        return asyncio.run(LocalPlatform(options, console).serve())
    except StartupError as exc:
        console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        return 1
    except KeyboardInterrupt:  # Ctrl-C before the signal handlers were installed
        return 130
    except Exception as exc:  # never a traceback on the terminal; the log has it
        log.exception("local platform crashed", extra={"terminal": False})
        console.print(
            f"[bold red]error:[/] the platform stopped unexpectedly: {type(exc).__name__}: {exc}. "
            f"Details: {options.state_dir / 'logs' / 'platform.log'}",
            soft_wrap=True,
        )
        return 1


class LocalPlatform:
    def __init__(self, options: LocalOptions, console: Console) -> None:
        self.options = options
        self.console = console
        self._stop = asyncio.Event()
        self._force = False
        self._first_signal_at = 0.0
        self._demo_thread: threading.Thread | None = None
        self._lock: IO[bytes] | None = None

    # ------------------------------------------------------------------- main
    async def serve(self) -> int:
        opts = self.options
        state_dir = opts.state_dir
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock = _lock_state_dir(state_dir)  # held (by the open file) until we exit
        _configure_logging(state_dir, opts.verbose)
        self._install_signal_handlers()
        sock = _bind(opts.host, opts.port)
        port = sock.getsockname()[1]
        url = f"http://{_display_host(opts.host)}:{port}"

        claude_code = await asyncio.to_thread(self._install_claude_code)
        provisioner = _start_provisioner(state_dir)
        try:
            platform = self._bootstrap(url, port, provisioner.url, claude_code)
        except BaseException:
            provisioner.stop()
            sock.close()
            raise
        runner: web.AppRunner | None = None
        try:
            self._clean_slate(platform)
            token = _admin_token(platform)
            runner = await self._start_http(platform, sock)
            write_server_record(state_dir, url, os.getpid())
            self._banner(url, token, platform)
            if opts.demo and not self._stop.is_set():
                self._demo_thread = threading.Thread(
                    target=self._run_demo, args=(url, token), name="demo", daemon=True
                )
                self._demo_thread.start()
            await self._stop.wait()
        finally:
            await self._shutdown(platform, runner, provisioner)
            self._lock.close()  # releases the state-directory lock
        return 0

    # ------------------------------------------------------------- start-up
    def _install_claude_code(self) -> Installation | None:
        """The pinned Claude Code for seats (installed once per version into the cache);
        ``None``, with a warning, if it cannot be installed: seats then use the system's."""
        version = Settings.from_env().claude_code_version
        try:
            version = version or pinned_version()
            if not is_installed(version):
                self.console.print(f"Installing Claude Code {version} for the seats...")
            return ensure_installed(version)
        except ClaudeCodeInstallError as exc:
            self.console.print(
                f"[yellow]Claude Code is not installed for the seats:[/] {exc}", soft_wrap=True
            )
            return None

    def _bootstrap(
        self, url: str, port: int, provisioner_url: str, claude_code: Installation | None
    ) -> Platform:
        from functions.runtime import set_platform
        from shared.bootstrap import bootstrap

        origins = {f"http://127.0.0.1:{port}", f"http://localhost:{port}", url}
        settings = Settings.from_env(
            mode="local",
            state_dir=self.options.state_dir,
            provisioner_url=provisioner_url,
            public_api_url=url,
            allowed_origins=tuple(sorted(origins)),
            claude_code_version=claude_code.version if claude_code else "",
            claude_code_dir=str(claude_code.prefix) if claude_code else "",
        )
        platform = bootstrap(settings)
        set_platform(platform)
        return platform

    def _clean_slate(self, platform: Platform) -> None:
        """Adopt live workshops (or, with ``--stop-workshops``, stop them); kill the agents
        of workshops that are not live."""
        if not self.options.stop_workshops:
            self._adopt(platform)
            return
        removed = _cleanup_hosts(platform)
        if removed:
            self.console.print(f"Stopped {len(removed)} agent(s) left over from a previous run.")
        for workshop_id in _live_workshop_ids(platform):
            _stop_workshop(platform, workshop_id)

    def _adopt(self, platform: Platform) -> None:
        live = _live_workshop_ids(platform)
        keep: list[str] = []
        for workshop_id in live:
            workshop = platform.store.get_workshop(workshop_id)
            keep += [h.name for h in workshop.hosts] if workshop is not None else []
        cleanup = getattr(platform.compute, "cleanup_orphans", None)
        removed = list(cleanup(keep)) if callable(cleanup) else []
        if removed:
            self.console.print(f"Stopped {len(removed)} agent(s) of workshops no longer live.")
        restart = getattr(platform.compute, "restart_host", None)
        restarted = [name for name in keep if callable(restart) and restart(name)]
        if live:
            self.console.print(
                f"Adopted {len(live)} running workshop(s)"
                + (f"; restarted {len(restarted)} agent(s)." if restarted else ".")
            )

    async def _start_http(self, platform: Platform, sock: socket.socket) -> web.AppRunner:
        from clarateach.local_app import DEFAULT_WEB_DIR, create_app
        from shared.services.reconcile import reconcile

        web_dir = self.options.web_dir or DEFAULT_WEB_DIR
        app = create_app(platform, web_dir, reconcile_every=RECONCILE_EVERY, reconcile=reconcile)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        await web.SockSite(runner, sock, shutdown_timeout=2.0).start()
        return runner

    def _install_signal_handlers(self) -> None:
        """Ctrl-C, ``kill`` and a closed terminal (SIGHUP) all stop the platform cleanly."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, self._on_signal)

    def _on_signal(self) -> None:
        """First signal: graceful shutdown. A later one: skip waiting, kill hosts now.

        A repeat within ``SIGNAL_REPEAT_WINDOW`` counts as the same request: one Ctrl-C can
        arrive twice (the terminal signals the whole process group, and wrappers such as
        ``timeout`` or a supervisor forward it again).
        """
        now = time.monotonic()
        if not self._stop.is_set():
            self._first_signal_at = now
        elif not self._force and now - self._first_signal_at > SIGNAL_REPEAT_WINDOW:
            self._force = True
            self.console.print("Forcing shutdown: killing hosts now.")
        self._stop.set()

    # --------------------------------------------------------------- output
    def _banner(self, url: str, token: str, platform: Platform) -> None:
        c = self.console
        web_dir = self.options.web_dir
        from clarateach.local_app import DEFAULT_WEB_DIR

        built = ((web_dir or DEFAULT_WEB_DIR) / "index.html").is_file()
        c.print()
        c.print(f"[bold green]ClaraTeach is running at[/] [bold]{url}[/]", soft_wrap=True)
        c.print(f"  Instructor token: [bold]{token}[/]", soft_wrap=True)
        # The token rides in the fragment: never sent to a server, never in access logs.
        c.print(f"  Cockpit:          {url}/instructor#token={token}", soft_wrap=True)
        c.print(f"  State directory:  {platform.settings.state_dir}", soft_wrap=True)
        claude = platform.settings.claude_code_version or "not installed (system PATH)"
        c.print(f"  Claude Code:      {claude}", soft_wrap=True)
        c.print(
            f"  Logs:             {platform.settings.state_dir / 'logs' / 'platform.log'}",
            soft_wrap=True,
        )
        c.print(
            f"  CLI:              {hint('workshop list', self.options.state_dir)}"
            "   (finds this server and token)",
            soft_wrap=True,
        )
        if not built:
            c.print(
                "[yellow]  The web client is not built:[/] run `cd web && npm ci && npm run build`"
                " (or start with `./dev up`, which builds it).",
                soft_wrap=True,
            )
        if self.options.host not in ("127.0.0.1", "localhost", "::1"):
            c.print(
                f"[yellow]  Listening on {self.options.host}:[/] other machines can reach the web "
                "client and API, but learner terminals (agents) listen on 127.0.0.1 only.",
                soft_wrap=True,
            )
        if not self.options.demo:
            c.print(
                "  Create a workshop: "
                + hint("workshop create --name NAME --seats 10", self.options.state_dir),
                soft_wrap=True,
            )
        if self.options.stop_workshops:
            c.print("Press Ctrl-C to stop everything.")
        else:
            c.print("Press Ctrl-C to stop; running workshops keep running until the next start.")

    # ----------------------------------------------------------------- demo
    def _run_demo(self, url: str, token: str) -> None:
        """Create and start a 5-seat workshop through the API, then print how to join."""
        c = self.console
        key, real = _demo_api_key()
        try:
            with ApiClient(url, token) as client:
                running = _running_demo(client)  # kept from the last run: the same code
                if running is not None:
                    c.print(f"Demo workshop {running['id']} is still running (adopted).")
                else:
                    workshop = client.create_workshop(DEMO_NAME, DEMO_SEATS, key)
                    content = client.put_content(workshop["id"], demo_content_zip())["content"]
                    c.print(
                        f"Demo workshop {workshop['id']} created with the content pack"
                        f" {content['title']!r}; starting its host...",
                        soft_wrap=True,
                    )
                    client.start_workshop(workshop["id"])
                    running = _wait_running(client, workshop["id"], self._stop)
        except (ApiError, ApiUnreachable, DemoFailed) as exc:
            if not self._stop.is_set():
                c.print(f"[bold red]The demo workshop did not start:[/] {exc}", soft_wrap=True)
            return
        if running is None:
            return  # shutting down
        workshop = running
        code = workshop["code"]
        c.print()
        c.print(f"[bold]Join code:[/]  [bold magenta]{code}[/]", soft_wrap=True)
        c.print(f"[bold]Join link:[/]  {url}/?code={code}", soft_wrap=True)
        seats_hint = hint(f"workshop seats {workshop['id']}", self.options.state_dir)
        create_hint = hint(
            "workshop create --name NAME --seats 5 --api-key-file PATH", self.options.state_dir
        )
        c.print(
            f"Open the link (or {url} and type the code) to get a terminal. "
            f"{DEMO_SEATS} seats; `{seats_hint}` shows who joined.",
            soft_wrap=True,
        )
        if not real:
            c.print(
                "[yellow]Note:[/] the demo uses a placeholder API key, so Claude Code in its "
                "seats cannot reach the model (ANTHROPIC_API_KEY is unset or not a key). Set it "
                "before `local up --demo`, "
                f"or create a workshop with a real key: {create_hint}.",
                soft_wrap=True,
            )

    # ------------------------------------------------------------- shutdown
    async def _shutdown(
        self, platform: Platform, runner: web.AppRunner | None, provisioner: ProvisionerServer
    ) -> None:
        from functions.runtime import set_platform

        self.console.print("Stopping ClaraTeach...")
        remove_server_record(self.options.state_dir, os.getpid())
        if runner is not None:
            await runner.cleanup()  # no new API calls; ends the reconciler and the API pool
        if not self.options.stop_workshops:
            kept = await asyncio.to_thread(self._keep_workshops, platform, provisioner)
            set_platform(None)
            if kept:
                self.console.print(
                    f"Stopped. {len(kept)} workshop(s) keep running with their agents; "
                    "`local up` again adopts them (`local up --stop-workshops` stops them)."
                )
            else:
                self.console.print("Stopped. No agents are left running.")
            return
        left = await asyncio.to_thread(self._stop_everything, platform, provisioner)
        set_platform(None)
        if left:
            self.console.print(f"[bold red]Could not stop agent(s):[/] {', '.join(left)}")
        else:
            self.console.print("Stopped. No agents are left running.")

    def _keep_workshops(self, platform: Platform, provisioner: ProvisionerServer) -> list[str]:
        """Leave live workshops and their agents running; return their ids."""
        drain = getattr(platform.bus, "drain", None)
        if callable(drain):
            drain(timeout=0.1 if self._force else 5.0)
        provisioner.stop()
        live = _live_workshop_ids(platform)
        with contextlib.suppress(Exception):
            platform.close()
        return live

    def _stop_everything(self, platform: Platform, provisioner: ProvisionerServer) -> list[str]:
        """Stop workshops, hosts, provisioner and store; return hosts still alive (none)."""
        if not self._force:
            live = _live_workshop_ids(platform)
            for workshop_id in live:
                _stop_workshop(platform, workshop_id)
            _wait_until(
                lambda: self._force or not _live_or_stopping(platform, live),
                GRACEFUL_STOP_TIMEOUT,
            )
        drain = getattr(platform.bus, "drain", None)
        if callable(drain):
            drain(timeout=0.1 if self._force else 5.0)
        _cleanup_hosts(platform)  # whatever the graceful stop did not remove
        provisioner.stop()
        _cleanup_hosts(platform)  # a delivery still in flight when forced may have started one
        left = [h.name for h in platform.compute.list_hosts() if h.state == "running"]
        with contextlib.suppress(Exception):
            platform.close()
        return left


# ------------------------------------------------------------------------- helpers
class DemoFailed(Exception):
    pass


def _wait_running(
    client: ApiClient, workshop_id: str, stop: asyncio.Event
) -> dict[str, Any] | None:
    deadline = time.monotonic() + DEMO_READY_TIMEOUT
    while not stop.is_set():
        workshop = client.get_workshop(workshop_id)
        status = workshop.get("status")
        if status == "running":
            return workshop
        if status in ("failed", "stopping", "stopped"):
            raise DemoFailed(f"it is {status}: {workshop.get('error') or 'no reason given'}")
        if time.monotonic() > deadline:
            raise DemoFailed(f"still {status} after {DEMO_READY_TIMEOUT:g}s")
        time.sleep(0.1)  # poll interval of a deadline-bounded wait
    return None


def demo_content_zip() -> bytes:
    """The demo's pack, zipped and validated (``examples/claude-code-101``)."""
    from shared.content import pack_to_zip

    return pack_to_zip(DEMO_CONTENT if DEMO_CONTENT.is_dir() else DEMO_CONTENT_FALLBACK)


def _running_demo(client: ApiClient) -> dict[str, Any] | None:
    """A running demo workshop left by a previous run (restarts keep workshops running)."""
    for workshop in client.list_workshops(limit=200).get("workshops", []):
        if workshop.get("name") == DEMO_NAME and workshop.get("status") == "running":
            return dict(workshop)
    return None


def _demo_api_key() -> tuple[str, bool]:
    """``(key, is_real)``: ``ANTHROPIC_API_KEY`` if set, else a well-formed placeholder."""
    from shared.domain.validation import validate_api_key

    real = os.environ.get("ANTHROPIC_API_KEY", "").strip()
    if real:
        with contextlib.suppress(Exception):
            return validate_api_key(real), True
    return "sk-ant-demo-placeholder-" + secrets.token_hex(12), False


def _admin_token(platform: Platform) -> str:
    from shared.auth.instructor import ensure_admin_token

    return ensure_admin_token(platform.settings)


def _cleanup_hosts(platform: Platform) -> list[str]:
    cleanup = getattr(platform.compute, "cleanup_orphans", None)
    return list(cleanup()) if callable(cleanup) else []


def _live_workshop_ids(platform: Platform) -> list[str]:
    ids: list[str] = []
    cursor: str | None = None
    while True:
        page = platform.store.list_workshops(limit=200, cursor=cursor)
        ids += [w.id for w in page.workshops if w.status.value in _LIVE]
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor


def _live_or_stopping(platform: Platform, ids: list[str]) -> list[str]:
    pending = []
    for workshop_id in ids:
        workshop = platform.store.get_workshop(workshop_id)
        if workshop is not None and workshop.status.value in (*_LIVE, "stopping"):
            pending.append(workshop_id)
    return pending


def _stop_workshop(platform: Platform, workshop_id: str) -> None:
    from shared.auth.instructor import LOCAL_ADMIN, Instructor
    from shared.domain.errors import DomainError
    from shared.services.workshops import stop_workshop

    try:
        stop_workshop(platform, Instructor(owner=LOCAL_ADMIN, is_admin=True), workshop_id)
    except DomainError as exc:  # already stopped by someone else, bus closed...
        log.info("could not stop workshop: %s", exc, extra={"workshop_id": workshop_id})


def _wait_until(done: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)  # poll interval of a deadline-bounded wait
    return True


def _start_provisioner(state_dir: Path) -> ProvisionerServer:
    """The provisioner (heard only with the platform's push token) on last run's port if it
    is free, else on a new one, remembered in ``<state_dir>/provisioner-port``."""
    record = state_dir / "provisioner-port"
    port = 0
    with contextlib.suppress(OSError, ValueError):
        port = int(record.read_text())
    if port and not _loopback_port_free(port):
        port = 0  # werkzeug exits the process on a taken port: check first
    server = ProvisionerServer(push_token=push_token(state_dir), port=port)
    record.write_text(f"{server.port}\n")
    return server.start()


def _loopback_port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _lock_state_dir(state_dir: Path) -> IO[bytes]:
    """Exclusive ``flock`` on ``<state_dir>/local-up.lock`` for this process's lifetime.

    A second platform on the same state directory would "clean up" the first one's agents
    and stop its workshops. The kernel drops the lock when the process dies, even on SIGKILL.
    """
    handle = (state_dir / "local-up.lock").open("ab")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        record = read_server_record(state_dir)
        where = f" at {record[0]} (pid {record[1]})" if record else ""
        raise StartupError(
            f"another `clarateach local up` is already running{where} with state directory "
            f"{state_dir}. Stop it first, or pass a different --state-dir."
        ) from None
    return handle


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(
                f"port {port} on {host} is already in use (another `clarateach local up`?). "
                "Stop it, or pick another port with --port (0 = any free port)."
            ) from None
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _display_host(host: str) -> str:
    """A host a browser on this machine can open (wildcard binds are shown as loopback)."""
    if host in ("0.0.0.0", "", "::"):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _configure_logging(state_dir: Path, verbose: bool) -> None:
    """JSON lines (redacted) to ``<state_dir>/logs/platform.log``; warnings to the terminal."""
    from shared.logs import RedactingFilter, make_handler

    log_dir = state_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    stream = (log_dir / "platform.log").open("a", encoding="utf-8")
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.addHandler(make_handler(stream))
    terminal = logging.StreamHandler()
    terminal.setLevel(logging.INFO if verbose else logging.WARNING)
    terminal.addFilter(RedactingFilter())
    terminal.addFilter(lambda record: getattr(record, "terminal", True))
    terminal.setFormatter(_OneLineFormatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(terminal)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the demo's own API calls


class _OneLineFormatter(logging.Formatter):
    """Terminal lines without tracebacks: those go to the log file, named in the hint."""

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        line = self.formatMessage(record)
        if record.exc_info or record.exc_text:
            line += " (traceback in logs/platform.log)"
        return line
