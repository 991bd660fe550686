"""The SSE decoder against the WHATWG event-stream rules OpenAI-compatible servers rely on."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from model_gateway.providers.sse import SSEDecoder, SSEEvent, iter_events


def decode(text: str) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events = [decoder.feed(line) for line in text.split("\n")]
    return [e for e in events if e is not None]


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        pytest.param('data: {"a":1}\n\n', ['{"a":1}'], id="one-space"),
        pytest.param('data:{"a":1}\n\n', ['{"a":1}'], id="no-space"),
        pytest.param("data:  two spaces\n\n", [" two spaces"], id="only-one-space-is-stripped"),
        pytest.param("data: a:b: c\n\n", ["a:b: c"], id="colons-in-value"),
        pytest.param("data: first\ndata: second\ndata:\n\n", ["first\nsecond\n"], id="multi-line"),
        pytest.param("data\n\n", [""], id="field-without-colon"),
        pytest.param(": keep-alive\n\ndata: x\n\n", ["x"], id="comment"),
        pytest.param(": OPENROUTER PROCESSING\ndata: x\n\n", ["x"], id="comment-inside-event"),
        pytest.param("id: 7\nretry: 1000\ndata: x\n\n", ["x"], id="id-and-retry-ignored"),
        pytest.param("unknown: 1\ndata: x\n\n", ["x"], id="unknown-field-ignored"),
        pytest.param("\n\n\ndata: x\n\n\n\n", ["x"], id="extra-blank-lines"),
        pytest.param("data: [DONE]\n\n", ["[DONE]"], id="done-is-just-data"),
        pytest.param("data: a\n\ndata: b\n\n", ["a", "b"], id="two-events"),
        pytest.param("\ufeffdata: x\n\n", ["x"], id="leading-bom"),
    ],
)
def test_data_payloads(wire: str, expected: list[str]) -> None:
    assert [e.data for e in decode(wire)] == expected


def test_event_name_is_kept_and_reset_after_dispatch() -> None:
    events = decode('event: error\ndata: {"error":"boom"}\n\ndata: next\n\n')
    assert events == [SSEEvent('{"error":"boom"}', "error"), SSEEvent("next", None)]


def test_event_without_data_is_not_dispatched_and_forgets_its_name() -> None:
    assert decode("event: ping\n\ndata: x\n\n") == [SSEEvent("x", None)]


def test_bytes_lines_decode_as_utf8() -> None:
    decoder = SSEDecoder()
    assert decoder.feed("data: 22 °C ☀".encode()) is None
    assert decoder.feed(b"") == SSEEvent("22 °C ☀")


def test_a_bom_later_in_the_stream_is_data() -> None:
    decoder = SSEDecoder()
    decoder.feed("data: a")
    decoder.feed("")
    decoder.feed("data: \ufeffb")
    assert decoder.feed("") == SSEEvent("\ufeffb")


def test_flush_returns_an_unterminated_event_once() -> None:
    decoder = SSEDecoder()
    decoder.feed("data: [DONE]")
    assert decoder.flush() == SSEEvent("[DONE]")
    assert decoder.flush() is None


async def lines(*items: bytes) -> AsyncIterator[bytes]:
    for item in items:
        yield item


async def test_iter_events_yields_terminated_events_and_the_tail() -> None:
    events = [e async for e in iter_events(lines(b": hi", b"data: 1", b"", b"data:2", b"", b"data: [DONE]"))]
    assert [e.data for e in events] == ["1", "2", "[DONE]"]


async def test_iter_events_with_nothing_pending_yields_no_tail() -> None:
    events = [e async for e in iter_events(lines(b"data: 1", b"", b": trailing comment"))]
    assert [e.data for e in events] == ["1"]
