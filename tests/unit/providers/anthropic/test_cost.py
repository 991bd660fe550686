"""Pricing of Anthropic usage: cache reads and writes are parts of the prompt, each at its own rate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import pytest

from model_gateway.config import PricingConfig
from model_gateway.pricing import cost_of
from model_gateway.providers.anthropic.response import usage_from

# Claude Sonnet's list prices, USD per million tokens: writes cost 1.25x input, reads 0.1x.
INPUT, OUTPUT, READ, WRITE = 3.0, 15.0, 0.30, 3.75


@dataclass(frozen=True)
class Prices:
    """PricingConfig with cache_write_per_mtok (duck-typed until the config declares it)."""

    input_per_mtok: float = INPUT
    output_per_mtok: float = OUTPUT
    cached_input_per_mtok: float | None = READ
    cache_write_per_mtok: float | None = WRITE


def priced(usage: dict[str, int], prices: object) -> float:
    canonical = usage_from(usage)
    assert canonical is not None
    return cost_of(cast(PricingConfig, prices), canonical).input_usd


def test_the_docs_cache_write_and_read_are_priced_at_their_rates() -> None:
    # The prompt-caching docs' example: 188086 tokens written, then read.
    write = {"input_tokens": 21, "cache_creation_input_tokens": 188086, "cache_read_input_tokens": 0}
    read = {"input_tokens": 21, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 188086}
    assert priced(write, Prices()) == pytest.approx((21 * INPUT + 188086 * WRITE) / 1e6)
    assert priced(read, Prices()) == pytest.approx((21 * INPUT + 188086 * READ) / 1e6)


def test_unset_cache_rates_fall_back_to_the_input_price() -> None:
    usage = {"input_tokens": 100, "cache_creation_input_tokens": 1000, "cache_read_input_tokens": 2000}
    assert priced(usage, Prices(cached_input_per_mtok=None, cache_write_per_mtok=None)) == pytest.approx(
        3100 * INPUT / 1e6
    )
    # Today's PricingConfig has no cache-write price: writes cost the input price.
    config = PricingConfig(input_per_mtok=INPUT, output_per_mtok=OUTPUT, cached_input_per_mtok=READ)
    assert priced(usage, config) == pytest.approx((1100 * INPUT + 2000 * READ) / 1e6)
