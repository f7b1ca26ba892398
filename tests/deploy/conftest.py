"""Fixtures for the deployment tests: the parsed Terraform configuration, loaded once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.hcl import Config
from tests.deploy.layout import DEFAULT_LAYOUT, LAYOUTS

REPO = Path(__file__).resolve().parents[2]
TERRAFORM_DIR = REPO / "terraform"


@pytest.fixture(scope="session")
def tf() -> Config:
    """The configuration with its default ``api_layout`` (the split layout)."""
    return Config(TERRAFORM_DIR, {"api_layout": DEFAULT_LAYOUT})


@pytest.fixture(scope="session", params=LAYOUTS)
def tf_layout(request: pytest.FixtureRequest) -> Config:
    """The configuration in each ``api_layout``."""
    return Config(TERRAFORM_DIR, {"api_layout": request.param})
