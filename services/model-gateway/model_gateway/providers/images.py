"""Canonical images for upstreams: the type of bare bytes, and inline (base64) images.

OpenAI-compatible servers take a URL (a data: URL for bytes); upstreams that
want the image inline (Ollama's `images`, and APIs with a base64 source and a
media type) take base64 and cannot fetch a URL themselves.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote_to_bytes

from model_gateway.errors import invalid
from modelgateway.v1 import gateway_pb2 as pb

# Magic numbers for image bytes sent without a mime type.
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def sniff_mime(data: bytes) -> str:
    """The image type its first bytes announce, or "" when unrecognised."""
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return ""


def inline_base64(image: pb.ImagePart, where: str, upstream: str) -> tuple[str, str]:
    """(mime type, base64 payload) of an image that `upstream` (its name, for errors) wants inline.

    Bytes are encoded, their mime type as given ("" when none: see
    sniff_mime); a data: URL is split, a percent-encoded payload re-encoded
    as base64. Any other URL is INVALID_ARGUMENT naming `where`.
    """
    source = image.WhichOneof("source")
    if source == "data":
        return image.mime_type, base64.b64encode(image.data).decode("ascii")
    if source != "url":
        raise invalid(where, "has neither url nor data")
    url = image.url
    if not url.startswith("data:"):
        scheme = url.split(":", 1)[0] if ":" in url else "relative"
        raise invalid(
            f"{where}.url",
            f"{upstream} accepts only inline images (bytes or a data: URL), not {scheme} URLs: {url[:80]!r}",
        )
    header, comma, payload = url.partition(",")
    if not comma:
        raise invalid(f"{where}.url", "is a data: URL without a ',' before its payload")
    mime = header[5:].partition(";")[0]
    if not header.lower().endswith(";base64"):
        # A data: URL may carry percent-encoded bytes; base64 is what inline images are.
        return mime, base64.b64encode(unquote_to_bytes(payload)).decode("ascii")
    payload = payload.strip()
    try:
        base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise invalid(f"{where}.url", "the data: URL's payload is not valid base64") from None
    return mime, payload
