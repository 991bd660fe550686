"""HuggingFace TGI: its Messages API is OpenAI's, served under `/v1` of the server's own root."""

from __future__ import annotations

from model_gateway.config import ProviderConfig
from model_gateway.providers.openai.provider import OpenAIProvider


class HuggingFaceProvider(OpenAIProvider):
    def __init__(self, name: str, config: ProviderConfig) -> None:
        if not config.url.endswith("/v1"):
            config = config.model_copy(update={"base_url": config.url + "/v1"})
        super().__init__(name, config)
