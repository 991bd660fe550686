"""The REST bridge: OpenAI, Ollama and native REST transcoded to the ModelGateway gRPC service."""
