"""The model API gateway: seats call Anthropic through the agent, never with the real key.

Entry point for the agent: ``setup_gateway(app, settings) -> GatewayHandle``; then
``handle.seat_env(seat)`` is the environment (``ANTHROPIC_BASE_URL``, ``ANTHROPIC_AUTH_TOKEN``)
each seat's processes get. See docs/gateway.md.
"""

from workspace_agent.gateway.config import GatewayConfig, GatewayConfigError
from workspace_agent.gateway.control import InstructorCheck, instructor_check
from workspace_agent.gateway.service import GatewayHandle, UsagePublisher, setup_gateway

__all__ = [
    "GatewayConfig",
    "GatewayConfigError",
    "GatewayHandle",
    "InstructorCheck",
    "UsagePublisher",
    "instructor_check",
    "setup_gateway",
]
