"""A small, strict ``multipart/form-data`` parser (the standard library's ``cgi`` is gone in Python 3.13).

Only what an upload form needs: named parts with optional file names and content types. The client's file name is
kept as a string for display only; nothing here touches the disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message

from unetzoo.serve.errors import ApiError


@dataclass(frozen=True)
class Part:
    """One form field: its ``name``, the client's ``filename`` (display only), its declared type and bytes."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes


def _header_params(value: str, header: str = "content-disposition") -> Message:
    message = Message()
    message[header] = value
    return message


def boundary_of(content_type: str | None) -> bytes:
    """The boundary of a ``multipart/form-data`` Content-Type; 415/400 for anything else."""
    if not content_type:
        raise ApiError(415, "unsupported_media_type", "send the image as multipart/form-data with a field 'image'")
    message = _header_params(content_type, "content-type")
    if message.get_content_type() != "multipart/form-data":
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Content-Type {message.get_content_type()!r} is not multipart/form-data; "
            "send the image as a form field 'image'",
        )
    boundary = message.get_param("boundary", header="content-type")
    if not isinstance(boundary, str) or not 1 <= len(boundary) <= 70:
        raise ApiError(400, "bad_multipart", "multipart/form-data without a valid boundary parameter")
    return boundary.encode("latin-1")


def _parse_part(chunk: bytes) -> Part:
    head, sep, data = chunk.partition(b"\r\n\r\n")
    if not sep:
        raise ApiError(400, "bad_multipart", "a multipart part has no header/body separator")
    headers: dict[str, str] = {}
    for line in head.decode("latin-1").split("\r\n"):
        key, colon, value = line.partition(":")
        if colon:
            headers[key.strip().lower()] = value.strip()
    disposition = headers.get("content-disposition")
    if not disposition:
        raise ApiError(400, "bad_multipart", "a multipart part has no Content-Disposition header")
    params = _header_params(disposition)
    name = params.get_param("name", header="content-disposition")
    if not isinstance(name, str):
        raise ApiError(400, "bad_multipart", "a multipart part has no field name")
    filename = params.get_filename()
    return Part(name, filename, headers.get("content-type"), data)


def parse_multipart(body: bytes, content_type: str | None) -> list[Part]:
    """Split a ``multipart/form-data`` body into its parts (in order); 400 for a malformed body."""
    delimiter = b"--" + boundary_of(content_type)
    start = body.find(delimiter)
    if start < 0:
        raise ApiError(400, "bad_multipart", "the multipart body does not contain its boundary")
    parts = []
    pos = start + len(delimiter)
    while True:
        if body.startswith(b"--", pos):
            return parts
        if not body.startswith(b"\r\n", pos):
            raise ApiError(400, "bad_multipart", "malformed multipart boundary line")
        end = body.find(b"\r\n" + delimiter, pos + 2)
        if end < 0:
            raise ApiError(400, "bad_multipart", "the multipart body is truncated (no closing boundary)")
        parts.append(_parse_part(body[pos + 2 : end]))
        pos = end + 2 + len(delimiter)
