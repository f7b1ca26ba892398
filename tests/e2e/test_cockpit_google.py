"""The cockpit on GCP's shape, in Chromium: "Sign in with Google" and the split layout.

* Google Identity Services cannot load offline, so Playwright serves a stand-in for
  ``https://accounts.google.com/gsi/client`` (route interception keeps the URL, so the page's
  CSP is what allows it). Its button hands the page a real RS256 ID token shaped like GIS's
  ``credential`` (iss accounts.google.com, aud = azp = the web client ID, email,
  email_verified, exp), which the API verifies with google-auth against test certificates.
* Every split entry point (functions/entrypoints.py) runs on its own port, as each Cloud
  Function has its own URL; the page's config.json lists them in ``apiUrls`` like Terraform
  writes it, and each server records what it served.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from functions.entrypoints import SPLIT
from functions.http import handle
from functions.wire import ApiRequest
from shared.adapters.local_content import LocalContent
from shared.adapters.sqlite_store import SqliteStore
from shared.auth.instructor import google_id_token_verifier_with
from shared.bootstrap import Platform, bootstrap
from shared.settings import Settings
from tests.support.fakes import MemorySecrets, NullCompute, RecordingBus
from tests.support.google_tokens import AUDIENCE, GoogleCerts
from tests.support.net import serve_wsgi
from tests.support.wait import wait_for

WEB_CLIENT = "123456789012-cockpit.apps.googleusercontent.com"
API_KEY = "sk-ant-api03-" + "Ab1_-" * 8 + "XYZ"

GIS_STUB = """
(() => {
  let options = null;
  window.__gisInitialised = [];
  window.google = { accounts: { id: {
    initialize(o) { options = o; window.__gisInitialised.push(o.client_id); },
    renderButton(parent) {
      const button = document.createElement("button");
      button.type = "button";
      button.id = "gis-stub-button";
      button.textContent = "Sign in with Google";
      button.addEventListener("click", () =>
        options.callback({ credential: window.__gisToken, select_by: "btn" }));
      parent.append(button);
    },
    prompt() { window.__gisPrompted = (window.__gisPrompted || 0) + 1; },
    disableAutoSelect() {},
  } } };
})();
"""


@dataclass
class SplitApi:
    """One WSGI server per split entry point; ``served`` records (function, method, path, auth)."""

    platform: Platform
    certs: GoogleCerts
    urls: dict[str, str] = field(default_factory=dict)
    served: list[tuple[str, str, str, str]] = field(default_factory=list)

    def app(self, name: str) -> Any:
        operations = SPLIT[name][1]
        verify = google_id_token_verifier_with(self.certs)

        def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
            request = Request(environ)
            self.served.append(
                (name, request.method, request.path, request.headers.get("Authorization", ""))
            )
            response = handle(
                self.platform,
                ApiRequest(
                    request.method,
                    request.path,
                    dict(request.headers),
                    dict(request.args),
                    request.get_data(),
                    "127.0.0.1",
                ),
                operations=operations,
                verify_id_token=verify,
            )
            return Response(response.body, response.status, response.headers)(
                environ, start_response
            )

        return wsgi


def _web_app(web_dist: Path, config: dict[str, Any]) -> Any:
    """The built client like the web bucket: instructor.html, config.json, assets (WSGI, in a
    thread: Playwright's sync API owns this thread's event loop)."""
    types = {".js": "text/javascript", ".css": "text/css", ".map": "application/json"}

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        path = Request(environ).path
        if path == "/instructor":
            response = Response((web_dist / "instructor.html").read_bytes(), 200)
            response.content_type = "text/html; charset=utf-8"
        elif path == "/config.json":
            response = Response(json.dumps(config), 200, content_type="application/json")
        elif path.startswith("/assets/") and "/.." not in path:
            file = web_dist / path.lstrip("/")
            if not file.is_file():
                response = Response("", 404)
            else:
                mime = types.get(file.suffix, "application/octet-stream")
                response = Response(file.read_bytes(), 200, content_type=mime)
        else:
            response = Response("", 404)
        return response(environ, start_response)

    return wsgi


@pytest.fixture
def gcp_cockpit(tmp_path: Path, web_dist: Path) -> Iterator[tuple[str, SplitApi]]:
    if not (web_dist / "instructor.html").is_file():
        pytest.fail("web/dist has no instructor.html: rebuild the web client")
    web_server = ExitStack()
    config: dict[str, Any] = {}
    url = web_server.enter_context(serve_wsgi(_web_app(web_dist, config)))
    origin = url
    settings = Settings(
        mode="gcp",
        state_dir=tmp_path / "state",
        allowed_origins=(origin,),
        instructor_audience=AUDIENCE,
        instructor_web_client_id=WEB_CLIENT,
        instructors=("@school.edu",),
        jwt_issuer="clarateach-test",
        public_api_url="http://127.0.0.1:1",
    )
    store = SqliteStore(tmp_path / "state.db")
    platform = bootstrap(
        settings,
        store=store,
        bus=RecordingBus(),
        compute=NullCompute(),
        secrets=MemorySecrets(),
        content=LocalContent(tmp_path / "content"),
    )
    api = SplitApi(platform, GoogleCerts())
    with ExitStack() as stack:
        for name in SPLIT:
            api.urls[name] = stack.enter_context(serve_wsgi(api.app(name)))
        config.update(
            apiBaseUrl=api.urls["join_workshop"], apiUrls=api.urls, googleClientId=WEB_CLIENT
        )
        yield url, api
    web_server.close()
    store.close()


def _open_with_gis(context: Any, url: str, token: str) -> Any:
    context.route(
        "https://accounts.google.com/gsi/client",
        lambda route: route.fulfill(status=200, content_type="text/javascript", body=GIS_STUB),
    )
    context.add_init_script(f"window.__gisToken = {json.dumps(token)};")
    page = context.new_page()
    page.goto(f"{url}/instructor")
    return page


def test_sign_in_with_google_then_every_call_goes_to_its_function_with_the_token(
    context: Any, gcp_cockpit: tuple[str, SplitApi]
) -> None:
    url, api = gcp_cockpit
    token = api.certs.id_token("alice@school.edu", audience=WEB_CLIENT)
    page = _open_with_gis(context, url, token)
    page.click("#gis-stub-button")
    page.get_by_text("No workshops yet.").wait_for()
    assert page.evaluate("window.__gisInitialised") == [WEB_CLIENT]
    assert page.evaluate("sessionStorage.getItem('clarateach.instructor.token')") == token
    assert page.evaluate("localStorage.length") == 0

    page.fill("#create-name", "Split layout")
    page.fill("#create-seats", "3")
    page.fill("#create-key", API_KEY)
    page.click("form.cockpit-create button[type=submit]")
    page.get_by_text("Split layout").first.wait_for()

    calls = {(name, method, path) for name, method, path, _ in api.served if method != "OPTIONS"}
    assert ("workshops", "GET", "/api/workshops") in calls
    assert ("create_workshop", "POST", "/api/workshops") in calls
    real = [auth for _, method, _, auth in api.served if method != "OPTIONS"]
    assert real and set(real) == {f"Bearer {token}"}
    # Each function saw only its own operations (any other would have been a 404 there).
    for name, method, path, _ in api.served:
        assert name in ("workshops", "create_workshop"), (name, method, path)


def test_an_expiring_google_sign_in_prompts_again(
    context: Any, gcp_cockpit: tuple[str, SplitApi]
) -> None:
    url, api = gcp_cockpit
    # Valid for 62 s: the page re-prompts a minute before expiry, i.e. about 2 s from now.
    token = api.certs.id_token("alice@school.edu", audience=WEB_CLIENT, ttl=62)
    page = _open_with_gis(context, url, token)
    page.click("#gis-stub-button")
    wait_for(
        lambda: ("workshops", "GET", "/api/workshops", f"Bearer {token}") in api.served,
        timeout=10,
        message="the cockpit used the token before it lapsed",
    )
    page.get_by_text("Your Google sign-in expired; sign in again.").wait_for(timeout=15_000)
    assert page.evaluate("sessionStorage.getItem('clarateach.instructor.token')") is None
    wait_for(lambda: page.evaluate("window.__gisPrompted || 0") >= 1, timeout=5, message="prompt")
    assert page.locator("#gis-stub-button").count() == 1


def test_a_token_for_another_client_is_refused_and_forgotten(
    context: Any, gcp_cockpit: tuple[str, SplitApi]
) -> None:
    url, api = gcp_cockpit
    token = api.certs.id_token("alice@school.edu", audience="999-other.apps.googleusercontent.com")
    page = _open_with_gis(context, url, token)
    page.click("#gis-stub-button")
    page.get_by_text("The server refused the sign-in").wait_for()
    assert page.evaluate("sessionStorage.getItem('clarateach.instructor.token')") is None
