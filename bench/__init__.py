"""Benchmark harness for the Model Gateway: `python -m bench` (or `make bench`).

It starts its own nginx upstream, the gateway and bridge the way `make run`
does, drives them with wrk, h2load and a small asyncio streaming client, and
reports throughput, latency, added latency over the direct upstream, CPU per
request and memory, as Markdown, JSON and a PNG chart.
"""
