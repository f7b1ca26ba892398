"""The startup script's Caddy configuration with the deployment certificate: a static
certificate and no ACME on the host when the API hands one out, automatic HTTPS otherwise.

Runs the script's functions in bash with ``curl`` replaced by a stub that plays the metadata
server (identity token) and ``POST /api/hosts/credentials``; it records every argv and the
config curl reads on stdin, so the tests see that the token never appears in argv.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from shared.host_bootstrap import render_startup_script
from tests.deploy.test_startup_functions import run

SITE = "ct-w1-h0.ws.example.com"
CERT = "-----BEGIN CERTIFICATE-----\nMIIB-test-cert\n-----END CERTIFICATE-----"
KEY = "-----BEGIN PRIVATE KEY-----\nMIGH-test-key\n-----END PRIVATE KEY-----"
TOKEN = "eyJ-identity-token-of-this-vm"


def render(public_url: str = f"https://{SITE}") -> str:
    config = {"CLARATEACH_AGENT_EVENTS": "hostapi:https://api.example.com"}
    if public_url:
        config["CLARATEACH_AGENT_PUBLIC_URL"] = public_url
    return render_startup_script(workshop_id="w1", host_index=0, agent_config=config)


def curl_stub(log: Path, answer: dict[str, object] | None) -> str:
    """``curl`` as a shell function: token for the metadata URL; the answer (or exit 22,
    curl's --fail status for an HTTP error such as 404) for the credentials URL."""
    body = json.dumps(answer) if answer is not None else ""
    return f"""
install() {{ printf 'install %s\\n' "$*"; }}
curl() {{
  printf 'ARGV %s\\n' "$*" >>{shlex.quote(str(log))}
  case "$*" in
    *identity*) printf '%s' {shlex.quote(TOKEN)} ;;
    *api/hosts/credentials*)
      printf 'STDIN %s\\n' "$(cat)" >>{shlex.quote(str(log))}
      [ -n {shlex.quote(body)} ] || return 22
      printf '%s' {shlex.quote(body)} ;;
    *) return 7 ;;
  esac
}}
"""


def answer(names: list[str] | None = None) -> dict[str, object]:
    return {
        "certificate_pem": CERT,
        "private_key_pem": KEY,
        "names": names or ["*.ws.example.com", "*.s00.ws.example.com"],
        "not_after": "2027-03-01T00:00:00+00:00",
    }


def test_with_a_deployment_certificate_caddy_serves_it_and_runs_no_acme(tmp_path: Path) -> None:
    log = tmp_path / "curl.log"
    result = run(render(), curl_stub(log, answer()) + f"configure_caddy https://{SITE}")

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "=== /etc/caddy/tls/cert.pem (0644 root:root)\n" + CERT in out
    assert "=== /etc/caddy/tls/key.pem (0640 root:caddy)\n" + KEY in out
    assert "install -d -m 0750 -o root -g caddy /etc/caddy/tls" in out
    caddyfile = out.split("=== /etc/caddy/Caddyfile (0644 root:root)\n", 1)[1]
    assert caddyfile.startswith("{\n\tadmin localhost:2019\n\tauto_https disable_certs\n}\n")
    assert (
        f"\n{SITE} {{\n\ttls /etc/caddy/tls/cert.pem /etc/caddy/tls/key.pem\n"
        "\treverse_proxy 172.17.0.1:8080 {"
    ) in caddyfile
    assert "systemctl reload-or-restart caddy" in out
    # The request: the identity token for the API's audience, sent through curl's stdin.
    calls = log.read_text()
    assert "audience=https://api.example.com" in calls
    assert (
        '--data-binary {"credential":"tls_certificate"} https://api.example.com/api/hosts/credentials'
        in calls
    )
    argv = "\n".join(line for line in calls.splitlines() if line.startswith("ARGV"))
    assert TOKEN not in argv
    assert f'STDIN header = "Authorization: Bearer {TOKEN}"' in calls
    assert KEY not in result.stderr and TOKEN not in result.stderr


@pytest.mark.parametrize(
    ("case", "reply"),
    [
        ("none issued yet (404)", None),
        ("covers another domain", answer(["*.other.example"])),
        ("no key", {**answer(), "private_key_pem": ""}),
    ],
)
def test_without_a_usable_deployment_certificate_caddy_gets_its_own(
    tmp_path: Path, case: str, reply: dict[str, object] | None
) -> None:
    result = run(
        render(), curl_stub(tmp_path / "curl.log", reply) + f"configure_caddy https://{SITE}"
    )

    assert result.returncode == 0, result.stderr
    assert "/etc/caddy/tls/" not in result.stdout
    caddyfile = result.stdout.split("=== /etc/caddy/Caddyfile (0644 root:root)\n", 1)[1]
    assert "auto_https" not in caddyfile and "\ttls " not in caddyfile
    assert f"\n{SITE} {{\n\treverse_proxy 172.17.0.1:8080 {{" in caddyfile
    assert "a certificate of this host's own" in result.stderr


def test_trial_mode_never_asks_for_the_deployment_certificate(tmp_path: Path) -> None:
    """sslip.io names are not under the deployment domain: per-host ACME, no request."""
    log = tmp_path / "curl.log"
    result = run(render(""), curl_stub(log, answer()) + "configure_caddy https://34-1-2-3.sslip.io")
    assert result.returncode == 0, result.stderr
    assert not log.exists()
    assert "auto_https" not in result.stdout


SLOT_SITE = "s07.ws.example.com"


def test_a_slotted_host_serves_its_preview_wildcard_with_the_deployment_certificate(
    tmp_path: Path,
) -> None:
    """``https://<slot>.<domain>`` (a host holding a slot label): Caddy serves the name and
    ``*.<slot>.<domain>`` (the agent's preview origins ``p<P>-s<S>.<slot>.<domain>``) from one
    site block with the deployment certificate, which covers both."""
    reply = answer(["*.ws.example.com", "*.s00.ws.example.com", f"*.{SLOT_SITE}"])
    result = run(
        render(f"https://{SLOT_SITE}"),
        curl_stub(tmp_path / "curl.log", reply) + f"configure_caddy https://{SLOT_SITE}",
    )

    assert result.returncode == 0, result.stderr
    caddyfile = result.stdout.split("=== /etc/caddy/Caddyfile (0644 root:root)\n", 1)[1]
    assert caddyfile.startswith("{\n\tadmin localhost:2019\n\tauto_https disable_certs\n}\n")
    assert (
        f"\n{SLOT_SITE}, *.{SLOT_SITE} {{\n\ttls /etc/caddy/tls/cert.pem /etc/caddy/tls/key.pem\n"
        "\treverse_proxy 172.17.0.1:8080 {"
    ) in caddyfile


@pytest.mark.parametrize(
    ("case", "reply"),
    [
        ("the certificate lacks *.<slot>.<domain>", answer(["*.ws.example.com"])),
        ("no deployment certificate (host ACME cannot do wildcards)", None),
    ],
)
def test_a_preview_wildcard_is_served_only_under_a_certificate_covering_it(
    tmp_path: Path, case: str, reply: dict[str, object] | None
) -> None:
    result = run(
        render(f"https://{SLOT_SITE}"),
        curl_stub(tmp_path / "curl.log", reply) + f"configure_caddy https://{SLOT_SITE}",
    )

    assert result.returncode == 0, result.stderr
    caddyfile = result.stdout.split("=== /etc/caddy/Caddyfile (0644 root:root)\n", 1)[1]
    assert f"*.{SLOT_SITE}" not in caddyfile
    assert f"\n{SLOT_SITE} {{\n" in caddyfile
