"""Event-driven entry points: the ``provisioner`` (Pub/Sub push), the ``reconciler`` and
``certificates`` (both Cloud Scheduler).

``provisioner`` is a CloudEvent function; functions-framework turns the Pub/Sub push envelope
into a CloudEvent whose ``id`` is the Pub/Sub message id, which is the delivery id the
handlers deduplicate on. Returning acknowledges the message; raising makes functions-framework
answer 500, so Pub/Sub (or the local bus) redelivers. Only transient failures raise: poison
messages are logged and acknowledged.

``reconciler`` is an HTTP function for Cloud Scheduler (every minute, OIDC-authenticated by
the function's IAM invoker binding, so no application-level auth here). Locally the platform
calls ``shared.services.reconcile.reconcile`` on a timer instead.

``certificates`` (Cloud Scheduler, daily, OIDC like the reconciler) renews the deployment's
wildcard certificate when it is due (``shared.services.certificates``). It answers 200 with
what it did, and 503 with the reason when a renewal failed (the old certificate stays in use;
the failure is visible in Cloud Scheduler's job status and the function's logs).
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Any

import functions_framework
from cloudevents.http import CloudEvent

from functions.runtime import get_platform
from shared.bootstrap import build_certificates, build_secrets
from shared.domain.errors import PermanentError, TransientError
from shared.domain.events import Event, MalformedEvent
from shared.services.provisioning import handle
from shared.services.reconcile import reconcile
from shared.settings import Settings

log = logging.getLogger(__name__)


@functions_framework.cloud_event
def provisioner(cloud_event: CloudEvent) -> None:
    delivery_id = str(cloud_event["id"])
    try:
        event = decode_pubsub_event(cloud_event.data)
    except MalformedEvent as exc:
        log.warning("acknowledging malformed message: %s", exc, extra={"event_id": delivery_id})
        return
    handle(get_platform(), event, delivery_id)


@functions_framework.http
def reconciler(request: Any) -> tuple[dict[str, Any], int]:
    report = reconcile(get_platform())
    return {"report": report.as_dict()}, 200


@functions_framework.http
def certificates(request: Any) -> tuple[dict[str, Any], int]:
    settings = Settings.from_env()
    service = build_certificates(settings, build_secrets(settings))
    if service is None:
        return {"report": {"action": "none", "reason": "no workshop domain configured"}}, 200
    try:
        report = service.renew_if_due()
    except (TransientError, PermanentError) as exc:
        return {"error": {"code": "certificate_renewal_failed", "message": str(exc)}}, 503
    return {"report": report.as_dict()}, 200


def decode_pubsub_event(data: Any) -> Event:
    """The ``Event`` inside a Pub/Sub CloudEvent's data (``{"message": {"data": <base64>}}``)."""
    message = data.get("message") if isinstance(data, dict) else None
    if not isinstance(message, dict) or not isinstance(message.get("data"), str):
        raise MalformedEvent("not a Pub/Sub message")
    try:
        raw = base64.b64decode(message["data"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedEvent("message data is not base64") from exc
    return Event.from_message(raw)
