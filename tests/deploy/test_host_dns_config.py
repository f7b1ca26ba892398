"""Terraform wires host DNS the way the provisioner reads it (shared.services.host_dns).

The functions get the domain and the managed zone (CLARATEACH_WORKSHOP_DOMAIN,
CLARATEACH_DNS_ZONE), the provisioner may edit records in exactly that zone, and a plan fails
unless both are set (named hosts) or neither (trial mode: https://<ip>.sslip.io).
"""

from __future__ import annotations

from shared.settings import Settings
from tests.deploy.hcl import Config, Expr


def env_refs(tf: Config) -> dict[str, set[str]]:
    env = tf.local("function_env")
    return {
        str(tf._object_key(item["KeyExpr"])): Expr(item["ValueExpr"], tf).refs()
        for item in env.node["Items"]
    }


def test_functions_get_the_domain_and_the_zone_from_the_terraform_variables(tf: Config) -> None:
    refs = env_refs(tf)
    assert refs["CLARATEACH_WORKSHOP_DOMAIN"] == {"var.workshop_domain"}
    assert refs["CLARATEACH_DNS_ZONE"] == {"var.dns_managed_zone"}
    assert {"CLARATEACH_WORKSHOP_DOMAIN", "CLARATEACH_DNS_ZONE"} <= set(Settings.env_vars())


def test_the_provisioner_edits_records_in_that_zone_only(tf: Config) -> None:
    grant = tf.resource("google_dns_managed_zone_iam_member.provisioner_edits_host_records")
    assert grant.attr("managed_zone").refs() == {"var.dns_managed_zone"}  # type: ignore[union-attr]
    assert grant.attr("member").refs() == {"google_service_account.provisioner.email"}  # type: ignore[union-attr]
    assert grant.count is not None and grant.count.refs() == {"var.dns_managed_zone"}


def test_a_plan_needs_both_domain_and_zone_or_neither(tf: Config) -> None:
    raw = tf.module["ManagedResources"]["google_cloudfunctions2_function.fn"]
    conditions = [Expr(p["Condition"], tf) for p in raw.get("Preconditions") or []]
    sources = [c.source.replace(" ", "") for c in conditions]
    assert "contains([0,2],length(compact([var.workshop_domain,var.dns_managed_zone])))" in sources
