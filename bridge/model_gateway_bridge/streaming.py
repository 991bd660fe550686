"""The one loop that turns an opened gateway stream into a streamed HTTP body, for every surface.

A surface says how its stream looks (a Framer: SSE events, NDJSON lines);
this loop decides how every stream ends. Once the first chunk is out the
status line is sent, so a failure can no longer be an HTTP error: it ends
the body with the surface's own terminal error frame, never with a silent
cut. That covers a gRPC error after the first chunk, a stream that ends
without its final chunk, and a bug in a framer. The gRPC stream is closed
however the body ends, so a client that goes away cancels the upstream call.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator

from model_gateway_bridge.client import OpenStream
from model_gateway_bridge.drain import DRAIN, shutting_down
from model_gateway_bridge.errors import BridgeError
from modelgateway.v1 import gateway_pb2 as pb

log = logging.getLogger("model_gateway_bridge.streaming")


class Framer(ABC):
    """One surface's stream framing: bytes per chunk, its terminal error, its end."""

    # The error a stream gets when the gateway ends it without a final chunk.
    unfinished = "the gateway ended the stream without a final chunk"

    @abstractmethod
    def frame(self, chunk: pb.StreamChunk) -> bytes:
        """The bytes for one chunk (b"" when it adds nothing the client would see)."""

    @abstractmethod
    def error(self, err: BridgeError) -> bytes:
        """The terminal frame for a failure after the stream started."""

    def close(self) -> bytes:
        """What follows the final chunk's frame at the end of the stream (OpenAI's [DONE])."""
        return b""


async def stream_body(opened: OpenStream, framer: Framer) -> AsyncGenerator[bytes, None]:
    """The body of a streamed reply; however it ends, its last frame says how (a stream still
    running at the end of a stop's grace period too: drain.py)."""
    finished = False
    DRAIN.streams.add(opened)
    try:
        async for chunk in opened.chunks():
            finished = finished or chunk.HasField("final")
            data = framer.frame(chunk)
            if data:
                yield data
        # Read to the end, not just to the final chunk, so the call ends OK on both sides.
        end = framer.close() if finished else framer.error(BridgeError(502, framer.unfinished))
        if end:
            yield end
    except BridgeError as err:
        yield framer.error(shutting_down() if opened in DRAIN.cut_streams else err)
    except asyncio.CancelledError:
        if opened not in DRAIN.cut_streams:
            raise  # the client went away, or the task was cancelled: nobody to tell
        yield framer.error(shutting_down())  # our own cut of the gateway call (a local cancel)
    except Exception as exc:  # a bug here must still end the stream visibly
        log.error("framing a stream failed (%s)", type(framer).__name__, exc_info=exc)
        yield framer.error(BridgeError(500, "internal error in the bridge"))
    finally:
        DRAIN.streams.discard(opened)
        DRAIN.cut_streams.discard(opened)
        await opened.aclose()
