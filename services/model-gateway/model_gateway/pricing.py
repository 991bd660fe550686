"""Cost of a call from the model's configured prices (USD per million tokens)."""

from __future__ import annotations

from model_gateway.config import PricingConfig
from modelgateway.v1 import gateway_pb2 as pb


def cost_of(pricing: PricingConfig, usage: pb.Usage) -> pb.Cost:
    cached = min(usage.cached_input_tokens, usage.input_tokens)
    cached_rate = (
        pricing.input_per_mtok if pricing.cached_input_per_mtok is None else pricing.cached_input_per_mtok
    )
    input_usd = ((usage.input_tokens - cached) * pricing.input_per_mtok + cached * cached_rate) / 1e6
    output_usd = usage.output_tokens * pricing.output_per_mtok / 1e6
    return pb.Cost(input_usd=input_usd, output_usd=output_usd, total_usd=input_usd + output_usd)
