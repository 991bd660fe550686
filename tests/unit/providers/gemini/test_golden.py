"""The Gemini translators against the golden fixtures in tests/fixtures/gemini (see its README).

Pure functions only: canonical request → wire body, wire reply → canonical
response, and SSE transcripts → canonical chunks (split at every awkward
place a network can split them).
"""

from __future__ import annotations

import orjson
import pytest

from model_gateway.providers.base import ModelSettings
from model_gateway.providers.gemini.embed import embed_body, embed_response
from model_gateway.providers.gemini.request import count_tokens_body, generate_body
from model_gateway.providers.gemini.response import response_from
from model_gateway.providers.gemini.stream import StreamState
from model_gateway.providers.sse import SSEDecoder
from modelgateway.v1 import gateway_pb2 as pb
from tests.fakes.gemini_checks import check_generate
from tests.unit.providers.gemini.support import (
    FIXTURES,
    SETTINGS,
    canonical_chunks,
    cases,
    fixture_bytes,
    fixture_json,
    parse,
)

# The model each request case is routed to, when not SETTINGS (none today: settings have their own tests).
CASE_SETTINGS: dict[str, ModelSettings] = {}


@pytest.mark.parametrize("case", cases("generate_", "request"))
def test_request_becomes_the_wire_body(case: str) -> None:
    request = parse(fixture_json(f"{case}.canonical.json"), pb.GenerateRequest)
    body = generate_body(request, CASE_SETTINGS.get(case, SETTINGS))
    assert body == fixture_json(f"{case}.wire.json")
    # What the HTTP layer sends, and what the real API's strict parser accepts.
    assert orjson.loads(orjson.dumps(body)) == body
    check_generate(body, request.model)


@pytest.mark.parametrize("case", cases("count_tokens_", "request"))
def test_count_tokens_sends_the_whole_request(case: str) -> None:
    request = parse(fixture_json(f"{case}.canonical.json"), pb.GenerateRequest)
    assert count_tokens_body(request, request.model, SETTINGS) == fixture_json(f"{case}.wire.json")


@pytest.mark.parametrize("case", cases("embed_", "request"))
def test_embed_request_becomes_batch_embed_contents(case: str) -> None:
    request = parse(fixture_json(f"{case}.canonical.json"), pb.EmbedRequest)
    assert embed_body(request, "gemini-embedding-001", SETTINGS) == fixture_json(f"{case}.wire.json")


@pytest.mark.parametrize("case", cases("generate_", "response"))
def test_wire_reply_becomes_the_canonical_response(case: str) -> None:
    expected = parse(fixture_json(f"{case}.canonical.json"), pb.GenerateResponse)
    assert response_from(fixture_json(f"{case}.wire.json")) == expected


def test_embed_reply_without_usage_is_estimated() -> None:
    request = parse(fixture_json("embed_batch_dimensions.canonical.json"), pb.EmbedRequest)
    expected = parse(fixture_json("embed_response_batch.canonical.json"), pb.EmbedResponse)
    assert embed_response(fixture_json("embed_response_batch.wire.json"), request) == expected


def transcript_chunks(body: bytes, cut: int) -> list[pb.StreamChunk]:
    """The canonical chunks of an SSE body fed in two pieces split at byte `cut` (final without timings)."""
    state = StreamState()
    decoder = SSEDecoder()
    chunks: list[pb.StreamChunk] = []
    buffer = b""
    for piece in (body[:cut], body[cut:]):
        buffer += piece
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            event = decoder.feed(line.rstrip(b"\r"))
            if event is not None:
                chunks += [pb.StreamChunk(delta=d) for d in state.consume(orjson.loads(event.data))]
    tail = decoder.feed(buffer.rstrip(b"\r")) if buffer else None
    tail = tail or decoder.flush()
    if tail is not None:
        chunks += [pb.StreamChunk(delta=d) for d in state.consume(orjson.loads(tail.data))]
    assert state.finished
    chunks.append(pb.StreamChunk(final=state.final(pb.GenerateRequest())))
    return chunks


@pytest.mark.parametrize("case", cases("generate_", "stream"))
def test_stream_transcript_becomes_canonical_chunks_wherever_it_is_split(case: str) -> None:
    body = fixture_bytes(f"{case}.wire.sse")
    expected = canonical_chunks(case)
    # Every cut point: inside "data:", inside a JSON string, between CR and LF, in a multibyte character.
    for cut in range(len(body) + 1):
        assert transcript_chunks(body, cut) == expected, f"split at byte {cut}"


def paired_stream_cases() -> list[str]:
    streams = cases("generate_stream_", "stream")
    return [c for c in streams if (c.replace("_stream_", "_response_", 1) + ".wire.json") in _wire_names()]


def _wire_names() -> set[str]:
    return {path.name for path in FIXTURES.glob("*.wire.json")}


@pytest.mark.parametrize("case", paired_stream_cases())
def test_streamed_usage_equals_unstreamed_usage(case: str) -> None:
    unary = response_from(fixture_json(case.replace("_stream_", "_response_", 1) + ".wire.json"))
    final = transcript_chunks(fixture_bytes(f"{case}.wire.sse"), 0)[-1].final
    assert final.usage == unary.usage
    assert not final.usage.estimated
    assert final.finish_reason == unary.finish_reason


def test_every_stream_case_has_its_unstreamed_twin() -> None:
    assert paired_stream_cases() == cases("generate_stream_", "stream")


@pytest.mark.parametrize("case", paired_stream_cases())
def test_streamed_message_equals_unstreamed_message(case: str) -> None:
    """Reassembled, a stream is the same answer as the unstreamed reply (the ids too)."""
    unary = response_from(fixture_json(case.replace("_stream_", "_response_", 1) + ".wire.json"))
    state = StreamState()
    for line in fixture_bytes(f"{case}.wire.sse").decode().splitlines():
        if line.startswith("data: "):
            state.consume(orjson.loads(line.removeprefix("data: ")))
    assert state.message() == unary.message


def test_fixture_files_are_all_used() -> None:
    named = {
        f"{case}.{suffix}"
        for kind in ("request", "response", "stream")
        for case in cases("", kind)
        for suffix in ("canonical.json", "wire.json", "wire.sse")
    }
    wire_only = {p.name for p in FIXTURES.glob("*.wire.*")} - named
    # Files without a canonical twin are read by name in test_provider_http.py.
    assert all(name.startswith(("error_", "models_", "stream_")) for name in wire_only), wire_only
