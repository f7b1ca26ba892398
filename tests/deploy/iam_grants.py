"""Every IAM grant in the Terraform configuration, normalised for least-privilege checks.

A ``Grant`` says who gets which role on what: the scope (``project`` or the resource type of
a resource-level ``*_iam_member``), the target's source text, the role (a predefined role
name, or the address of a custom role defined in the configuration), each member (a literal
such as ``allUsers``, ``sa:<terraform name>`` for a service account of this configuration,
or the references the member is computed from) and the IAM condition's source text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tests.deploy.hcl import Config, Expr, NotStatic, Resource

#: Resource types that grant a role to a member (non-authoritative members only).
MEMBER_TYPES = (
    "google_project_iam_member",
    "google_service_account_iam_member",
    "google_pubsub_topic_iam_member",
    "google_pubsub_subscription_iam_member",
    "google_secret_manager_secret_iam_member",
    "google_cloud_run_service_iam_member",
    "google_cloud_run_v2_service_iam_member",
    "google_cloudfunctions2_function_iam_member",
    "google_artifact_registry_repository_iam_member",
    "google_storage_bucket_iam_member",
    "google_compute_subnetwork_iam_member",
    "google_dns_managed_zone_iam_member",
)
#: Authoritative IAM resources would silently remove grants made elsewhere; none allowed.
AUTHORITATIVE_TYPES = (
    "google_project_iam_binding",
    "google_project_iam_policy",
    "google_service_account_iam_binding",
    "google_service_account_iam_policy",
    "google_secret_manager_secret_iam_binding",
    "google_secret_manager_secret_iam_policy",
)
_TARGET_ATTRS = (
    "service_account_id",
    "topic",
    "subscription",
    "secret_id",
    "service",
    "name",
    "repository",
    "bucket",
    "subnetwork",
    "managed_zone",
)
_SERVICE_ACCOUNT = re.compile(r"^google_service_account\.(\w+)\.(email|name|id|member)$")
_CUSTOM_ROLE = re.compile(r"^(google_project_iam_custom_role\.\w+)\.(id|name)$")


@dataclass(frozen=True)
class Grant:
    address: str
    scope: str
    target: str
    role: str
    member: str
    condition: str | None

    @property
    def project_wide(self) -> bool:
        return self.scope == "project"


def grants(config: Config) -> list[Grant]:
    found: list[Grant] = []
    for resource in config.of_type(*MEMBER_TYPES):
        scope = "project" if resource.type == "google_project_iam_member" else resource.type
        target = _target(resource)
        role = _role(resource.attr("role"))
        conditions = resource.body.blocks("condition")
        condition = conditions[0].attr("expression").source if conditions else None  # type: ignore[union-attr]
        for member in _members(resource):
            found.append(Grant(resource.address, scope, target, role, member, condition))
    return found


def custom_role_permissions(config: Config, role: str) -> list[str]:
    """The permissions of custom role ``role`` (its resource address)."""
    return list(config.resource(role).value("permissions"))


def _target(resource: Resource) -> str:
    if resource.type == "google_project_iam_member":
        return "project"
    for name in _TARGET_ATTRS:
        expr = resource.attr(name)
        if expr is not None:
            return expr.source
    raise AssertionError(f"{resource.address}: no recognisable target attribute")


def _role(expr: Expr | None) -> str:
    assert expr is not None, "every grant names a role"
    try:
        return str(expr.value())
    except NotStatic:
        refs = expr.refs()
        for ref in refs:
            match = _CUSTOM_ROLE.match(ref)
            if match:
                return match.group(1)
        raise AssertionError(f"role {expr.source} is neither static nor a custom role") from None


def _members(resource: Resource) -> list[str]:
    expr = resource.attr("member")
    assert expr is not None, f"{resource.address} has no member"
    try:
        return [str(expr.value())]
    except NotStatic:
        pass
    refs = expr.refs()
    if "each.value" in refs and resource.for_each is not None:
        return _for_each_members(resource)
    return [_describe(refs, expr.source)]


def _for_each_members(resource: Resource) -> list[str]:
    """Members of a grant whose for_each is a map literal of (name => account email), given
    inline or as a ``local`` holding one."""
    assert resource.for_each is not None
    node = resource.for_each.node
    traversal = node.get("Traversal") or []
    names = [step.get("Name") for step in traversal]
    if len(names) == 2 and names[0] == "local":
        node = resource.for_each.config.local(str(names[1])).node
    if "Items" not in node:
        refs = resource.for_each.refs()
        return [_describe(refs, resource.for_each.source)]
    return [
        _describe(Expr(item["ValueExpr"], resource.for_each.config).refs(), "")
        for item in node["Items"]
    ]


def _describe(refs: set[str], source: str) -> str:
    accounts = {m.group(1) for ref in refs if (m := _SERVICE_ACCOUNT.match(ref))}
    if len(accounts) == 1 and len(refs) == 1:
        return f"sa:{accounts.pop()}"
    if "local.project_number" in refs and "gcp-sa-pubsub" in source:
        return "agent:pubsub"
    return "refs:" + ",".join(sorted(refs))
