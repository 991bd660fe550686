"""The Ollama provider: tests mirror providers/ollama/."""
