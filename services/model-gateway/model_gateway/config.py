"""The gateway's YAML configuration: loading, ${VAR} interpolation, validation.

Every error names the file and either the line (YAML syntax) or the key path
(`models[2].deployments[0].provider: ...`), on one line, so a bad start says
exactly what to fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationInfo, field_validator

from model_gateway.cache_config import CacheConfig
from model_gateway.limits_config import LimitsConfig
from model_gateway.routing_settings import (
    CascadeSettings,
    ModelRouting,
    RoutingSettings,
    SplitArm,
    StrategyName,
    check_routing,
)
from model_gateway_common.client_limits import ClientLimits
from model_gateway_common.config_file import (
    ConfigError,
    config_path,
    parse_yaml,
    read_config_text,
    validate,
)
from model_gateway_common.cors import CORSConfig
from model_gateway_common.tls import GrpcClientTLS, TLSConfig
from model_gateway_common.tracing import TelemetryConfig

__all__ = ["ConfigError", "GatewayConfig", "TelemetryConfig", "config_path", "load_config", "parse_config"]

ProviderKind = Literal["ollama", "openai", "anthropic", "gemini", "huggingface"]
# Which OpenAI-compatible server an `openai` provider talks to (providers/openai/flavors.py):
# it decides the parameters sent beyond OpenAI's own. Unset: inferred from the base URL's host.
OpenAIFlavor = Literal["openai", "vllm", "llamacpp", "groq", "openrouter", "lmstudio", "tgi", "generic"]

DEFAULT_BASE_URLS: dict[str, str] = {
    "ollama": "http://127.0.0.1:11434",
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "gemini": "https://generativelanguage.googleapis.com",
    "huggingface": "http://127.0.0.1:8080",
}


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
    # Hardening (README: Security): TLS for both doors (mTLS for gRPC with client_ca), the bridge's
    # TLS hop to a service on another host, browser origins, and bounds on slow or greedy clients.
    tls: TLSConfig | None = None
    grpc_tls: GrpcClientTLS | None = None
    cors: CORSConfig | None = None
    clients: ClientLimits = Field(default_factory=ClientLimits)

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
    flavor: OpenAIFlavor | None = None  # `openai` and `huggingface` kinds only

    @field_validator("api_key", mode="before")
    @classmethod
    def _empty_key_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("flavor")
    @classmethod
    def _flavor_of_openai_kinds(cls, value: Any, info: ValidationInfo) -> Any:
        kind = info.data.get("kind")
        if value is not None and kind not in ("openai", "huggingface"):
            raise ValueError(f"is for the openai and huggingface kinds, not {kind}")
        return value

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
    # prompt-cache writes; else the input price
    cache_write_per_mtok: float | None = Field(default=None, ge=0)


class ModelConfig(_Strict):
    name: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)
    # Required unless the model is a cascade or a split of other models (see check_routing).
    deployments: list[DeploymentConfig] = Field(default_factory=list, min_length=1)
    fallbacks: list[str] = Field(default_factory=list)
    pricing: PricingConfig = Field(default_factory=PricingConfig)
    context_window: int | None = Field(default=None, gt=0)
    capabilities: list[str] = Field(default_factory=lambda: ["chat"])
    # The largest answer the model may give: the default max_tokens where a
    # provider requires one (Anthropic), and a cap on larger requests.
    max_output_tokens: int | None = Field(default=None, gt=0)
    # Translator options of this model (e.g. cache_system_prompt for Anthropic,
    # max_completion_tokens for o-series models); each provider kind documents its own.
    options: dict[str, Any] = Field(default_factory=dict)
    # Routing (routing_settings.py): the strategy among deployments, overrides of the
    # gateway's `routing:`, a cascade of models, an A/B split.
    strategy: StrategyName | None = None
    routing: ModelRouting | None = None
    kind: Literal["model", "cascade"] = "model"
    cascade: CascadeSettings | None = None
    split: list[SplitArm] | None = Field(default=None, min_length=1)


class StorageConfig(_Strict):
    """Where state lives. With no Redis, limits, cache and breakers are per process, in memory."""

    database: str = "sqlite:///./data/gateway.db"  # SQLAlchemy-style URL: sqlite:///… or postgresql://…
    redis: str | None = None  # redis://host:port/db: shared limits, cache and breaker state

    @field_validator("redis", mode="before")
    @classmethod
    def _empty_is_off(cls, value: Any) -> Any:
        return None if value == "" else value


BudgetPeriod = Literal["day", "month", "total"]


class StaticKeyConfig(_Strict):
    """A key written in the config (`auth.keys`); the CLI stores more in the database, hashed."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    # Long enough not to be guessed: the gateway stores and compares only its SHA-256.
    key: SecretStr = Field(min_length=16)
    models: list[str] = Field(default_factory=list)  # glob patterns (llama*, qwen*); empty: every model
    rpm: int | None = Field(default=None, gt=0)
    tpm: int | None = Field(default=None, gt=0)
    budget_usd: float | None = Field(default=None, gt=0)
    budget_period: BudgetPeriod = "month"
    admin: bool = False  # may read every key's usage (GET /api/v1/usage)


class AuthConfig(_Strict):
    """API keys. Auth is on as soon as any key exists (here or in the database)."""

    # Serve callers that send no key, even on a public bind or when keys exist.
    allow_anonymous: bool = False
    keys: list[StaticKeyConfig] = Field(default_factory=list)
    refresh_s: float = Field(default=2.0, gt=0, le=5)  # how often the key table is re-read

    @field_validator("keys")
    @classmethod
    def _unique(cls, keys: list[StaticKeyConfig]) -> list[StaticKeyConfig]:
        names: set[str] = set()
        for i, key in enumerate(keys):
            if key.name in names:
                raise ValueError(f"keys[{i}].name: '{key.name}' is used twice")
            names.add(key.name)
        return keys


class UsageConfig(_Strict):
    """The usage and cost ledger: one row per call, written by a batched writer."""

    flush_interval_s: float = Field(default=1.0, gt=0, le=60)
    max_queue: int = Field(default=100_000, gt=0)  # rows held between flushes; past it rows are dropped
    capture_content: bool = False  # prompts and completions, into their own table
    content_retention_days: float = Field(default=30, gt=0)


class GatewayConfig(_Strict):
    server: ServerConfig = Field(default_factory=ServerConfig)
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    models: list[ModelConfig] = Field(default_factory=list)
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    cache: CacheConfig = Field(default_factory=CacheConfig)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    usage: UsageConfig = Field(default_factory=UsageConfig)


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
    try:
        check_routing(config.routing, config.models, names)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def parse_config(text: str, source: str = "<config>", env: dict[str, str] | None = None) -> GatewayConfig:
    """Parse and validate YAML text; raise ConfigError naming `source`."""
    config = validate(GatewayConfig, parse_yaml(text, source), source, env)
    try:
        _check_references(config)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    return config


def load_config(path: Path) -> GatewayConfig:
    return parse_config(read_config_text(path), str(path))
