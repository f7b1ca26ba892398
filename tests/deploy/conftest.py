"""Fixtures for the deployment tests: the parsed Terraform configuration, loaded once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.hcl import Config

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO / "terraform"


@pytest.fixture(scope="session")
def tf() -> Config:
    return Config(TERRAFORM_DIR)
