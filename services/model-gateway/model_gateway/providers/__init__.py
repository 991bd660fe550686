"""One provider per upstream wire format, behind the Provider interface.

The kinds and their classes are listed in `registry.py`; each lives in its
own package (`openai/`, `ollama/`, ...) split into request, response and
stream translators and the provider itself. Shared by all of them, once:

- `http.py`       the pooled aiohttp client and the HTTP → gRPC error table
- `sse.py`        the Server-Sent-Events decoder
- `readers.py`    lenient typed readers for reply JSON, and WireError
- `tool_args.py`  tool-call arguments checked (valid JSON, a JSON object)
- `images.py`     image type sniffing, inline base64 from bytes or data: URLs
- `estimate.py`   the answer's text that output tokens are estimated from

Role and finish-reason names and the Struct ⇄ JSON helpers come from
`model_gateway_common` (`vocab/<dialect>.py`, `structs.py`), shared with the
bridge's front doors.
"""

from __future__ import annotations

from model_gateway.config import GatewayConfig
from model_gateway.providers.base import Provider
from model_gateway.providers.registry import build_provider


def build_providers(config: GatewayConfig) -> dict[str, Provider]:
    return {name: build_provider(name, provider) for name, provider in config.providers.items()}


__all__ = ["Provider", "build_provider", "build_providers"]
