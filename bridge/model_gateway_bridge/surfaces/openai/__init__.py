"""The OpenAI API (/v1/chat/completions, /v1/completions, /v1/models, /v1/embeddings) in front of the gateway.

The wire format is openai/openai-openapi (CreateChatCompletionRequest and
Response, CreateChatCompletionStreamResponse, CreateCompletionRequest and
Response, Model, ListModelsResponse, CreateEmbeddingRequest and Response,
Error); where the spec is loose, the `openai` Python SDK's types are the judge.

- errors.py: the Error object, and the wording of a bad parameter
- request.py, messages.py, tools.py: chat and legacy completion bodies → canonical
- response.py: the canonical reply → chat.completion / text_completion
- stream.py: stream chunks → SSE events
- embeddings.py, models.py: /v1/embeddings and /v1/models both ways
- routes.py: the APIRouter

Translation is pure functions and one small stream framer (testable without
HTTP); the routes only move messages through the bridge core.
"""

from __future__ import annotations

from model_gateway_bridge.surfaces.openai.errors import error_response
from model_gateway_bridge.surfaces.openai.routes import router

__all__ = ["error_response", "router"]
