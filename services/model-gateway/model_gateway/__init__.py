"""Model Gateway: one gRPC service in front of every LLM."""

__version__ = "0.1.0"
