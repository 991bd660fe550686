"""A stream that ends properly even when nobody ever asked it for a chunk.

Closing an async generator that never started runs none of its code, so its
`finally` (close the upstream request, end the attempt, settle the stages)
would never run for a client that left before the first chunk was asked for.
`Abandonable` runs a cleanup of its own in that case.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Abandonable(Generic[T]):
    __slots__ = ("_abandon", "_items", "_started")

    def __init__(self, items: AsyncGenerator[T, None], abandon: Callable[[], Awaitable[None]]) -> None:
        self._items, self._abandon, self._started = items, abandon, False

    def __aiter__(self) -> Abandonable[T]:
        return self

    async def __anext__(self) -> T:
        self._started = True
        return await self._items.__anext__()

    async def aclose(self) -> None:
        if not self._started:
            self._started = True
            await self._abandon()
        await self._items.aclose()
