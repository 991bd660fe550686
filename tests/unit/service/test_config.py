"""Config loading: interpolation, validation, and one-line errors that name the place."""

from __future__ import annotations

from pathlib import Path

import pytest

from model_gateway.config import ConfigError, load_config, parse_config

BASE = """
providers:
  local: {kind: ollama}
  groq: {kind: openai, base_url: "https://api.groq.com/openai/v1", api_key: "${GROQ_KEY}"}
models:
  - name: llama3.2
    aliases: [tiny]
    deployments:
      - {provider: local, model: "llama3.2"}
      - {provider: groq, model: "llama-3.2-3b-preview"}
"""


def test_valid_config_resolves_defaults_and_secrets() -> None:
    config = parse_config(BASE, env={"GROQ_KEY": "gsk-secret"})
    assert config.server.grpc == "127.0.0.1:50051"
    assert config.providers["local"].url == "http://127.0.0.1:11434"
    key = config.providers["groq"].api_key
    assert key is not None and key.get_secret_value() == "gsk-secret"
    assert "gsk-secret" not in repr(config)  # SecretStr keeps it out of reprs and logs
    assert config.models[0].deployments[1].model == "llama-3.2-3b-preview"


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("server: {grpc: '${ADDR:-0.0.0.0:1}'}", {}, "0.0.0.0:1"),
        ("server: {grpc: '${ADDR:-0.0.0.0:1}'}", {"ADDR": "127.0.0.1:9"}, "127.0.0.1:9"),
        ("server: {grpc: '${ADDR:-0.0.0.0:1}'}", {"ADDR": ""}, "0.0.0.0:1"),
        ("server: {grpc: 'unix://${DIR}/g.sock'}", {"DIR": "/run"}, "unix:///run/g.sock"),
    ],
)
def test_interpolation(text: str, env: dict[str, str], expected: str) -> None:
    assert parse_config(text, env=env).server.grpc == expected


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        (BASE, {}, "cfg.yaml: providers.groq.api_key: environment variable ${GROQ_KEY} is not set"),
        (
            BASE.replace("provider: groq", "provider: grok"),
            {"GROQ_KEY": "k"},
            "cfg.yaml: models[0].deployments[1].provider: 'grok' is not a configured provider",
        ),
        ("providers: {x: {kind: mistral}}", {}, "cfg.yaml: providers.x.kind: Input should be"),
        (
            "models: [{name: a, deployments: []}]",
            {},
            "cfg.yaml: models[0].deployments: List should have at least 1",
        ),
        ("server: {grcp: x}", {}, "cfg.yaml: server.grcp: unknown key"),
        (
            "server: {max_body_bytes: -1}",
            {},
            "cfg.yaml: server.max_body_bytes: Input should be greater than 0",
        ),
        ("- a\n- b\n", {}, "cfg.yaml: the top level must be a mapping, not list"),
        ("server:\n  grpc: [unclosed\n", {}, "cfg.yaml:3:1: invalid YAML"),
        (
            BASE + "  - name: tiny\n    deployments: [{provider: local, model: x}]\n",
            {"GROQ_KEY": "k"},
            "cfg.yaml: models[1].name: 'tiny' is already used by models[0].aliases[0]",
        ),
        (
            BASE.replace("aliases: [tiny]", "aliases: [tiny]\n    fallbacks: [nope]"),
            {"GROQ_KEY": "k"},
            "cfg.yaml: models[0].fallbacks[0]: 'nope' is not a configured model",
        ),
    ],
)
def test_errors_name_the_place(text: str, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "cfg.yaml", env=env)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(binary)


def test_default_config_is_valid() -> None:
    config = load_config(Path(__file__).resolve().parents[3] / "config" / "gateway.yaml")
    names = {name for model in config.models for name in (model.name, *model.aliases)}
    assert {"llama3.2", "qwen3:4b", "gemma3:4b", "tiny", "small", "coding", "embedding"} <= names
