"""The gateway's YAML configuration: loading, ${VAR} interpolation, validation.

Every error names the file and either the line (YAML syntax) or the key path
(`models[2].deployments[0].provider: ...`), on one line, so a bad start says
exactly what to fix.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

ENV_CONFIG = "MODEL_GATEWAY_CONFIG"
DEFAULT_CONFIG = "config/gateway.yaml"

ProviderKind = Literal["ollama", "openai", "anthropic", "gemini", "huggingface"]

DEFAULT_BASE_URLS: dict[str, str] = {
    "ollama": "http://127.0.0.1:11434",
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "gemini": "https://generativelanguage.googleapis.com",
    "huggingface": "http://127.0.0.1:8080",
}


class ConfigError(Exception):
    """A configuration problem, already phrased for a one-line report."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(_Strict):
    grpc: str = "127.0.0.1:50051"
    bridge: str = "127.0.0.1:8080"
    metrics: str | None = None
    max_message_bytes: int = Field(default=16 * 1024 * 1024, gt=0)
    max_body_bytes: int = Field(default=4 * 1024 * 1024, gt=0)
    request_timeout_s: float = Field(default=600.0, gt=0)
    shutdown_grace_s: float = Field(default=10.0, ge=0)

    @field_validator("metrics", mode="before")
    @classmethod
    def _empty_is_off(cls, value: Any) -> Any:
        # `metrics: "${MODEL_GATEWAY_METRICS:-}"` leaves metrics off when the variable is unset.
        return None if value == "" else value


class ProviderConfig(_Strict):
    kind: ProviderKind
    base_url: str | None = None
    api_key: SecretStr | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    connect_timeout_s: float = Field(default=5.0, gt=0)
    timeout_s: float = Field(default=600.0, gt=0)
    max_connections: int = Field(default=256, gt=0)

    @field_validator("api_key", mode="before")
    @classmethod
    def _empty_key_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @property
    def url(self) -> str:
        return (self.base_url or DEFAULT_BASE_URLS[self.kind]).rstrip("/")


class DeploymentConfig(_Strict):
    provider: str
    model: str
    weight: int = Field(default=1, ge=0)


class PricingConfig(_Strict):
    input_per_mtok: float = Field(default=0.0, ge=0)
    output_per_mtok: float = Field(default=0.0, ge=0)
    cached_input_per_mtok: float | None = Field(default=None, ge=0)


class ModelConfig(_Strict):
    name: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)
    deployments: list[DeploymentConfig] = Field(min_length=1)
    fallbacks: list[str] = Field(default_factory=list)
    pricing: PricingConfig = Field(default_factory=PricingConfig)
    context_window: int | None = Field(default=None, gt=0)
    capabilities: list[str] = Field(default_factory=lambda: ["chat"])


class TelemetryConfig(_Strict):
    """Tracing. The standard OTEL_* environment variables win over these keys."""

    enabled: bool | None = None  # None: on exactly when an OTLP endpoint is configured
    otlp_endpoint: str | None = None
    otlp_protocol: Literal["grpc", "http/protobuf"] | None = None
    service_name: str = Field(default="model-gateway", min_length=1)  # the bridge adds "-bridge"
    record_content: bool = False  # prompts and completions on spans: opt-in only


class GatewayConfig(_Strict):
    server: ServerConfig = Field(default_factory=ServerConfig)
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    models: list[ModelConfig] = Field(default_factory=list)
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _interpolate(node: Any, path: str, env: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {k: _interpolate(v, _join(path, str(k)), env) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(v, f"{path}[{i}]", env) for i, v in enumerate(node)]
    if not isinstance(node, str) or "${" not in node:
        return node

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = env.get(name)
        if value is None or (value == "" and default is not None):
            if default is None:
                raise ConfigError(f"{path}: environment variable ${{{name}}} is not set")
            return default
        return value

    return _VAR.sub(replace, node)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _loc_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path = f"{path}[{part}]" if isinstance(part, int) else _join(path, str(part))
    return path


def _check_references(config: GatewayConfig) -> None:
    names: dict[str, str] = {}
    for i, model in enumerate(config.models):
        for j, name in enumerate([model.name, *model.aliases]):
            where = f"models[{i}].name" if j == 0 else f"models[{i}].aliases[{j - 1}]"
            if name in names:
                raise ConfigError(f"{where}: '{name}' is already used by {names[name]}")
            names[name] = where
        for j, deployment in enumerate(model.deployments):
            if deployment.provider not in config.providers:
                known = ", ".join(sorted(config.providers)) or "none"
                raise ConfigError(
                    f"models[{i}].deployments[{j}].provider: '{deployment.provider}' is not a "
                    f"configured provider (configured: {known})"
                )
    for i, model in enumerate(config.models):
        for j, fallback in enumerate(model.fallbacks):
            if fallback not in names:
                raise ConfigError(f"models[{i}].fallbacks[{j}]: '{fallback}' is not a configured model")
            if fallback in (model.name, *model.aliases):
                raise ConfigError(f"models[{i}].fallbacks[{j}]: a model cannot fall back to itself")


def parse_config(text: str, source: str = "<config>", env: dict[str, str] | None = None) -> GatewayConfig:
    """Parse and validate YAML text; raise ConfigError naming `source`."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping, not {type(raw).__name__}")
    try:
        data = _interpolate(raw, "", dict(os.environ) if env is None else env)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    try:
        config = GatewayConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        message = first["msg"]
        if first["type"] == "extra_forbidden":
            message = "unknown key"
        raise ConfigError(f"{source}: {_loc_path(first['loc'])}: {message}{more}") from None
    try:
        _check_references(config)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    return config


def config_path(explicit: str | None) -> Path:
    return Path(explicit or os.environ.get(ENV_CONFIG) or DEFAULT_CONFIG)


def load_config(path: Path) -> GatewayConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"{path}: cannot read config file: {reason}") from None
    return parse_config(text, str(path))
