"""Where workshops' content packs are kept (the validated zip, as uploaded).

Adapters: ``shared.adapters.local_content`` (0600 files under the state directory) and
``shared.adapters.gcs_content`` (a Cloud Storage bucket). Both pass
tests/contract/test_content_contract.py.
"""

from __future__ import annotations

import abc


class ContentStore(abc.ABC):
    """One pack per workshop, keyed by workshop id.

    Callers validate packs (``shared.content``) before ``put`` and again after ``get``; the
    store keeps bytes. Workshop ids are the platform's (``[A-Za-z0-9_-]{1,64}``); any other
    id is a ``ValueError`` (never a path or an object name built from it).
    """

    @abc.abstractmethod
    def put(self, workshop_id: str, data: bytes) -> None:
        """Store ``data`` as the workshop's pack, replacing any earlier one. A reader sees the
        old pack or the new one, never a mix."""

    @abc.abstractmethod
    def get(self, workshop_id: str) -> bytes | None:
        """The stored pack, or ``None`` if the workshop has none."""

    @abc.abstractmethod
    def delete(self, workshop_id: str) -> bool:
        """Remove the pack. ``True`` if there was one; deleting a missing pack is ``False``."""
