"""Every error exit of the host startup script reports ``host.failed`` with its reason.

The rendered script runs for real under bash with stub commands first on ``PATH``: ``curl``
answers like the GCE metadata server (``.../identity?audience=...&format=full`` returns the
instance identity token; `Metadata-Flavor: Google` is required, see
https://cloud.google.com/compute/docs/instances/verifying-instance-identity#request_signature)
and records what is POSTed to ``/api/hosts/events``; ``apt-get`` fails like an unreachable
mirror. Nothing outside the test's temporary directory is touched.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from shared.domain.events import HOST_FAILED, Event
from shared.host_bootstrap import render_startup_script
from tests.deploy.test_host_bootstrap import sample_config

API = "https://clarateach-jwks-123.us-central1.run.app"
TOKEN = "stub-identity-token-0123456789"

CURL = r"""#!/usr/bin/env bash
log="$STUB_DIR/curl.log"
printf 'ARGV' >>"$log"; printf ' %q' "$@" >>"$log"; echo >>"$log"
case "${@: -1}" in
  */attributes/disable-legacy-endpoints) printf '%s' "${STUB_LEGACY:-true}" ;;
  */service-accounts/default/identity)
    [[ "$*" == *"Metadata-Flavor: Google"* ]] || exit 22
    printf '%s' "$STUB_TOKEN" ;;
  */api/hosts/events)
    cat >>"$STUB_DIR/config.txt"
    prev=""
    for arg in "$@"; do
      [ "$prev" = "--data-binary" ] && printf '%s\n' "$arg" >>"$STUB_DIR/bodies.jsonl"
      prev=$arg
    done
    printf '%s\n' "${@: -1}" >>"$STUB_DIR/urls.txt" ;;
  *) exit 22 ;;
esac
"""


@pytest.fixture
def stubs(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in {"curl": CURL, "apt-get": "#!/bin/sh\nexit 100\n"}.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return tmp_path


def script(attempt: int = 3) -> str:
    config = {**sample_config(), "CLARATEACH_AGENT_ATTEMPT": str(attempt)}
    return render_startup_script(workshop_id="wk2m9xqr4tz", host_index=1, agent_config=config)


def run(stubs: Path, text: str, **env: str) -> subprocess.CompletedProcess[str]:
    bash = shutil.which("bash")
    assert bash
    environment = {
        **os.environ,
        "PATH": f"{stubs / 'bin'}:{os.environ['PATH']}",
        "STUB_DIR": str(stubs),
        "STUB_TOKEN": TOKEN,
        "TMPDIR": str(stubs),
        **env,
    }
    return subprocess.run(
        [bash, "-c", text], capture_output=True, text=True, env=environment, timeout=60
    )


def without_main(text: str) -> str:
    assert text.rstrip().endswith('main "$@"')
    return text.rstrip()[: -len('main "$@"')]


def reports(stubs: Path) -> list[Event]:
    path = stubs / "bodies.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [Event.from_message(line.encode()) for line in lines]


def test_a_die_reports_host_failed_with_its_reason_through_the_api(stubs: Path) -> None:
    result = run(stubs, script(), STUB_LEGACY="false")

    assert result.returncode == 1, result.stderr
    [event] = reports(stubs)
    assert (event.type, event.workshop_id) == (HOST_FAILED, "wk2m9xqr4tz")
    assert event.data["host_index"] == 1 and event.data["attempt"] == 3
    assert "disable-legacy-endpoints is not" in event.data["reason"]
    assert (stubs / "urls.txt").read_text().split() == [f"{API}/api/hosts/events"]
    # The identity token was asked for this API's audience, in full format, and sent to the
    # API in curl's stdin config - never on a command line.
    calls = (stubs / "curl.log").read_text()
    identity = next(line for line in calls.splitlines() if "identity" in line)
    assert f"audience={API}" in identity and "format=full" in identity
    assert TOKEN not in calls
    assert f'header = "Authorization: Bearer {TOKEN}"' in (stubs / "config.txt").read_text()
    assert not list(stubs.glob("tmp.*")), "the report marker is cleaned up"


def test_a_failing_command_reports_the_exit_status_and_the_command(stubs: Path) -> None:
    result = run(stubs, without_main(script()) + "\nslow_path_install docker.io\n")

    assert result.returncode == 100
    [event] = reports(stubs)
    reason = event.data["reason"]
    assert reason.startswith("host startup failed (exit 100) at line ")
    assert "apt-get update" in reason


def test_an_image_without_the_agent_fails_the_host_with_a_clear_reason(stubs: Path) -> None:
    text = without_main(script()).replace(
        "readonly AGENT_VENV=/opt/clarateach/venv", f"readonly AGENT_VENV={stubs / 'no-venv'}"
    )
    result = run(stubs, text + "\nensure_agent\n")

    assert result.returncode == 1
    [event] = reports(stubs)
    assert "not a ClaraTeach host image" in event.data["reason"]
    assert "bake images/host" in event.data["reason"]


def test_a_failure_inside_a_command_substitution_is_reported_once(stubs: Path) -> None:
    text = without_main(script()) + '\nvalue=$(die "no usable external IP in metadata")\n'
    result = run(stubs, text)

    assert result.returncode == 1
    assert [e.data["reason"] for e in reports(stubs)] == ["no usable external IP in metadata"]


def test_reasons_with_quotes_and_control_characters_stay_valid_json(stubs: Path) -> None:
    reason = 'bad "value" \\ with\ttab and\nnewline ' + "x" * 600
    result = run(stubs, without_main(script()) + '\ndie "$REASON"\n', REASON=reason)

    assert result.returncode == 1
    [event] = reports(stubs)
    assert event.data["reason"].startswith('bad "value" \\ with tab and newline ')
    assert len(event.data["reason"]) == 400


def test_a_clean_run_reports_nothing(stubs: Path) -> None:
    result = run(stubs, without_main(script()) + "\ntrue\n")
    assert result.returncode == 0, result.stderr
    assert reports(stubs) == []
