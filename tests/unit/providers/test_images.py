"""Images for upstreams (providers/images.py): sniffing bare bytes, inline base64 from bytes or data: URLs."""

from __future__ import annotations

import pytest

from model_gateway.errors import GatewayError
from model_gateway.providers.images import inline_base64, sniff_mime
from modelgateway.v1 import gateway_pb2 as pb

PNG = b"\x89PNG\r\n\x1a\n\x00\x00"


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (PNG, "image/png"),
        (b"\xff\xd8\xff\xe0", "image/jpeg"),
        (b"GIF89a..", "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"%PDF-1.7", ""),
    ],
)
def test_sniff_mime(data: bytes, mime: str) -> None:
    assert sniff_mime(data) == mime


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (pb.ImagePart(data=PNG, mime_type="image/png"), ("image/png", "iVBORw0KGgoAAA==")),
        (pb.ImagePart(data=PNG), ("", "iVBORw0KGgoAAA==")),
        (pb.ImagePart(url="data:image/png;base64, iVBORw0KGgoAAA== "), ("image/png", "iVBORw0KGgoAAA==")),
        (pb.ImagePart(url="data:image/svg+xml,%3Csvg%2F%3E"), ("image/svg+xml", "PHN2Zy8+")),
    ],
)
def test_inline_base64(image: pb.ImagePart, expected: tuple[str, str]) -> None:
    assert inline_base64(image, "img", "Up") == expected


def test_inline_base64_names_the_upstream_that_cannot_fetch_urls() -> None:
    with pytest.raises(GatewayError) as caught:
        inline_base64(pb.ImagePart(url="https://example.com/cat.png"), "img", "Gemini")
    assert caught.value.metadata["field"] == "img.url"
    assert "Gemini accepts only inline images" in caught.value.message
