"""The fast PUBLISH path (softphone/signaling/cluster/publisher.py) against a real Redis."""

from __future__ import annotations

import asyncio

from redis import asyncio as aioredis

from softphone.signaling.cluster.publisher import SEPARATOR, Publisher
from tests.redis_server import RedisServer
from tests.test_cluster_signaling import redis  # noqa: F401 - the fixture


async def _next_data(pubsub: object) -> str:
    while True:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=2)  # type: ignore[attr-defined]
        if message is not None:
            return str(message["data"])


async def test_frames_of_one_loop_turn_go_out_as_one_publish_in_order(
    redis: RedisServer,  # noqa: F811 - the fixture
) -> None:
    sub = aioredis.Redis.from_url(redis.url, decode_responses=True)
    pubsub = sub.pubsub()
    await pubsub.subscribe("chan")
    publisher = Publisher()
    assert await publisher.connect(redis.url)
    try:
        assert publisher.send("chan", "one") and publisher.send("chan", 'two {"é": 1}')
        assert await _next_data(pubsub) == SEPARATOR.join(["one", 'two {"é": 1}'])
        publisher.send("chan", "three")
        assert await _next_data(pubsub) == "three"
    finally:
        publisher.close()
        await pubsub.aclose()
        await sub.aclose()


async def test_a_refused_command_or_a_lost_connection_turns_the_fast_path_off(
    redis: RedisServer,  # noqa: F811 - the fixture
) -> None:
    publisher = Publisher()
    # This Redis has no password: AUTH is refused, and the publisher steps aside.
    assert await publisher.connect(redis.url.replace("redis://", "redis://:nope@"))
    for _ in range(100):
        if not publisher.connected:
            break
        await asyncio.sleep(0.02)
    assert not publisher.connected and not publisher.send("chan", "x")
    assert await publisher.connect(redis.url)
    redis.kill()
    for _ in range(100):
        publisher.send("chan", "x")
        if not publisher.connected:
            break
        await asyncio.sleep(0.02)
    assert not publisher.connected


async def test_urls_it_cannot_serve_keep_the_pipeline() -> None:
    assert not await Publisher().connect("rediss://127.0.0.1:1/0")
    assert not await Publisher().connect("unix:///tmp/nothing.sock")
