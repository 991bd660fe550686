"""A stream's chunks in grpc-gateway's two framings: SSE events, or NDJSON `{"result": chunk}` lines.

Chunks go out as they are (the final one included); a failure after the
first frame is a google.rpc.Status: an SSE `error` event, or an NDJSON
`{"error": status}` line. Both framers are stateless, so one of each serves
every stream.
"""

from __future__ import annotations

from model_gateway_bridge.errors import BridgeError
from model_gateway_bridge.framing import ndjson_line, sse_event
from model_gateway_bridge.streaming import Framer
from model_gateway_bridge.surfaces.native.errors import status_json
from model_gateway_bridge.surfaces.native.response import to_json
from modelgateway.v1 import gateway_pb2 as pb


class SseFramer(Framer):
    def frame(self, chunk: pb.StreamChunk) -> bytes:
        return sse_event(to_json(chunk))

    def error(self, err: BridgeError) -> bytes:
        return sse_event({"error": status_json(err)}, event="error")


class NdjsonFramer(Framer):
    def frame(self, chunk: pb.StreamChunk) -> bytes:
        return ndjson_line({"result": to_json(chunk)})

    def error(self, err: BridgeError) -> bytes:
        return ndjson_line({"error": status_json(err)})


SSE = SseFramer()
NDJSON = NdjsonFramer()
