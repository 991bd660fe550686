"""Provider kinds → classes (providers/registry.py): lazy, a line a kind, unknown ones fail clearly."""

from __future__ import annotations

import subprocess
import sys
from typing import get_args

import grpc
import pytest

from model_gateway.config import ProviderConfig, ProviderKind
from model_gateway.errors import GatewayError, Reason
from model_gateway.providers import build_provider
from model_gateway.providers.base import Provider, UnimplementedProvider
from model_gateway.providers.ollama import OllamaProvider
from model_gateway.providers.openai import HuggingFaceProvider, OpenAIProvider
from model_gateway.providers.registry import KINDS, provider_class
from modelgateway.v1 import gateway_pb2 as pb


@pytest.mark.parametrize(
    ("kind", "cls"),
    [("ollama", OllamaProvider), ("openai", OpenAIProvider), ("huggingface", HuggingFaceProvider)],
)
def test_each_kind_builds_its_class(kind: str, cls: type[Provider]) -> None:
    provider = build_provider("p", ProviderConfig(kind=kind))  # type: ignore[arg-type]
    assert type(provider) is cls
    assert (provider.name, provider.kind) == ("p", kind)


@pytest.mark.parametrize("kind", get_args(ProviderKind))
def test_every_configured_kind_builds_a_provider(kind: str) -> None:
    provider = build_provider("p", ProviderConfig(kind=kind))  # type: ignore[arg-type]
    expected = provider_class(kind) if kind in KINDS else UnimplementedProvider
    assert type(provider) is expected
    assert provider.kind == kind


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_registered_kind_names_a_provider_class(kind: str) -> None:
    assert issubclass(provider_class(kind), Provider)


@pytest.mark.parametrize(
    ("base_url", "address", "url"),
    [
        ("http://tgi:8080", "http://tgi:8080", "http://tgi:8080/v1"),
        ("http://tgi:8080/", "http://tgi:8080", "http://tgi:8080/v1"),
        ("http://tgi:8080/v1", "http://tgi:8080", "http://tgi:8080/v1"),
    ],
)
def test_huggingface_speaks_openai_under_v1(base_url: str, address: str, url: str) -> None:
    provider = build_provider("tgi", ProviderConfig(kind="huggingface", base_url=base_url))
    assert isinstance(provider, OpenAIProvider)
    assert provider.kind == "huggingface"
    assert provider.http.base_url == url
    assert provider.address == address


async def test_a_kind_without_a_registry_line_fails_calls_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(KINDS, "gemini", raising=False)
    provider = build_provider("g", ProviderConfig(kind="gemini"))
    assert type(provider) is UnimplementedProvider
    with pytest.raises(GatewayError) as caught:
        await provider.generate(pb.GenerateRequest(), "m", timeout=1)
    assert caught.value.code == grpc.StatusCode.UNIMPLEMENTED
    assert caught.value.reason == Reason.NOT_IMPLEMENTED
    assert "'gemini' is not implemented yet" in caught.value.message


def test_a_kind_loads_only_when_it_is_built() -> None:
    code = (
        "import sys\n"
        "import model_gateway.providers as p\n"
        "from model_gateway.config import ProviderConfig\n"
        "assert 'model_gateway.providers.openai' not in sys.modules\n"
        "assert 'model_gateway.providers.ollama' not in sys.modules\n"
        "p.build_provider('local', ProviderConfig(kind='ollama'))\n"
        "assert 'model_gateway.providers.ollama' in sys.modules\n"
        "assert 'model_gateway.providers.openai' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
