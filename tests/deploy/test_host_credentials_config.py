"""Host credential delivery as deployed: hosts reach the route at the public ``hosts`` function,
the token audience is that function's URL, and VMs keep scopes without ``cloud-platform``."""

from __future__ import annotations

from functions.entrypoints import entry_point_of
from functions.http import ROUTES
from shared.adapters.gce_compute import HOST_SCOPES
from tests.deploy.hcl import Config


def _env_source(tf: Config, name: str) -> str:
    env = tf.local("function_env")
    (item,) = [i for i in env.node["Items"] if tf._object_key(i["KeyExpr"]) == name]
    return tf.text(item["ValueExpr"]["SrcRange"]).strip()


def test_the_credentials_url_is_the_public_hosts_function(tf: Config) -> None:
    assert _env_source(tf, "CLARATEACH_HOST_CREDENTIALS_URL") == 'local.function_urls["hosts"]'
    assert "hosts" in tf.local("public_functions").value()
    for name in ("host_credentials", "host_events"):
        (route,) = [r for r in ROUTES if r.name == name]
        assert entry_point_of(route.name) == "hosts" and not route.instructor


def test_host_vms_never_get_the_cloud_platform_scope() -> None:
    assert HOST_SCOPES, "hosts need logging scopes"
    # Host events go through the API with the identity token: no Pub/Sub scope either.
    assert not [s for s in HOST_SCOPES if "pubsub" in s]
    assert not [
        s for s in HOST_SCOPES if s.endswith(("/cloud-platform", "/cloud-platform.read-only"))
    ]
    assert not [s for s in HOST_SCOPES if "secretmanager" in s]
