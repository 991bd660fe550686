"""Observers of the gateway's calls: GenAI spans and metrics, the access log, Prometheus metrics.

They implement the protocols core/observers.py defines; core never imports them.
"""
