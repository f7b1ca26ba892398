"""The one error a content pack is refused with."""

from __future__ import annotations

from shared.domain.errors import ValidationError


class ContentPackError(ValidationError):
    """A pack is refused. ``file`` is the pack path at fault (``"archive"`` for the zip
    itself), ``field`` the manifest field or archive property (``"path"``, ``"size"``,
    ``"steps[2].guide"``). The HTTP edge answers 400 ``invalid_content_pack`` with both."""

    code = "invalid_content_pack"

    def __init__(self, file: str, field: str, message: str) -> None:
        shown = _printable(file)
        # ValidationError.__init__ would prefix only the field; name the file too.
        super().__init__(field, message)
        self.message = f"{shown}: {field}: {message}"
        self.args = (self.message,)
        self.details = {"field": field, "file": shown}
        self.file = shown


def _printable(name: str, limit: int = 200) -> str:
    """A file name safe to echo: control characters escaped, length bounded."""
    out = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in name)
    return out if len(out) <= limit else out[: limit - 3] + "..."
