"""Reading the one YAML config file both processes share: YAML, ${VAR} interpolation, one-line errors.

Each process validates only the sections it reads (the service all of them,
the bridge `server` and `telemetry`), so a bridge never needs a provider's
API key to be set.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

ENV_CONFIG = "MODEL_GATEWAY_CONFIG"
DEFAULT_CONFIG = "config/gateway.yaml"

Model = TypeVar("Model", bound=BaseModel)


class ConfigError(Exception):
    """A configuration problem, already phrased for a one-line report."""


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate(node: Any, path: str, env: Mapping[str, str]) -> Any:
    """`${VAR}` and `${VAR:-default}` replaced in every string; an unset VAR names its key path."""
    if isinstance(node, dict):
        return {k: interpolate(v, join(path, str(k)), env) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate(v, f"{path}[{i}]", env) for i, v in enumerate(node)]
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


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def loc_path(loc: Iterable[int | str]) -> str:
    """pydantic's error location as the key path a person reads: `models[2].deployments[0].provider`."""
    path = ""
    for part in loc:
        path = f"{path}[{part}]" if isinstance(part, int) else join(path, str(part))
    return path


def parse_yaml(text: str, source: str) -> dict[str, Any]:
    """The top-level mapping of a YAML document (empty for an empty one)."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping, not {type(raw).__name__}")
    return raw


def validate(
    model: type[Model],
    raw: dict[str, Any],
    source: str,
    env: Mapping[str, str] | None = None,
    sections: Iterable[str] | None = None,
) -> Model:
    """Interpolate (only `sections`, when given) and validate; errors name `source` and the key path."""
    if sections is not None:
        wanted = set(sections)
        raw = {key: value for key, value in raw.items() if key in wanted}
    try:
        data = interpolate(raw, "", os.environ if env is None else env)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        raise ConfigError(f"{source}: {loc_path(first['loc'])}: {message}{more}") from None


def config_path(explicit: str | None) -> Path:
    return Path(explicit or os.environ.get(ENV_CONFIG) or DEFAULT_CONFIG)


def read_config_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"{path}: cannot read config file: {reason}") from None
