"""The ``ContentStore`` contract, run unchanged against the local files adapter and the Cloud
Storage adapter (the real google-cloud-storage client against tests/support/fake_gcs.py)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.adapters.gcs_content import GcsContent, object_name
from shared.adapters.local_content import LocalContent
from shared.ports.content import ContentStore
from tests.support.fake_gcs import FakeGcs, serve_gcs

BUCKET = "ct-content-test"


@pytest.fixture(params=["local", "gcs"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ContentStore]:
    if request.param == "local":
        yield LocalContent(tmp_path / "content")
        return
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    fake = FakeGcs(BUCKET)
    with serve_gcs(fake) as base:
        client = storage.Client(
            project="proj-test",
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": base},
        )
        adapter = GcsContent(BUCKET, client=client)
        adapter.fake = fake  # type: ignore[attr-defined]
        yield adapter


def test_put_get_replace_and_delete(store: ContentStore) -> None:
    assert store.get("w1") is None
    store.put("w1", b"PK first")
    store.put("w2", b"PK other")
    store.put("w1", b"PK second")

    assert store.get("w1") == b"PK second"
    assert store.get("w2") == b"PK other"
    assert store.delete("w1") is True
    assert store.delete("w1") is False
    assert store.get("w1") is None
    assert store.get("w2") == b"PK other"


def test_a_large_pack_round_trips(store: ContentStore) -> None:
    data = os.urandom(9 * 1024 * 1024)  # above the client's 8 MiB multipart limit: resumable
    store.put("wbig", data)
    assert store.get("wbig") == data


@pytest.mark.parametrize("bad", ["", "../x", "a/b", "w1.zip", "x" * 65, "w\x00"])
def test_ids_that_are_not_workshop_ids_are_refused(store: ContentStore, bad: str) -> None:
    with pytest.raises(ValueError):
        store.put(bad, b"x")
    with pytest.raises(ValueError):
        store.get(bad)


def test_local_files_are_private(tmp_path: Path) -> None:
    store = LocalContent(tmp_path / "content")
    store.put("w1", b"PK")
    path = tmp_path / "content" / "w1.zip"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["w1.zip"]  # no temp files left


def test_gcs_objects_are_named_per_workshop_and_typed_as_zip() -> None:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    fake = FakeGcs(BUCKET)
    with serve_gcs(fake) as base:
        client = storage.Client(
            project="p", credentials=AnonymousCredentials(), client_options={"api_endpoint": base}
        )
        GcsContent(BUCKET, client=client).put("wabc", b"PK")
    assert object_name("wabc") == "workshops/wabc/content.zip"
    data, _generation, content_type = fake.objects["workshops/wabc/content.zip"]
    assert (data, content_type) == (b"PK", "application/zip")
