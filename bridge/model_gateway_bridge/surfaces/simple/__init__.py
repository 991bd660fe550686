"""The simplest gateways' shape: `POST /v1/chat` with one prompt, answered with the text.

For clients written against minimal gateways: `{"prompt", "model" | "provider",
"stream", "max_tokens", "temperature"}` in, `{"text", "model", "provider",
"usage", "cost", "finish_reason"}` out, or an SSE stream of `{"text": ...}`
deltas, one final event with the rest, and `[DONE]`. Errors are OpenAI's
error object (what such clients already parse).

- request.py: the body → the canonical request
- models.py: a `provider` alone → that provider's first configured model (ListModels, cached briefly)
- response.py, stream.py: the reply and its stream framing
- routes.py: the APIRouter
"""

from __future__ import annotations

from model_gateway_bridge.surfaces.openai.errors import error_response
from model_gateway_bridge.surfaces.simple.routes import router

__all__ = ["error_response", "router"]
