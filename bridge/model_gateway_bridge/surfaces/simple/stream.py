"""Stream chunks → `data: {"text": "..."}` events, then the summary, then `[DONE]`.

    data: {"text": "Hel"}
    data: {"text": "lo"}
    data: {"done": true, "model": ..., "provider": ..., "usage": {...}, "cost": 0.0, "finish_reason": "stop"}
    data: [DONE]

A failure after the first event is `data: {"error": {"message", "type", "param", "code"}}`
and then `data: [DONE]`.
"""

from __future__ import annotations

from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.framing import SSE_DONE, sse_event
from model_gateway_bridge.streaming import Framer
from model_gateway_bridge.surfaces.openai.errors import error_body, model_failed
from model_gateway_bridge.surfaces.simple.response import summary
from modelgateway.v1 import gateway_pb2 as pb


class SimpleStream(Framer):
    unfinished = "the gateway ended the stream before the model finished"

    def __init__(self, model: str) -> None:
        self.model = model
        self._ended = False

    def frame(self, chunk: pb.StreamChunk) -> bytes:
        if self._ended:
            return b""
        if chunk.HasField("final"):
            final = chunk.final
            if final.finish_reason == pb.FINISH_REASON_ERROR:
                return self.error(model_failed(" after the stream started"))
            self._ended = True
            details = summary(self.model, final.route, final.usage, final.cost, final.finish_reason)
            return sse_event({"done": True, **details})
        if chunk.HasField("delta") and chunk.delta.text:
            return sse_event({"text": chunk.delta.text})
        return b""

    def error(self, err: BridgeError) -> bytes:
        self._ended = True
        return sse_event(error_body(err)) + SSE_DONE

    def close(self) -> bytes:
        return SSE_DONE
