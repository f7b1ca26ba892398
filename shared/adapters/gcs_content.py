"""Content packs in a Cloud Storage bucket: object ``workshops/<workshop id>/content.zip``.

Uses google-cloud-storage (``Bucket.blob``, ``Blob.upload_from_string``,
``Blob.download_as_bytes``, ``Blob.delete``; https://cloud.google.com/python/docs/reference/storage/latest).
A single-object upload is atomic in Cloud Storage: readers see the previous generation until
the new one is complete (https://cloud.google.com/storage/docs/consistency). The bucket is
private (Terraform ``google_storage_bucket.content``): only the functions' service account may
read or write it; hosts get their pack through ``GET /api/hosts/content``.
"""

from __future__ import annotations

from typing import Any

from shared.adapters.local_content import check_workshop_id
from shared.ports.content import ContentStore

CONTENT_TYPE = "application/zip"


def object_name(workshop_id: str) -> str:
    return f"workshops/{check_workshop_id(workshop_id)}/content.zip"


class GcsContent(ContentStore):
    def __init__(self, bucket: str, *, project: str | None = None, client: Any = None) -> None:
        if client is None:
            from google.cloud import storage  # type: ignore[attr-defined]

            client = storage.Client(project=project)
        self._bucket = client.bucket(bucket)

    def put(self, workshop_id: str, data: bytes) -> None:
        blob = self._bucket.blob(object_name(workshop_id))
        blob.upload_from_string(data, content_type=CONTENT_TYPE)

    def get(self, workshop_id: str) -> bytes | None:
        from google.api_core import exceptions as gexc

        blob = self._bucket.blob(object_name(workshop_id))
        try:
            data: bytes = blob.download_as_bytes()
        except gexc.NotFound:
            return None
        return data

    def delete(self, workshop_id: str) -> bool:
        from google.api_core import exceptions as gexc

        try:
            self._bucket.blob(object_name(workshop_id)).delete()
        except gexc.NotFound:
            return False
        return True
