"""Form bodies, parsed in memory: URL-encoded forms, and the text fields of a multipart form
whose one file the service hashes (`offload.upload_content` finds it; no part is ever spooled
to a temporary file, and the file's bytes are not copied here)."""

from __future__ import annotations

from email.message import Message
from urllib.parse import parse_qs

from fastapi import HTTPException

from hashwarden.errors import UsageError

__all__ = ["Form", "multipart_fields"]

#: A text field longer than this is refused (notes are the longest, at 2000 characters).
MAX_FIELD_BYTES = 16 * 1024


def _param(header: str, value: str, name: str) -> str | None:
    message = Message()
    message[header] = value
    found = message.get_param(name, header=header)
    return found if isinstance(found, str) else None


class Form:
    """A posted form's fields (each name may repeat, as checkboxes do)."""

    def __init__(self, fields: dict[str, list[str]] | None = None) -> None:
        self.fields = fields or {}

    @classmethod
    def urlencoded(cls, body: bytes) -> Form:
        try:
            text = body.decode("utf-8")
            return cls(parse_qs(text, keep_blank_values=True, max_num_fields=200))
        except (UnicodeDecodeError, ValueError) as exc:
            raise HTTPException(400, f"the form could not be read: {exc}") from exc

    def get(self, name: str, default: str = "") -> str:
        """The field's first value, stripped ('' when it is not there)."""
        values = self.fields.get(name)
        return values[0].strip() if values else default

    def optional(self, name: str) -> str | None:
        """The field's value, or None when it is empty or not there."""
        return self.get(name) or None

    def all(self, name: str) -> list[str]:
        return [v.strip() for v in self.fields.get(name, []) if v.strip()]

    def flag(self, name: str) -> bool:
        """A checkbox: ticked when sent with any value."""
        return name in self.fields

    def number(self, name: str, label: str, *, least: float, most: float) -> int | None:
        """A whole number field (None when empty), within bounds, or a UsageError."""
        text = self.get(name)
        if not text:
            return None
        try:
            value = int(text)
        except ValueError:
            raise UsageError(f"{label} must be a whole number, not {text!r}") from None
        if not least <= value <= most:
            raise UsageError(f"{label} must be between {least:g} and {most:g}")
        return value

    def ratio(self, name: str, label: str) -> float | None:
        text = self.get(name)
        if not text:
            return None
        try:
            value = float(text)
        except ValueError:
            raise UsageError(f"{label} must be a number between 0 and 1, not {text!r}") from None
        if not 0.0 <= value <= 1.0:
            raise UsageError(f"{label} must be between 0 and 1")
        return value


def multipart_fields(content_type: str, body: bytes, max_parts: int) -> Form:
    """The text fields (parts without a filename) of a multipart/form-data body."""
    boundary = _param("content-type", content_type, "boundary")
    if not content_type.lower().startswith("multipart/form-data") or not boundary:
        raise HTTPException(422, "the form must be sent as multipart/form-data")
    delimiter = b"--" + boundary.encode("latin-1", "replace")
    fields: dict[str, list[str]] = {}
    position = body.find(delimiter)
    parts = 0
    while position >= 0:
        start = position + len(delimiter)
        if body[start : start + 2] == b"--":
            break  # the closing boundary
        parts += 1
        if parts > max_parts:
            raise HTTPException(413, f"a form may have at most {max_parts} parts")
        head_end = body.find(b"\r\n\r\n", start)
        end = body.find(b"\r\n" + delimiter, start)
        if head_end < 0 or end < 0 or head_end > end:
            raise HTTPException(422, "the multipart form is not closed by its boundary")
        head = body[start:head_end].decode("latin-1")
        disposition = ""
        for line in head.split("\r\n"):
            header, _, value = line.partition(":")
            if header.strip().lower() == "content-disposition":
                disposition = value.strip()
        name = _param("content-disposition", disposition, "name")
        if name is not None and _param("content-disposition", disposition, "filename") is None:
            if end - head_end - 4 > MAX_FIELD_BYTES:
                raise HTTPException(413, f"the form field {name!r} is too long")
            value = body[head_end + 4 : end].decode("utf-8", "replace")
            fields.setdefault(name, []).append(value)
        position = end + 2
    return Form(fields)
