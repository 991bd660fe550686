"""Ollama's native API (/api/chat, /api/generate, /api/embed, /api/tags, /api/show) ⇄ canonical.

The wire format is the one published in ollama/ollama docs/api.md, with
api/types.go for fields its examples leave out (tool-call `id` and
`function.index`, `tool_call_id`). Streams are NDJSON: one object per line,
the last with `"done": true` and the counters; an error after the 200 arrives
as an `{"error": "..."}` line. Tool-call arguments are JSON objects on the
wire and JSON strings in the canonical schema.

- `request.py`   canonical request → `/api/chat` or `/api/generate` body
- `response.py`  a reply object → canonical response (usage, timings, tool calls)
- `stream.py`    NDJSON stream objects → canonical deltas and final chunk
- `embed.py`     `/api/embed` both ways;  `models.py`  `/api/tags` and `/api/show`
- `wire.py`      typed readers for the reply JSON
- `provider.py`  OllamaProvider: moves bytes through the shared UpstreamHTTP

Translation is pure functions, testable without HTTP.
"""

from model_gateway.providers.ollama.provider import OllamaProvider

__all__ = ["OllamaProvider"]
