"""Histogram buckets both processes use, so their latency series line up on one dashboard."""

# gen_ai.client.operation.duration advises these; LLM calls take from
# milliseconds (errors, cached) to minutes (long generations).
LATENCY_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
