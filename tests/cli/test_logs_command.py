"""``clarateach workshop logs``: local agent log files, and Cloud Logging on GCP (issue 12 item 11).

The Cloud Logging fake answers ``POST /v2/entries:list`` as the real API does
(https://cloud.google.com/logging/docs/reference/v2/rest/v2/entries/list): a JSON body with
``resourceNames``, ``filter``, ``orderBy`` and ``pageSize``/``pageToken``; ``entries[]`` with
``timestamp``, ``severity``, ``labels`` and ``textPayload`` or ``jsonPayload``, and a
``nextPageToken`` while more pages remain. It evaluates the ``labels.k="v"`` filter terms the
CLI sends.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from clarateach import cli, host_logs
from shared.domain.model import host_name
from tests.cli.conftest import RunCli
from tests.cli.server import ApiServer
from tests.support.rest_fake import serve


class FakeCloudLogging:
    def __init__(self, entries: list[dict[str, Any]], page_size: int = 2) -> None:
        self.entries = entries
        self.page_size = page_size
        self.bodies: list[dict[str, Any]] = []

    def handle(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if (method, path) != ("POST", "/v2/entries:list"):
            return 404, {"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}}
        self.bodies.append(body)
        wanted = dict(re.findall(r'labels\.(\w+)="([^"]*)"', body.get("filter", "")))
        hits = [e for e in self.entries if all(e["labels"].get(k) == v for k, v in wanted.items())]
        hits.sort(key=lambda e: e["timestamp"])
        start = int(body.get("pageToken") or 0)
        page = hits[start : start + min(self.page_size, int(body.get("pageSize", 50)))]
        answer: dict[str, Any] = {"entries": page}
        if start + len(page) < len(hits):
            answer["nextPageToken"] = str(start + len(page))
        return 200, answer


def _entry(ts: str, host: str, text: str, workshop: str = "w1") -> dict[str, Any]:
    return {
        "timestamp": ts,
        "severity": "INFO",
        "labels": {"clarateach_workshop": workshop, "clarateach_host": host},
        "textPayload": text,
    }


@pytest.fixture
def logging_fake() -> Iterator[tuple[FakeCloudLogging, str]]:
    fake = FakeCloudLogging(
        [
            _entry("2026-12-02T10:00:03Z", "1", "agent ready"),
            _entry("2026-12-02T10:00:01Z", "0", "clarateach-bootstrap: phase docker done"),
            _entry("2026-12-02T10:00:02Z", "0", "agent ready"),
            _entry("2026-12-02T10:00:00Z", "0", "someone else's", workshop="w2"),
        ]
    )
    with serve(fake) as url:
        yield fake, url


def test_cloud_logs_filter_on_the_labels_hosts_ship_and_follow_pages(
    logging_fake: tuple[FakeCloudLogging, str],
) -> None:
    fake, url = logging_fake
    lines = host_logs.cloud_logs(requests.Session(), "proj", "w1", endpoint=url)
    assert [(line.host, line.text) for line in lines] == [
        ("h0", "clarateach-bootstrap: phase docker done"),
        ("h0", "agent ready"),
        ("h1", "agent ready"),
    ]
    assert fake.bodies[0]["resourceNames"] == ["projects/proj"]
    assert fake.bodies[0]["filter"] == 'labels.clarateach_workshop="w1"'
    assert len(fake.bodies) == 2  # two pages
    one = host_logs.cloud_logs(requests.Session(), "proj", "w1", 1, endpoint=url)
    assert [line.text for line in one] == ["agent ready"]
    assert fake.bodies[-1]["filter"].endswith('AND labels.clarateach_host="1"')


def test_a_hostile_workshop_id_cannot_widen_the_filter() -> None:
    with pytest.raises(ValueError):
        host_logs.log_filter('w1" OR labels.x="y', None)


def test_the_cli_reads_cloud_logging_for_a_remote_api(
    logging_fake: tuple[FakeCloudLogging, str],
    run_cli: RunCli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, url = logging_fake
    monkeypatch.setattr(cli, "_logging_session", requests.Session)
    monkeypatch.setattr(host_logs, "LOGGING_ENDPOINT", url)
    env = {"CLARATEACH_API_URL": "https://clarateach-api-1.us-central1.run.app"}
    result = run_cli("workshop", "logs", "w1", "--host", "0", "--project", "proj", "--json",
                     env=env)  # fmt: skip
    assert result.exit_code == 0, result.text
    assert [line["text"] for line in json.loads(result.stdout)["lines"]] == [
        "clarateach-bootstrap: phase docker done",
        "agent ready",
    ]
    missing = run_cli("workshop", "logs", "w1", env=env)
    assert missing.exit_code == cli.EXIT_USAGE and "--project" in missing.text


def test_the_cli_reads_local_agent_logs_in_local_mode(run_cli: RunCli, api: ApiServer) -> None:
    state = api.state_dir
    for index, text in ((0, "h0 line\n"), (1, "h1 line\n")):
        host_dir = state / "hosts" / host_name("w1", index)
        host_dir.mkdir(parents=True)
        (host_dir / "agent.log").write_text(text)
    result = run_cli("workshop", "logs", "w1", "--json")
    assert result.exit_code == 0, result.text
    lines = json.loads(result.stdout)["lines"]
    assert [(line["host"], line["text"]) for line in lines] == [
        (host_name("w1", 0), "h0 line"),
        (host_name("w1", 1), "h1 line"),
    ]
    one = run_cli("workshop", "logs", "w1", "--host", "1")
    assert "h1 line" in one.text and "h0 line" not in one.text
