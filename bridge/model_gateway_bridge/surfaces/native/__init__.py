"""Native REST (/api/v1): the proto's google.api.http routes, transcoded grpc-gateway style.

Bodies use the proto3 JSON mapping (lowerCamelCase names, unknown fields
discarded, unpopulated fields emitted, int64 as strings), errors are
google.rpc.Status as JSON. POST /api/v1/generate with "stream": true
streams SSE; /api/v1/generate:stream streams grpc-gateway's NDJSON
({"result": chunk} lines, {"error": status} on failure).

- errors.py: google.rpc.Status as JSON
- request.py: JSON bodies → messages, rejecting what grpc-gateway rejects
- response.py: messages → proto3 JSON
- stream.py: the SSE and NDJSON framings of a stream
- routes.py: the APIRouter
"""

from __future__ import annotations

from model_gateway_bridge.surfaces.native.errors import error_response
from model_gateway_bridge.surfaces.native.routes import router

__all__ = ["error_response", "router"]
