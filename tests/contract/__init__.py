"""Contract tests: the running bridge against contracts/openapi.yaml, the SDKs' types and golden pairs."""
