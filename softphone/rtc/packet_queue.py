"""A first-in first-out hand-off of datagrams to one reader, cheaper than asyncio.Queue.

Why: every media packet of a call crosses from the UDP callback to the DTLS
transport's reader through this queue, 50 to 100 times a second per call.
``asyncio.Queue`` pays for what this hand-off never uses (a getters deque,
``maxsize`` and ``join()`` bookkeeping, an Event cleared per put); with one
reader, one waiter future suffices. ``None`` is an item like any other (the
transport's "closed" marker).
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class PacketQueue(Generic[T]):
    """Unbounded FIFO with a single reader: ``put_nowait`` from callbacks, ``await get()``."""

    def __init__(self) -> None:
        self._items: deque[T] = deque()
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: T) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def get(self) -> T:
        while not self._items:
            if self._waiter is not None:
                raise RuntimeError("PacketQueue has one reader; a second get() is waiting")
            waiter = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            try:
                await waiter
            finally:
                if self._waiter is waiter:  # cancelled: nobody woke it
                    self._waiter = None
        return self._items.popleft()

    def qsize(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        return not self._items
