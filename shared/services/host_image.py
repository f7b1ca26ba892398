"""The host image must be a baked ClaraTeach host image (images/host), checked at ``start``.

The startup script does not install the workspace agent: a public OS image (plain Debian and
the like) has no agent, so every host would fail at boot. ``start`` refuses such a deployment
up front with a message that says what to do, before any state changes or any VM is created
(Terraform's ``host_image`` validation refuses it even earlier, at plan time).
"""

from __future__ import annotations

from shared.services.errors import Unavailable
from shared.settings import Settings

#: Google's public OS image projects: none of their images carries the agent.
PUBLIC_IMAGE_PROJECTS = frozenset(
    {
        "debian-cloud",
        "ubuntu-os-cloud",
        "ubuntu-os-pro-cloud",
        "centos-cloud",
        "rocky-linux-cloud",
        "rhel-cloud",
        "cos-cloud",
        "fedora-coreos-cloud",
        "opensuse-cloud",
        "suse-cloud",
    }
)


class HostImageNotBaked(Unavailable):
    """The deployment's host image cannot run the agent; no retry helps until it is fixed."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="host_image_not_baked")


def require_baked_host_image(settings: Settings) -> None:
    """Raise ``HostImageNotBaked`` on GCP unless ``gce_image`` names a (baked) private image."""
    if settings.mode != "gcp":
        return
    image = settings.gce_image.strip()
    project = _image_project(image)
    if not image or project in PUBLIC_IMAGE_PROJECTS:
        shown = image or "none"
        raise HostImageNotBaked(
            f"the host image ({shown}) is not a ClaraTeach host image, so hosts could not start "
            "the workspace agent. Bake images/host with Packer and set host_image "
            "(CLARATEACH_GCE_IMAGE) to it; see docs/deployment.md."
        )


def _image_project(image: str) -> str:
    """The project of an image URL (``projects/<p>/global/images/...``), or ""."""
    parts = image.split("/")
    if "projects" in parts:
        index = parts.index("projects")
        if index + 1 < len(parts):
            return parts[index + 1]
    return ""
