"""A CloudEvent function that records what the event bus delivers (loaded by functions-framework).

An event whose data holds ``{"fail_times": N}`` is refused (HTTP 500) on its first N deliveries,
to prove the transport redelivers.
"""

from __future__ import annotations

import base64
import json
import threading
from collections import Counter
from typing import Any

import functions_framework

RECEIVED: list[Any] = []
_attempts: Counter[str] = Counter()
_lock = threading.Lock()


@functions_framework.cloud_event
def record(cloud_event: Any) -> None:
    message = cloud_event.data["message"]
    body = json.loads(base64.b64decode(message["data"]))
    with _lock:
        RECEIVED.append(cloud_event)
        _attempts[cloud_event["id"]] += 1
        attempt = _attempts[cloud_event["id"]]
    if attempt <= int(body["data"].get("fail_times", 0)):
        raise RuntimeError("refusing this delivery on purpose")
