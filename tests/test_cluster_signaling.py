"""Two and three signaling nodes in one process, sharing a real ``redis-server``.

The protocol as a client sees it must not change when the other party is on
another node: relays with ``from``, ``unknown-call`` for strangers,
``name-taken`` across nodes, presence in both modes, ``gone`` when a node
dies, calls that outlive a Redis restart and a node restart (resume). The
heartbeat here is fast (0.25 s, lifetime 1.5 s) so a dead node is noticed in
about 2 s; ``softphone serve`` uses 1 s and 4 s.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import aiohttp
import pytest

from softphone.signaling.cluster import link as link_module
from softphone.signaling.cluster.link import ClusterError, RedisLink
from softphone.signaling.cluster.server import ClusteredServer
from softphone.signaling.cluster.urls import redact_url
from softphone.signaling.server import PresenceMode
from tests.redis_server import RedisServer, free_port
from tests.test_signaling_server import Raw, assert_call_works

FAST = {"heartbeat": 0.25, "ttl": 1.5}
Node = Callable[..., Awaitable[ClusteredServer]]


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def node(redis: RedisServer) -> AsyncIterator[Node]:
    """Start a node named ``name`` on the test's Redis; every node is stopped after."""
    started: list[ClusteredServer] = []

    async def start(name: str, presence: PresenceMode = "all") -> ClusteredServer:
        srv = ClusteredServer(RedisLink(redis.url, **FAST), node=name, presence=presence)
        await srv.start("127.0.0.1", 0)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        await srv.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def join(session: aiohttp.ClientSession, srv: ClusteredServer, name: str) -> Raw:
    raw = Raw(await session.ws_connect(srv.url), name)
    raw.presence = []  # presence may come at any point: set aside
    await raw.send(type="hello", user=name)
    welcome = await raw.recv()
    assert welcome["type"] == "welcome", welcome
    return raw


async def until_online(raw: Raw, user: str, online: bool = True) -> None:
    """Wait for ``raw`` to see ``user``'s presence (the batch takes a few ms)."""
    assert raw.presence is not None
    while not any(p["user"] == user and p["online"] is online for p in raw.presence):
        obj = await raw.recv()
        assert obj["type"] == "presence", obj
        raw.presence.append(obj)


async def cross_call(alice: Raw, bob: Raw, call: str = "call-ab") -> None:
    await alice.send(type="invite", call=call, to="bob")
    await bob.expect(type="invite", call=call, to="bob", **{"from": "alice"})
    await bob.send(type="accept", call=call)
    await alice.expect(type="accept", call=call, **{"from": "bob"})


async def test_a_call_across_nodes_is_relayed_as_on_one_node(
    node: Node, session: aiohttp.ClientSession
) -> None:
    a, b = await node("A"), await node("B")
    alice, bob = await join(session, a, "alice"), await join(session, b, "bob")
    carol = await join(session, b, "carol")
    await cross_call(alice, bob)
    await assert_call_works(alice, bob)
    # A stranger on either node gets unknown-call; the call goes on.
    await carol.send(type="sdp", call="call-ab", description={"type": "offer", "sdp": "v=0"})
    await carol.error("unknown-call", "call-ab")
    await bob.send(type="ringing", call="call-ab", extra={"kept": True})
    await alice.expect(type="ringing", call="call-ab", extra={"kept": True}, **{"from": "bob"})
    await bob.send(type="hangup", call="call-ab")
    await alice.expect(type="hangup", call="call-ab", **{"from": "bob"})
    await alice.send(type="hangup", call="call-ab")
    await alice.error("unknown-call", "call-ab")
    # ...and the other way round: bob calls, alice hangs up.
    await bob.send(type="invite", call="call-ba", to="alice")
    await alice.expect(type="invite", call="call-ba", to="alice", **{"from": "bob"})
    await alice.send(type="hangup", call="call-ba")
    await bob.expect(type="hangup", call="call-ba", **{"from": "alice"})


async def test_a_name_is_unique_across_nodes(node: Node, session: aiohttp.ClientSession) -> None:
    a, b = await node("A"), await node("B")
    alice = await join(session, a, "alice")
    twin = Raw(await session.ws_connect(b.url), None)
    await twin.send(type="hello", user="alice")
    err = await twin.error("name-taken")
    assert "on A" in err["message"]
    await twin.send(type="hello", user="alice2")
    assert (await twin.recv())["type"] == "welcome"
    await alice.ws.close()


async def test_presence_crosses_nodes_in_all_and_subscribed_modes(
    node: Node, session: aiohttp.ClientSession
) -> None:
    a, b = await node("A", "subscribed"), await node("B", "subscribed")
    await node("C")  # a third node, in "all" mode, sees both
    alice = await join(session, a, "alice")
    await alice.send(type="subscribe", users=["bob", "dave"])
    await alice.expect(type="presence-snapshot", online=[])
    bob = await join(session, b, "bob")
    carol = await join(session, b, "carol")  # alice does not follow carol
    await until_online(alice, "bob")
    await bob.ws.close()
    await until_online(alice, "bob", online=False)
    assert alice.presence is not None
    assert {p["user"] for p in alice.presence} == {"bob"}
    dave = await join(session, b, "dave")
    await until_online(alice, "dave")
    await dave.send(type="subscribe", users=["alice"])
    await dave.expect(type="presence-snapshot", online=["alice"])
    await carol.ws.close()


async def test_all_mode_welcome_and_presence_list_users_of_every_node(
    node: Node, session: aiohttp.ClientSession
) -> None:
    a, b = await node("A"), await node("B")
    alice = await join(session, a, "alice")
    bob = await join(session, b, "bob")
    await until_online(alice, "bob")
    carol = Raw(await session.ws_connect(a.url), "carol")
    await carol.send(type="hello", user="carol")
    assert (await carol.recv())["online"] == ["alice", "bob"]
    await bob.ws.close()


async def test_a_dead_node_hangs_up_its_calls_with_gone(
    node: Node, session: aiohttp.ClientSession
) -> None:
    a, b = await node("A"), await node("B")
    alice, bob = await join(session, a, "alice"), await join(session, b, "bob")
    await cross_call(alice, bob)
    await die(b)
    await alice.expect(type="hangup", call="call-ab", reason="gone")
    await until_online(alice, "bob", online=False)
    # bob's name is free again once his node's heartbeat lapsed.
    await join(session, a, "bob")


async def die(srv: ClusteredServer) -> None:
    """A node that stops without a word: no bye, no releases, its heartbeat just stops."""
    link = srv._link
    link.closing = True
    for task in link._tasks:
        task.cancel()
    await asyncio.gather(*link._tasks, return_exceptions=True)
    link._tasks = []
    link.stop = link._close_clients  # type: ignore[method-assign]


async def test_a_redis_restart_keeps_calls_and_local_service(
    node: Node, redis: RedisServer, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "softphone.signaling.cluster")
    a, b = await node("A"), await node("B")
    alice, bob = await join(session, a, "alice"), await join(session, b, "bob")
    carol = await join(session, a, "carol")
    await cross_call(alice, bob)
    redis.kill()
    # While Redis is away, a call between two clients of node A works.
    dave = await join(session, a, "dave")
    await carol.send(type="invite", call="call-cd", to="dave")
    await dave.expect(type="invite", call="call-cd", to="dave", **{"from": "carol"})
    await wait_until(lambda: "is unreachable" in caplog.text)
    redis.start()
    await wait_until(lambda: caplog.text.count("re-publishing") >= 2)
    await asyncio.sleep(2 * FAST["ttl"])  # past the grace: a wrong "dead" would show now
    await assert_call_works(alice, bob)
    await alice.send(type="hangup", call="call-ab")
    await bob.expect(type="hangup", call="call-ab", **{"from": "alice"})
    assert "is gone" not in caplog.text
    # The names were re-published: unique across nodes again.
    twin = Raw(await session.ws_connect(b.url), None)
    await twin.send(type="hello", user="dave")
    await twin.error("name-taken")


async def wait_until(predicate: Callable[[], bool], timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)


async def test_a_call_resumed_after_a_node_restart_goes_on(
    node: Node, session: aiohttp.ClientSession
) -> None:
    a, b = await node("A"), await node("B")
    alice, bob = await join(session, a, "alice"), await join(session, b, "bob")
    await cross_call(alice, bob)
    await a.stop()  # a clean restart: bob's call waits for the resume
    a2 = await node("A")
    alice = await join(session, a2, "alice")
    await alice.send(type="invite", call="call-ab", to="bob", resume=True)
    await bob.expect(type="invite", call="call-ab", to="bob", resume=True, **{"from": "alice"})
    await assert_call_works(alice, bob)
    await bob.send(type="hangup", call="call-ab")
    await alice.expect(type="hangup", call="call-ab", **{"from": "bob"})


async def test_bad_input_to_one_node_does_not_disturb_a_cross_node_call(
    node: Node, session: aiohttp.ClientSession
) -> None:
    a, b = await node("A"), await node("B")
    alice, bob = await join(session, a, "alice"), await join(session, b, "bob")
    mallory = await join(session, b, "mallory")
    await cross_call(alice, bob)
    for frame in ("{", "[]", '{"type":"invite","call":"call-ab","to":"alice"}',
                  '{"type":"ice","call":"call-ab","candidate":{"candidate":"x"}}',
                  '{"type":"hangup","call":"call-ab"}', '{"type":"welcome"}'):  # fmt: skip
        await mallory.ws.send_str(frame)
        reply = await mallory.recv()
        while reply["type"] == "presence":
            reply = await mallory.recv()
        assert reply["type"] == "error", reply
    await assert_call_works(alice, bob)


async def test_redis_unreachable_at_start_names_the_url_without_its_password() -> None:
    url = f"redis://someone:hunter2-secret@127.0.0.1:{free_port()}/0"
    srv = ClusteredServer(RedisLink(url), node="A")
    with pytest.raises(ClusterError) as caught:
        await srv.start("127.0.0.1", 0)
    message = str(caught.value)
    assert "cannot reach Redis at redis://***@127.0.0.1:" in message
    assert "hunter2" not in message and "someone" not in message


def test_redact_url_hides_user_and_password() -> None:
    assert redact_url("redis://:pw@h:1/0") == "redis://***@h:1/0"
    assert redact_url("rediss://u:pw@[::1]:6380/2") == "rediss://***@[::1]:6380/2"
    assert redact_url("redis://h:1/0") == "redis://h:1/0"


def test_without_the_redis_package_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(link_module, "aioredis", None)
    with pytest.raises(ClusterError, match=r"pip install 'softphone\[cluster\]'"):
        RedisLink("redis://127.0.0.1:1/0")
