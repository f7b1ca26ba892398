"""Host VM bootstrap: renders the startup script the provisioner puts in GCE metadata.

Owned by the deployment work (terraform/, images/); the provisioner only calls
``render_startup_script``. The rendered script never contains a secret: the agent reads its
workshop secret from Secret Manager at start.
"""

from __future__ import annotations


def render_startup_script(
    *, workshop_id: str, host_index: int, agent_config: dict[str, str]
) -> str:
    """Return the startup script for one host. Placeholder until the bootstrap template lands."""
    raise NotImplementedError("host bootstrap template not written yet")
