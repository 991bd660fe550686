"""Ollama's native API (/api/chat, /api/generate, /api/embed, /api/tags, ...) in front of the gateway.

The wire format is ollama/ollama docs/api.md; where the docs are loose, the
official `ollama` Python client's types (ChatResponse, GenerateResponse,
ListResponse, ShowResponse, ProcessResponse, EmbedResponse) are the judge.

- errors.py: the `{"error": "..."}` body, and the wording of a bad field
- request.py, messages.py: /api/chat and /api/generate bodies → canonical
- response.py: the canonical reply → the final reply object
- stream.py: stream chunks → NDJSON lines (streaming is the default)
- embeddings.py, models.py: /api/embed(dings), /api/tags and /api/show
- routes.py: the APIRouter

Ollama's server answers at the root (/ and /api/*), so this surface takes
every request that no other surface claims, 404s included.
"""

from __future__ import annotations

from model_gateway_bridge.surfaces.ollama.errors import error_response
from model_gateway_bridge.surfaces.ollama.routes import router

__all__ = ["error_response", "router"]
