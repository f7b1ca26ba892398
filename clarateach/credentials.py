"""Where the CLI's API URL and bearer token come from.

Precedence (first that yields a value wins):

API URL
  1. ``--api-url``                         2. ``CLARATEACH_API_URL``
     (one URL serving every route: the local platform or ``api_layout = single_url``)
  3. ``CLARATEACH_API_URLS``: the split layout's JSON map of function name to base URL
     (``terraform output -json api_urls``); each operation goes to its function
     (``functions.entrypoints``), and the token's default audience is the ``workshops`` URL
  4. the URL a running ``clarateach local up`` recorded in ``<state_dir>/local-server.json``
  5. ``http://127.0.0.1:8080`` (the local platform's default port)

Token
  1. ``--token``                           2. ``CLARATEACH_TOKEN``
  3. local URL (loopback host): the local admin token file ``<state_dir>/admin-token``
  4. any other URL: a Google ID token for the audience (``--audience`` /
     ``CLARATEACH_INSTRUCTOR_AUDIENCE``, default the API URL) from Application Default
     Credentials, falling back to ``gcloud auth print-identity-token``.

``state_dir`` is ``--state-dir``, then ``CLARATEACH_STATE_DIR``, then the platform default
(``$XDG_STATE_HOME/clarateach`` or ``~/.local/state/clarateach``): the same rule the local
platform uses, so the CLI finds its token from any working directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_LOCAL_URL = "http://127.0.0.1:8080"
ADMIN_TOKEN_FILE = "admin-token"  # noqa: S105 - a file name, not a secret
SERVER_FILE = "local-server.json"
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class CredentialsError(Exception):
    """No usable token could be found; the message says what to do."""


@dataclass(frozen=True)
class Credentials:
    api_url: str
    token: str | None
    #: Where the token came from, for ``--verbose``-style diagnostics (never the token).
    source: str
    #: Split layout: function name -> base URL (``None``: ``api_url`` serves every route).
    function_urls: dict[str, str] | None = None


#: The split layout's function whose URL is the default base (and token audience).
SPLIT_BASE_FUNCTION = "workshops"


def parse_function_urls(raw: str) -> dict[str, str]:
    """``CLARATEACH_API_URLS``: a JSON object of function name to http(s) base URL, as
    ``terraform output -json api_urls`` prints it. Raises ``CredentialsError``."""
    try:
        data = json.loads(raw)
    except ValueError:
        raise CredentialsError(
            "CLARATEACH_API_URLS is not JSON (use terraform output -json api_urls)"
        ) from None
    if not isinstance(data, dict) or not data:
        raise CredentialsError("CLARATEACH_API_URLS must be a JSON object of function name to URL")
    urls: dict[str, str] = {}
    for name, url in data.items():
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            raise CredentialsError(f"CLARATEACH_API_URLS[{name!r}] is not an http(s) URL")
        urls[str(name)] = url.rstrip("/")
    if SPLIT_BASE_FUNCTION not in urls:
        raise CredentialsError(f"CLARATEACH_API_URLS has no {SPLIT_BASE_FUNCTION!r} URL")
    return urls


def is_local_url(url: str) -> bool:
    return (urlsplit(url).hostname or "") in _LOOPBACK_HOSTS


# --------------------------------------------------------------- local server record
def write_server_record(state_dir: Path, url: str, pid: int) -> Path:
    """Record where a running local platform listens, so the CLI finds it by default."""
    path = state_dir / SERVER_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"url": url, "pid": pid}))
    tmp.replace(path)
    return path


def remove_server_record(state_dir: Path, pid: int) -> None:
    """Remove the record if it is still ours (a newer platform may have replaced it)."""
    record = read_server_record(state_dir, require_alive=False)
    if record is not None and record[1] == pid:
        with contextlib.suppress(FileNotFoundError):
            (state_dir / SERVER_FILE).unlink()


def read_server_record(state_dir: Path, *, require_alive: bool = True) -> tuple[str, int] | None:
    """``(url, pid)`` of the recorded local platform, or ``None`` if absent, bad or dead."""
    try:
        data = json.loads((state_dir / SERVER_FILE).read_text())
        url, pid = str(data["url"]), int(data["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if require_alive and not _pid_alive(pid):
        return None
    return url, pid


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ------------------------------------------------------------------------ resolution
def resolve_api_url(explicit: str | None, state_dir: Path) -> str:
    if explicit:
        return explicit.rstrip("/")
    record = read_server_record(state_dir)
    return record[0] if record else DEFAULT_LOCAL_URL


def read_admin_token(state_dir: Path) -> str | None:
    try:
        token = (state_dir / ADMIN_TOKEN_FILE).read_text().strip()
    except OSError:
        return None
    return token or None


def resolve_credentials(
    api_url: str | None,
    token: str | None,
    state_dir: Path,
    audience: str | None = None,
    function_urls: str | None = None,
) -> Credentials:
    """Apply the precedence in the module docstring (``function_urls``: the raw
    ``CLARATEACH_API_URLS``). Raises ``CredentialsError``."""
    split = parse_function_urls(function_urls) if function_urls and not api_url else None
    if split is not None:
        url = split[SPLIT_BASE_FUNCTION]
        if token:
            return Credentials(url, token, "flag or CLARATEACH_TOKEN", split)
        return Credentials(url, google_id_token(audience or url), "Google ID token", split)
    url = resolve_api_url(api_url, state_dir)
    if token:
        return Credentials(url, token, "flag or CLARATEACH_TOKEN")
    if is_local_url(url):
        local = read_admin_token(state_dir)
        if local is None:
            raise CredentialsError(
                f"no token for {url}: {state_dir / ADMIN_TOKEN_FILE} does not exist. "
                "Start the platform with `clarateach local up` (or pass --state-dir to the "
                "one it uses), or pass --token / set CLARATEACH_TOKEN."
            )
        return Credentials(url, local, f"{state_dir / ADMIN_TOKEN_FILE}")
    return Credentials(url, google_id_token(audience or url), "Google ID token")


def google_id_token(audience: str) -> str:
    """An ID token for ``audience``: ADC first (service accounts, metadata server), then gcloud.

    User credentials from ``gcloud auth application-default login`` cannot mint ID tokens for
    arbitrary audiences, which is why ``gcloud auth print-identity-token`` is the fallback.
    """
    try:
        import google.auth.exceptions
        import google.auth.transport.requests
        import google.oauth2.id_token

        return str(
            google.oauth2.id_token.fetch_id_token(
                google.auth.transport.requests.Request(), audience
            )
        )
    except Exception as adc_error:  # any ADC failure: try gcloud next
        reason = type(adc_error).__name__
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        raise CredentialsError(
            f"no token for {audience}: Application Default Credentials failed ({reason}) and "
            "gcloud is not installed. Run `gcloud auth login`, or pass --token."
        )
    result = subprocess.run(
        [gcloud, "auth", "print-identity-token"], capture_output=True, text=True, check=False
    )
    token = result.stdout.strip()
    if result.returncode != 0 or not token:
        last_line = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise CredentialsError(
            f"no token for {audience}: `gcloud auth print-identity-token` failed "
            f"({last_line}). Run `gcloud auth login`, or pass --token."
        )
    return token
