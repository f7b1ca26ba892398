"""The host credentials body (its own module: the hosts function defines no other model)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from functions.body import Body


class HostCredentialsRequest(Body):
    credential: Literal["api_key", "tls_certificate"] = Field(
        default="api_key",
        description="api_key: the workshop's Anthropic key (an empty body asks for it too);"
        " tls_certificate: the deployment's wildcard certificate chain and key for Caddy.",
    )
