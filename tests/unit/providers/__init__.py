"""Unit tests of services/model-gateway/model_gateway/providers, one package per dialect."""
