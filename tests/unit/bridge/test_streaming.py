"""The one end-of-stream loop: every way a stream ends gives the surface's own last frame,
and the gRPC stream is closed whichever way it was."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from model_gateway_bridge.client import OpenStream
from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.streaming import Framer, stream_body
from modelgateway.v1 import gateway_pb2 as pb


class Recording(Framer):
    """Frames a delta as its text and the final chunk as b"final"; fails on the text "boom"."""

    def frame(self, chunk: pb.StreamChunk) -> bytes:
        if chunk.delta.text == "boom":
            raise RuntimeError("a bug in a framer")
        return b"final;" if chunk.HasField("final") else chunk.delta.text.encode()

    def error(self, err: BridgeError) -> bytes:
        return f"error {err.status}: {err.message};".encode()

    def close(self) -> bytes:
        return b"end;"


class Upstream:
    """An OpenStream that records whether its call was cancelled (a no-op on a call that ended)."""

    def __init__(self, chunks: list[pb.StreamChunk], fail: BridgeError | None = None) -> None:
        self.cancelled = self.closed = False
        self.opened = OpenStream(chunks[0], self._rest(chunks[1:], fail), {}, self._cancel)

    def _cancel(self) -> None:
        self.cancelled = True

    async def _rest(
        self, chunks: list[pb.StreamChunk], fail: BridgeError | None
    ) -> AsyncIterator[pb.StreamChunk]:
        try:
            for chunk in chunks:
                yield chunk
            if fail is not None:
                raise fail
        finally:
            self.closed = True


def delta(text: str) -> pb.StreamChunk:
    return pb.StreamChunk(delta=pb.Delta(text=text))


FINAL = pb.StreamChunk(final=pb.FinalChunk(finish_reason=pb.FINISH_REASON_STOP))
CUT = BridgeError(503, "provider 'cloud' ended the stream early", reason="STREAM_INTERRUPTED")

ENDINGS: list[tuple[str, list[pb.StreamChunk], BridgeError | None, list[bytes]]] = [
    ("a final chunk, then the end", [delta("a"), delta("b"), FINAL], None, [b"a", b"b", b"final;", b"end;"]),
    (
        "the end without a final chunk",
        [delta("a"), delta("b")],
        None,
        [b"a", b"b", b"error 502: the gateway ended the stream without a final chunk;"],
    ),
    (
        "a failure after the first chunk",
        [delta("a")],
        CUT,
        [b"a", b"error 503: provider 'cloud' ended the stream early;"],
    ),
    (
        "a failure after the final chunk",
        [delta("a"), FINAL],
        CUT,
        [b"a", b"final;", b"error 503: provider 'cloud' ended the stream early;"],
    ),
    (
        "a bug while framing",
        [delta("a"), delta("boom"), delta("c"), FINAL],
        None,
        [b"a", b"error 500: internal error in the bridge;"],
    ),
    ("empty frames are not sent", [delta(""), delta("a"), FINAL], None, [b"a", b"final;", b"end;"]),
]


@pytest.mark.parametrize(("chunks", "fail", "frames"), [e[1:] for e in ENDINGS], ids=[e[0] for e in ENDINGS])
async def test_every_ending_has_a_last_frame_and_closes_the_call(
    chunks: list[pb.StreamChunk], fail: BridgeError | None, frames: list[bytes]
) -> None:
    upstream = Upstream(chunks, fail)
    assert [frame async for frame in stream_body(upstream.opened, Recording())] == frames
    assert upstream.closed and upstream.cancelled


async def test_a_client_that_leaves_closes_the_call() -> None:
    upstream = Upstream([delta("a"), delta("b"), FINAL])
    body = stream_body(upstream.opened, Recording())
    assert await anext(body) == b"a"  # only the first chunk: the rest of the call never started
    assert not upstream.cancelled
    await body.aclose()  # what the server does with the body of a client that went away
    assert upstream.cancelled


async def test_a_client_that_leaves_mid_stream_closes_the_call() -> None:
    upstream = Upstream([delta("a"), delta("b"), delta("c"), FINAL])
    body = stream_body(upstream.opened, Recording())
    assert [await anext(body), await anext(body)] == [b"a", b"b"]
    await body.aclose()
    assert upstream.closed and upstream.cancelled


async def test_a_framer_without_close_ends_after_the_final_frame() -> None:
    class Plain(Recording):
        def close(self) -> bytes:
            return Framer.close(self)  # the default: nothing after the final chunk

    upstream = Upstream([delta("a"), FINAL])
    assert [frame async for frame in stream_body(upstream.opened, Plain())] == [b"a", b"final;"]
