"""The startup script's functions, run in bash with the system-changing commands replaced by
shell functions: what it writes for Caddy and the agent, and when it refuses to go on."""

from __future__ import annotations

import subprocess

import pytest

from shared.host_bootstrap import render_startup_script

# Replace everything that would touch the machine; install_file prints what it would write.
STUBS = r"""
install_file() { printf '=== %s (%s %s)\n' "$1" "$2" "${3:-root:root}"; cat; return 0; }
systemctl() { printf 'systemctl %s\n' "$*"; }
"""


def functions_of(script: str) -> str:
    """The script with its final ``main "$@"`` call removed: definitions only."""
    body, call = script.rsplit("\nmain ", 1)
    assert call.strip() == '"$@"'
    return body


def run(
    script: str, commands: str, metadata: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    answers = "".join(
        f"    {path}) printf %s {value!r} ;;\n" for path, value in (metadata or {}).items()
    )
    fake_metadata = f'metadata() {{\n  case "$1" in\n{answers}    *) return 22 ;;\n  esac\n}}\n'
    return subprocess.run(
        ["bash", "-c", functions_of(script) + STUBS + fake_metadata + commands],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def script() -> str:
    return render_startup_script(
        workshop_id="w1",
        host_index=0,
        agent_config={
            "CLARATEACH_AGENT_SEATS": "1-10",
            "CLARATEACH_AGENT_MODEL_POLICY": '{"note": "a \\"b\\" $c"}',
        },
    )


def test_trial_endpoint_is_derived_from_the_external_ip(script: str) -> None:
    ip = "instance/network-interfaces/0/access-configs/0/external-ip"
    result = run(script, "resolve_public_url", {ip: "34.1.2.3"})
    assert result.returncode == 0, result.stderr
    assert result.stdout == "https://34-1-2-3.sslip.io"
    bad = run(script, "resolve_public_url", {ip: "not-an-ip"})
    assert bad.returncode != 0 and "no usable external IP" in bad.stderr


def test_caddy_site_is_the_endpoint_host(script: str) -> None:
    result = run(script, "configure_caddy https://34-1-2-3.sslip.io")
    assert result.returncode == 0, result.stderr
    assert "=== /etc/caddy/Caddyfile (0644 root:root)" in result.stdout
    assert "\n34-1-2-3.sslip.io {\n\treverse_proxy 172.17.0.1:8080 {" in result.stdout
    assert "flush_interval -1" in result.stdout
    assert "systemctl reload-or-restart caddy" in result.stdout


@pytest.mark.parametrize(
    "url",
    ["http://34-1-2-3.sslip.io", "https://evil.example { respond 200 }", "https://UPPER.example"],
)
def test_caddy_refuses_endpoints_it_cannot_serve_safely(script: str, url: str) -> None:
    result = run(script, f"configure_caddy '{url}'")
    assert result.returncode != 0
    assert "Caddyfile" not in result.stdout


def test_legacy_metadata_must_be_disabled(script: str) -> None:
    key = "instance/attributes/disable-legacy-endpoints"
    assert run(script, "require_legacy_metadata_disabled", {key: "true"}).returncode == 0
    for value in ("false", ""):
        refused = run(script, "require_legacy_metadata_disabled", {key: value})
        assert refused.returncode == 1
        assert "disable-legacy-endpoints" in refused.stderr
    missing = run(script, "require_legacy_metadata_disabled")
    assert missing.returncode == 1


def test_agent_environment_file_and_unit(script: str) -> None:
    result = run(script, "write_agent_config https://34-1-2-3.sslip.io")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "=== /etc/clarateach/agent.env (0640 root:clarateach)" in out
    env = out.split("=== /etc/clarateach/agent.env")[1].split("===")[0]
    assert 'CLARATEACH_AGENT_SEATS="1-10"' in env
    assert 'CLARATEACH_AGENT_MODEL_POLICY="{\\"note\\": \\"a \\\\\\"b\\\\\\" \\$c\\"}"' in env
    assert 'CLARATEACH_AGENT_PUBLIC_URL="https://34-1-2-3.sslip.io"' in env
    assert 'CLARATEACH_AGENT_BIND="172.17.0.1"' in env
    assert "=== /etc/systemd/system/clarateach-agent.service" in out
    assert "systemctl restart clarateach-agent.service" in out


def test_host_logs_are_shipped_with_workshop_and_host_labels(script: str) -> None:
    """The Ops Agent reads the systemd journal (``systemd_journald`` receiver) and a
    ``modify_fields`` processor can set ``labels."KEY"`` to a ``static_value``
    (https://cloud.google.com/logging/docs/agent/ops-agent/configuration). Entries then carry
    ``clarateach_workshop``/``clarateach_host``, the labels ``clarateach workshop logs``
    filters on (``clarateach.host_logs``)."""
    without = run(script, "have_ops_agent() { return 1; }; configure_logging")
    assert without.returncode == 0, without.stderr  # an unbaked host still boots
    assert "no Ops Agent" in without.stderr and without.stdout == ""
    with_agent = run(script, "have_ops_agent() { return 0; }; configure_logging")
    assert with_agent.returncode == 0, with_agent.stderr
    written = with_agent.stdout
    assert "=== /etc/google-cloud-ops-agent/config.yaml (0644 root:root)" in written
    assert "type: systemd_journald" in written
    assert 'labels."clarateach_workshop":\n          static_value: "w1"' in written
    assert 'labels."clarateach_host":\n          static_value: "0"' in written
    assert "systemctl restart google-cloud-ops-agent" in written
