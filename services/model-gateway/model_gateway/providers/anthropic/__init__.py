"""The `anthropic` provider kind: canonical requests to and from the Anthropic Messages API.

- `request.py`   canonical request → `POST /v1/messages` body (and count_tokens')
- `response.py`  a Message → canonical response: blocks, stop_reason, usage
- `stream.py`    stream events → canonical deltas and the one final chunk
- `errors.py`    Anthropic's error bodies and `error` events on the shared table
- `provider.py`  AnthropicProvider: HTTP (`x-api-key`, `anthropic-version`), timing

The translators are pure functions so tests can check them against the
published wire format without a server.
"""

from model_gateway.providers.anthropic.provider import AnthropicProvider

__all__ = ["AnthropicProvider"]
