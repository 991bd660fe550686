"""Canonical requests to and from the OpenAI wire format, for any compatible server.

One translator serves OpenAI, vLLM, Groq, OpenRouter, llama.cpp's server,
LM Studio and HuggingFace TGI's Messages API: they all speak
`POST /chat/completions` (and the legacy `/completions`, `/embeddings`,
`GET /models`) under a base URL that already ends in `/v1`.

- `request.py`   canonical request → `/chat/completions` or `/completions` body
- `response.py`  `chat.completion` / `text_completion` → canonical response
- `stream.py`    `chat.completion.chunk` events → canonical deltas and final chunk
- `errors.py`    errors reported inside a 200 body or stream
- `embed.py`     `/embeddings` both ways;  `models.py`  the `/models` list
- `wire.py`      readers for fields servers write differently (content parts, reasoning)
- `provider.py`  OpenAIProvider: HTTP, timing and error mapping (from `UpstreamHTTP`)
- `huggingface.py`  TGI: the same provider under `/v1` of the server's root

The translators are pure functions so tests can check them against the
published wire format without a server.
"""

from model_gateway.providers.openai.huggingface import HuggingFaceProvider
from model_gateway.providers.openai.provider import OpenAIProvider

__all__ = ["HuggingFaceProvider", "OpenAIProvider"]
