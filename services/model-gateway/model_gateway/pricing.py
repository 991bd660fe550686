"""Cost of a call from the model's configured prices (USD per million tokens).

`usage.input_tokens` is the whole prompt; `cached_input_tokens` (read from
the provider's prompt cache) and `cache_write_input_tokens` (written to it,
Anthropic's cache_creation_input_tokens) are parts of it, each priced at its
own rate when one is configured and at the input price otherwise.
"""

from __future__ import annotations

from model_gateway.config import PricingConfig
from modelgateway.v1 import gateway_pb2 as pb


def cost_of(pricing: PricingConfig, usage: pb.Usage) -> pb.Cost:
    cached = min(usage.cached_input_tokens, usage.input_tokens)
    written = min(usage.cache_write_input_tokens, usage.input_tokens - cached)
    fresh = usage.input_tokens - cached - written
    cached_rate = _rate(pricing.cached_input_per_mtok, pricing.input_per_mtok)
    write_rate = _rate(pricing.cache_write_per_mtok, pricing.input_per_mtok)
    input_usd = (fresh * pricing.input_per_mtok + cached * cached_rate + written * write_rate) / 1e6
    output_usd = usage.output_tokens * pricing.output_per_mtok / 1e6
    return pb.Cost(input_usd=input_usd, output_usd=output_usd, total_usd=input_usd + output_usd)


def _rate(specific: float | None, fallback: float) -> float:
    return fallback if specific is None else specific
