"""softphone/rtc/packet_queue.py: the one-reader datagram hand-off under the ICE transport."""

from __future__ import annotations

import asyncio

import pytest

from softphone.rtc.packet_queue import PacketQueue


async def test_items_come_out_in_order_whether_waited_for_or_queued() -> None:
    queue: PacketQueue[bytes | None] = PacketQueue()
    reader = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    queue.put_nowait(b"a")  # wakes the waiting reader
    queue.put_nowait(b"b")
    queue.put_nowait(None)  # None is an item (the transport's closed marker)
    assert await reader == b"a"
    assert [await queue.get(), await queue.get()] == [b"b", None]
    assert queue.empty() and queue.qsize() == 0


async def test_a_cancelled_reader_leaves_the_queue_usable() -> None:
    queue: PacketQueue[int] = PacketQueue()
    reader = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    queue.put_nowait(1)
    assert await queue.get() == 1


async def test_an_item_put_between_wake_and_read_is_not_lost() -> None:
    queue: PacketQueue[int] = PacketQueue()
    reader = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    queue.put_nowait(1)
    queue.put_nowait(2)  # before the reader ran: no waiter, just queued
    assert await reader == 1 and await queue.get() == 2


async def test_a_second_concurrent_reader_is_refused() -> None:
    queue: PacketQueue[int] = PacketQueue()
    first = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="one reader"):
        await queue.get()
    queue.put_nowait(7)
    assert await first == 7
