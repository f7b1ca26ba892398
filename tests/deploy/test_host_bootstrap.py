"""The host startup script: rendered for a sample workshop, it blocks the metadata server for
containers, insists on disable-legacy-endpoints, quotes every value, and never carries a
secret; secret-looking configuration is refused before anything is rendered."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from shared.domain.model import Workshop, plan_hosts
from shared.host_bootstrap import (
    HOST_OWNED,
    REQUIRED_METADATA,
    UnsafeBootstrapValue,
    render_startup_script,
    secret_kind,
)
from shared.services.agent_config import agent_config
from shared.settings import Settings
from workspace_agent.gateway.config import ENV_GATEWAY_URL
from workspace_agent.settings import AgentSettings

FAKE_KEY = "sk-ant-api03-" + "x" * 40
FAKE_JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzZWF0OjEifQ.c2lnbmF0dXJl"
FAKE_PEM = "-----BEGIN PRIVATE KEY-----MIIEvQIBADANBg-----END PRIVATE KEY-----"


def sample_config() -> dict[str, str]:
    """What the provisioner really passes for host 1 of a 25-seat GCP workshop."""
    settings = Settings(
        mode="gcp",
        gcp_project="demo-project",
        public_api_url="https://clarateach-jwks-123.us-central1.run.app",
        allowed_origins=("https://demo-project-clarateach-web.storage.googleapis.com",),
        seat_image="us-central1-docker.pkg.dev/demo-project/clarateach/seat:1",
    )
    workshop = Workshop(
        id="wk2m9xqr4tz",
        name="Intro",
        code="CLAUDE-AB2C",
        seats=25,
        seats_per_host=10,
        owner="teacher@example.com",
        api_key_ref="projects/demo-project/secrets/workshop-wk2m9xqr4tz-api-key",
        model_policy={"max_requests_per_minute": 30},
    )
    host = plan_hosts(workshop)[1]
    return agent_config(settings, workshop, host)


@pytest.fixture(scope="module")
def script() -> str:
    return render_startup_script(
        workshop_id="wk2m9xqr4tz", host_index=1, agent_config=sample_config()
    )


def config_block(script: str) -> str:
    start = script.index("# ---- rendered configuration")
    end = script.index("# ---- end of rendered configuration ----")
    return script[start:end]


def bash_eval(script_prefix: str, epilogue: str) -> str:
    bash = shutil.which("bash")
    assert bash
    result = subprocess.run(
        [bash, "-c", script_prefix + "\n" + epilogue],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


# ---- the isolation the script sets up ----------------------------------------------------


def test_containers_are_rejected_on_the_way_to_the_metadata_server(script: str) -> None:
    assert "ensure_first DOCKER-USER -j CLARATEACH-EGRESS" in script
    assert re.search(r'ipt -A CLARATEACH-EGRESS -d "\$METADATA_IP/32" -j REJECT', script), (
        "metadata REJECT rule missing"
    )
    assert "readonly METADATA_IP=169.254.169.254" in script
    # The reject precedes any private-range rule and only DNS (port 53) is let through.
    chain = script[script.index("apply_egress_rules() {") :]
    reject = chain.index('-d "$METADATA_IP/32" -j REJECT')
    assert chain.index("--dport 53 -j RETURN") < reject
    assert all(" -j ACCEPT" not in line for line in chain[:reject].splitlines())


def test_seats_reach_only_the_gateway_port_on_the_host_and_not_each_other(script: str) -> None:
    """The firewall the VM runs is firewall.sh verbatim (its rules are asserted rule by rule
    in test_firewall_script.py), admitting from the seat bridges exactly the address and port
    the seats are given as their gateway; Docker itself has inter-container traffic off."""
    root = Path(__import__("shared.host_bootstrap").host_bootstrap.__file__).parent
    embedded = script[script.index("<<'CLARATEACH_FIREWALL_EOF'") :].split("\n", 1)[1]
    embedded = embedded[: embedded.index("\nCLARATEACH_FIREWALL_EOF\n")]
    assert embedded.strip() == (root / "firewall.sh").read_text().strip()
    for rule in (
        'ipt -A CLARATEACH-SEATS-IN -p tcp -d "$AGENT_ADDR" --dport "$AGENT_PORT" -j ACCEPT',
        "ipt -A CLARATEACH-SEATS-IN -j REJECT --reject-with icmp-admin-prohibited",
        'ensure_first INPUT -i "$bridge" -j CLARATEACH-SEATS-IN',
        "ip6t -A CLARATEACH-SEATS-V6 -j REJECT --reject-with icmp6-adm-prohibited",
    ):
        assert rule in embedded, rule
    gateway = HOST_OWNED[ENV_GATEWAY_URL]  # what every seat's ANTHROPIC_BASE_URL starts with
    addr, port = re.fullmatch(r"http://([\d.]+):(\d+)", gateway).groups()  # type: ignore[union-attr]
    assert f"Environment=CLARATEACH_FIREWALL_AGENT_ADDR={addr}\n" in script
    assert f"Environment=CLARATEACH_FIREWALL_AGENT_PORT={port}\n" in script
    assert HOST_OWNED["CLARATEACH_AGENT_PORT"] == port
    daemon = script[script.index("<<'CLARATEACH_DOCKER_EOF'") :].split("\n", 1)[1]
    daemon = daemon[: daemon.index("\nCLARATEACH_DOCKER_EOF\n")]
    settings = json.loads(daemon)
    assert settings["icc"] is False and settings.get("ipv6", False) is False


def test_the_firewall_is_in_place_before_docker_restarts_containers(script: str) -> None:
    unit = script[script.index("Description=ClaraTeach firewall") :]
    unit = unit[: unit.index("UNIT\n")]
    assert re.search(
        r"^Before=docker\.service clarateach-agent\.service caddy\.service", unit, re.M
    )
    assert "After=docker.service" not in unit and "Requires=docker.service" not in unit
    assert "PartOf=docker.service" in unit  # re-applied whenever Docker restarts
    assert "WantedBy=multi-user.target docker.service" in unit
    assert "Requires=docker.service clarateach-firewall.service" in script  # the agent's unit


def test_host_refuses_to_start_without_disabled_legacy_metadata(script: str) -> None:
    assert REQUIRED_METADATA == {"disable-legacy-endpoints": "true"}
    check = script[script.index("require_legacy_metadata_disabled() {") :]
    check = check[: check.index("\n}\n")]
    assert "metadata instance/attributes/disable-legacy-endpoints" in check
    assert 'if [ "$value" != "true" ]; then' in check and "die " in check
    main = script[script.index("main() {") :]
    assert main.index("require_legacy_metadata_disabled") < main.index("write_agent_config")


def test_agent_runs_as_a_dedicated_user_and_always_restarts(script: str) -> None:
    unit = script[script.index("[Unit]\nDescription=ClaraTeach workspace agent") :]
    unit = unit[: unit.index("UNIT\n")]
    for line in (
        "User=clarateach",
        "SupplementaryGroups=docker",
        "EnvironmentFile=/etc/clarateach/agent.env",
        "Restart=always",
        "NoNewPrivileges=true",
    ):
        assert line in unit, line


def test_caddy_serves_the_public_endpoint_with_automatic_tls(script: str) -> None:
    assert "reverse_proxy ${AGENT_ADDR}:${AGENT_PORT}" in script
    assert "sslip.io" in script  # trial-mode fallback without a domain
    assert 'die "the agent endpoint must be https://' in script


# ---- secrets ------------------------------------------------------------------------------


def test_rendered_script_holds_no_secret_looking_value(script: str) -> None:
    assert secret_kind(script) is None
    assert "sk-ant" not in script and "BEGIN PRIVATE" not in script
    # The key travels as a reference only.
    assert "CLARATEACH_AGENT_API_KEY_REF=projects/demo-project/secrets/workshop-" in script


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        (FAKE_KEY, "Anthropic"),
        (f"prefix {FAKE_KEY} suffix", "Anthropic"),
        (FAKE_PEM, "PEM"),
        (FAKE_JWT, "JWT"),
        ("AIza" + "A" * 35, "Google API key"),
        ('{"type": "service_account", "private_key": "x"}', "service-account"),
    ],
)
def test_secret_looking_values_are_refused(value: str, kind: str) -> None:
    config = {**sample_config(), "CLARATEACH_AGENT_MODEL_POLICY": value}
    with pytest.raises(UnsafeBootstrapValue, match=kind) as refused:
        render_startup_script(workshop_id="wk2m9xqr4tz", host_index=1, agent_config=config)
    assert value not in str(refused.value)
    assert "CLARATEACH_AGENT_MODEL_POLICY" in str(refused.value)


@pytest.mark.parametrize(
    "name",
    [
        "CLARATEACH_AGENT_API_KEY",
        "CLARATEACH_AGENT_GATEWAY_TOKEN",
        "CLARATEACH_AGENT_SECRET",
        "CLARATEACH_AGENT_DB_PASSWORD",
    ],
)
def test_variables_named_like_secrets_are_refused(name: str) -> None:
    with pytest.raises(UnsafeBootstrapValue, match="names a secret"):
        render_startup_script(workshop_id="w1", host_index=0, agent_config={name: "harmless"})


def test_references_and_the_secrets_backend_are_not_secrets() -> None:
    config = {
        "CLARATEACH_AGENT_API_KEY_REF": "projects/p/secrets/workshop-w1-api-key",
        "CLARATEACH_AGENT_SECRETS": "gcp:p",
    }
    script = render_startup_script(workshop_id="w1", host_index=0, agent_config=config)
    assert "CLARATEACH_AGENT_SECRETS=gcp:p" in script


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"PATH": "/tmp"}, "not a CLARATEACH_AGENT_"),
        ({"CLARATEACH_AGENT_X; rm -rf /": "1"}, "not a CLARATEACH_AGENT_"),
        ({"CLARATEACH_AGENT_SEATS": "1-10\nrm -rf /"}, "control character"),
        ({"CLARATEACH_AGENT_SEATS": "1-10\x00"}, "control character"),
        ({"CLARATEACH_AGENT_WORKSHOP_ID": "wother"}, "disagrees"),
        ({"CLARATEACH_AGENT_HOST_INDEX": "7"}, "disagrees"),
    ],
)
def test_malformed_configuration_is_refused(config: dict[str, str], message: str) -> None:
    with pytest.raises(UnsafeBootstrapValue, match=message):
        render_startup_script(workshop_id="w1", host_index=0, agent_config=config)


@pytest.mark.parametrize(
    ("workshop_id", "host_index"),
    [("w1; reboot", 0), ("W1", 0), ("", 0), ("w1", -1), ("w1", True), ("w1", "0")],
)
def test_malformed_identity_is_refused(workshop_id: object, host_index: object) -> None:
    with pytest.raises(UnsafeBootstrapValue):
        render_startup_script(
            workshop_id=workshop_id,  # type: ignore[arg-type]
            host_index=host_index,  # type: ignore[arg-type]
            agent_config={},
        )


# ---- quoting -------------------------------------------------------------------------------

TRICKY = {
    "CLARATEACH_AGENT_MODEL_POLICY": '{"n": "it\'s `id` $(id) $HOME \\"q\\" \\\\ ; & |"}',
    "CLARATEACH_AGENT_ALLOWED_ORIGINS": "https://a.example, https://b.example",
}


def test_values_survive_shell_quoting_exactly() -> None:
    script = render_startup_script(workshop_id="w1", host_index=0, agent_config=TRICKY)
    out = bash_eval(config_block(script), 'printf "%s\\0" "${AGENT_ENV[@]}"')
    entries = dict(item.split("=", 1) for item in out.split("\0") if item)
    for name, value in TRICKY.items():
        assert entries[name] == value


def test_environment_file_lines_escape_what_systemd_would_interpret() -> None:
    script = render_startup_script(workshop_id="w1", host_index=0, agent_config=TRICKY)
    helper = script[script.index("systemd_env_line() {") :]
    helper = helper[: helper.index("\n}\n") + 3]
    value = TRICKY["CLARATEACH_AGENT_MODEL_POLICY"]
    out = bash_eval(helper, f"systemd_env_line X {_shell_quote(value)}")
    assert out == 'X="' + _systemd_escape(value) + '"\n'
    assert _systemd_unescape(out.rstrip("\n").split("=", 1)[1]) == value


def _shell_quote(value: str) -> str:
    import shlex

    return shlex.quote(value)


def _systemd_escape(value: str) -> str:
    return "".join("\\" + ch if ch in '\\"`$' else ch for ch in value)


def _systemd_unescape(quoted: str) -> str:
    """systemd's EnvironmentFile reading of a double-quoted value (escapes: \\ \" \\` \\$)."""
    assert quoted.startswith('"') and quoted.endswith('"')
    body, out, i = quoted[1:-1], [], 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body) and body[i + 1] in '\\"`$':
            out.append(body[i + 1])
            i += 2
        else:
            assert body[i] not in '"', "unescaped quote would end the value early"
            out.append(body[i])
            i += 1
    return "".join(out)


# ---- the agent's configuration -------------------------------------------------------------


def test_host_owned_variables_win_and_are_read_by_the_agent() -> None:
    config = {**sample_config(), "CLARATEACH_AGENT_PORT": "0", "CLARATEACH_AGENT_RUNTIME": "local"}
    script = render_startup_script(workshop_id="wk2m9xqr4tz", host_index=1, agent_config=config)
    out = bash_eval(config_block(script), 'printf "%s\\0" "${AGENT_ENV[@]}"')
    entries = dict(item.split("=", 1) for item in out.split("\0") if item)
    for name, value in HOST_OWNED.items():
        assert entries[name] == value
    known = set(AgentSettings.env_vars()) | {ENV_GATEWAY_URL}
    assert set(entries) <= known, sorted(set(entries) - known)
    assert AgentSettings.from_env(entries).runtime == "docker"


def test_public_url_from_the_provisioner_is_used_and_otherwise_computed_at_boot() -> None:
    given = {"CLARATEACH_AGENT_PUBLIC_URL": "https://ct-w1-h0.workshops.example.com"}
    script = render_startup_script(workshop_id="w1", host_index=0, agent_config=given)
    assert "readonly PUBLIC_URL=https://ct-w1-h0.workshops.example.com" in script
    assert "CLARATEACH_AGENT_PUBLIC_URL=" not in config_block(script).split("AGENT_ENV=(")[1]
    trial = render_startup_script(workshop_id="w1", host_index=0, agent_config={})
    assert "readonly PUBLIC_URL=''" in trial


def test_template_and_embedded_files_ship_with_the_package() -> None:
    root = Path(__import__("shared.host_bootstrap").host_bootstrap.__file__).parent
    for name in ("startup.sh.tmpl", "firewall.sh", "docker-daemon.json"):
        assert (root / name).is_file(), name
