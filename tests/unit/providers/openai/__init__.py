"""The OpenAI-compatible provider: tests mirror providers/openai/."""
