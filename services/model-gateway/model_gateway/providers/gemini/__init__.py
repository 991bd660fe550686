"""Canonical requests to and from the Gemini API (Generative Language API, v1beta).

- `request.py`   canonical request → `generateContent` body (also for `:countTokens`)
- `schema.py`    JSON Schema → Gemini's OpenAPI-subset `Schema` (or INVALID_ARGUMENT)
- `response.py`  `GenerateContentResponse` → canonical response (parts, finish reason, usage)
- `stream.py`    `:streamGenerateContent?alt=sse` chunks → canonical deltas and final chunk
- `errors.py`    `google.rpc.Status` error bodies → GatewayError
- `embed.py`     `:batchEmbedContents` both ways;  `wire.py`  paths and typed readers
- `provider.py`  GeminiProvider: HTTP (`x-goog-api-key`), timing, errors

The translators are pure functions so tests can check them against the
published wire format without a server.
"""

from model_gateway.providers.gemini.provider import GeminiProvider

__all__ = ["GeminiProvider"]
