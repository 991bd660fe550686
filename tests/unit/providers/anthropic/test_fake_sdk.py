"""The fake Anthropic upstream is read without complaint by the official `anthropic` SDK.

Skipped where the SDK is not installed (it is not a dependency of the
gateway); `pip install anthropic` to run it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.fakes import anthropic_server
from tests.fakes.common import FakeServer

anthropic = pytest.importorskip("anthropic")

MODEL = "claude-fake-sonnet"
WEATHER = {
    "name": "get_weather",
    "description": "Get the weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest_asyncio.fixture(scope="module")
async def fake() -> AsyncIterator[FakeServer]:
    server = await anthropic_server.start()
    yield server
    await server.close()


@pytest.fixture
def client(fake: FakeServer) -> Any:
    # Strict validation: any field the SDK's types do not expect fails the call.
    return anthropic.AsyncAnthropic(
        base_url=fake.url, api_key="sk-ant-test", max_retries=0, _strict_response_validation=True
    )


async def test_create_stream_and_tool_round_trip(client: Any) -> None:
    messages: list[dict[str, Any]] = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = await client.messages.create(model=MODEL, max_tokens=100, messages=messages, tools=[WEATHER])
    assert first.stop_reason == "tool_use" and first.content[0].input == {"city": "Paris"}
    async with client.messages.stream(
        model=MODEL, max_tokens=100, messages=messages, tools=[WEATHER]
    ) as stream:
        streamed = await stream.get_final_message()
    assert streamed.content[0].input == first.content[0].input and streamed.usage == first.usage
    result = {"type": "tool_result", "tool_use_id": first.content[0].id, "content": "22 degrees"}
    messages += [{"role": "assistant", "content": first.content}, {"role": "user", "content": [result]}]
    second = await client.messages.create(model=MODEL, max_tokens=100, messages=messages, tools=[WEATHER])
    assert second.content[0].text == "fake-anthropic: the tool said 22 degrees"


async def test_count_tokens_models_and_errors(client: Any) -> None:
    counted = await client.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert counted.input_tokens == 4
    names = [model.id async for model in client.models.list(limit=3)]
    assert MODEL in names
    with pytest.raises(anthropic.RateLimitError):
        await client.messages.create(
            model="fail-429", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    with pytest.raises(anthropic.APIStatusError) as overloaded:
        await client.messages.create(
            model="fail-529", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    assert overloaded.value.status_code == 529
    with pytest.raises(anthropic.APIStatusError) as inband:
        async with client.messages.stream(
            model="inband-error", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        ) as stream:
            await stream.get_final_message()
    assert "Overloaded" in str(inband.value)
