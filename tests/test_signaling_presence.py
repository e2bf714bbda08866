"""Presence by subscription: ``subscribe`` / ``presence-snapshot`` and ``presence = subscribed``."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from softphone.signaling import messages as m
from softphone.signaling.adapter import Invited, Presence, Registered, SignalingEvent
from softphone.signaling.client import JsonSignalingClient
from softphone.signaling.limits import Limits
from softphone.signaling.server import PresenceMode, SignalingServer
from tests.test_signaling_client import fake_server
from tests.test_signaling_server import Connect, Raw, _connector, serving


def _server(presence: PresenceMode) -> SignalingServer:
    return SignalingServer(presence=presence, limits=Limits(connections_per_address=200))


async def welcome_of(connect: Connect, name: str) -> tuple[Raw, dict[str, Any]]:
    raw = await connect()
    await raw.send(type="hello", user=name)
    welcome = await raw.recv()
    assert welcome["type"] == "welcome"
    return raw, welcome


async def test_all_mode_subscriber_hears_only_its_contacts() -> None:
    async with serving(_server("all")) as connect:
        bob = await connect("bob")
        carol = await connect("carol")
        await bob.expect(type="presence", user="carol", online=True)
        await carol.send(type="subscribe", users=["bob", "zed", "bob"])
        await carol.expect(type="presence-snapshot", online=["bob"])
        dave = await connect("dave")  # never subscribes: hears everybody, as before
        await bob.expect(type="presence", user="dave", online=True)
        await connect("alice")
        await dave.expect(type="presence", user="alice", online=True)
        await bob.ws.close()
        await carol.expect(type="presence", user="bob", online=False)  # not alice's join
        await dave.expect(type="presence", user="bob", online=False)
        await connect("zed")
        await carol.expect(type="presence", user="zed", online=True)
        await carol.sync()


async def test_subscribed_mode_gives_nothing_unasked() -> None:
    async with serving(_server("subscribed")) as connect:
        bob = await connect("bob")
        alice, welcome = await welcome_of(connect, "alice")
        assert welcome["online"] == []
        carol, welcome = await welcome_of(connect, "carol")
        assert welcome["online"] == []
        await carol.send(type="subscribe", users=["bob", "alice", "carol"])
        await carol.expect(type="presence-snapshot", online=["alice", "bob"])
        dave = await connect("dave")
        await alice.ws.close()
        await carol.expect(type="presence", user="alice", online=False)
        for silent in (bob, dave):
            await silent.sync()  # no presence of anybody reached them


async def test_subscribe_again_replaces_the_list() -> None:
    async with serving(srv := _server("subscribed")) as connect:
        alice = await connect("alice")
        bob = await connect("bob")
        carol = await connect("carol")
        await carol.send(type="subscribe", users=["bob"])
        await carol.expect(type="presence-snapshot", online=["bob"])
        await carol.send(type="subscribe", users=["alice"])
        await carol.expect(type="presence-snapshot", online=["alice"])
        await bob.ws.close()
        await alice.ws.close()
        await carol.expect(type="presence", user="alice", online=False)
        await carol.sync()
        await carol.ws.close()
        await asyncio.sleep(0.1)
        assert srv._presence._subscribers == {}


@pytest.mark.parametrize(
    ("users", "needle"),
    [
        (None, '"users"'),
        ("bob", '"users"'),
        (["bob", "b b"], "user names"),
        ([f"u{i}" for i in range(1001)], "at most 1000"),
    ],
)
async def test_bad_subscriptions_are_refused(users: Any, needle: str) -> None:
    async with serving(_server("all")) as connect:
        carol = await connect("carol")
        frame: dict[str, Any] = {"type": "subscribe"}
        if users is not None:
            frame["users"] = users
        await carol.send(**frame)
        err = await carol.error("bad-message")
        assert needle in err["message"]
        await carol.sync()


async def test_a_thousand_names_and_before_hello() -> None:
    async with serving(_server("all")) as connect:
        unregistered = await connect()
        await unregistered.send(type="subscribe", users=["bob"])
        await unregistered.error("not-registered")
        carol = await connect("carol")
        await carol.send(type="subscribe", users=[f"u{i}" for i in range(1000)])
        await carol.expect(type="presence-snapshot", online=[])


async def test_a_join_costs_its_subscribers_not_all_clients(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with serving(srv := _server("subscribed")) as connect:
        watchers = [await connect(f"w{i}") for i in range(3)]
        for w in watchers:
            await w.send(type="subscribe", users=["star"])
            await w.expect(type="presence-snapshot", online=[])
        crowd = [await connect(f"c{i}") for i in range(60)]  # a session has 100 sockets
        sent: list[str] = []
        original = srv._send

        def counting(client: Any, text: str) -> None:
            sent.append(text)
            original(client, text)

        monkeypatch.setattr(srv, "_send", counting)
        await connect("star")
        for w in watchers:
            await w.expect(type="presence", user="star", online=True)
        assert len(sent) == 1 + len(watchers)  # the welcome, and one presence a watcher
        assert len(crowd) == 60


class Events:
    def __init__(self) -> None:
        self.seen: list[SignalingEvent] = []
        self.changed = asyncio.Event()

    def __call__(self, event: SignalingEvent) -> None:
        self.seen.append(event)
        self.changed.set()

    async def until(self, count: int, kind: type[Any]) -> list[Any]:
        async with asyncio.timeout(5):
            while len(found := [e for e in self.seen if isinstance(e, kind)]) < count:
                self.changed.clear()
                await self.changed.wait()
        return found


async def test_client_with_contacts_subscribes_after_every_welcome() -> None:
    srv = SignalingServer(presence="subscribed")
    await srv.start("127.0.0.1", 0)
    port = srv.port
    events = Events()
    client = JsonSignalingClient(srv.url, "carol", contacts=["bob"], backoff_max=0.3)
    try:
        async with aiohttp.ClientSession() as session:
            connect = await _connector(srv, session)
            others = [await connect("alice"), await connect("bob")]
            await client.start(events)
            (registered,) = await events.until(1, Registered)
            assert registered.online == ("bob",)
            others.append(await connect("dave"))
            await srv.stop()
        srv = SignalingServer(presence="subscribed")
        await srv.start("127.0.0.1", port)
        async with aiohttp.ClientSession() as session:
            connect = await _connector(srv, session)
            others.append(await connect("dave"))
            _, again = await events.until(2, Registered)
            assert again.online == ()
            others.append(await connect("bob"))
            async with asyncio.timeout(5):
                while Presence(user="bob", online=True) not in events.seen:
                    events.changed.clear()
                    await events.changed.wait()
            assert {e.user for e in events.seen if isinstance(e, Presence)} == {"bob"}
    finally:
        await client.close()
        await srv.stop()


def test_client_contacts_are_validated() -> None:
    with pytest.raises(ValueError):
        JsonSignalingClient("ws://127.0.0.1:1/ws", "carol", contacts=["b b"])
    with pytest.raises(ValueError):
        JsonSignalingClient("ws://127.0.0.1:1/ws", "carol", contacts=["x"] * 1001)
    assert m.MAX_SUBSCRIPTIONS == 1000


@contextlib.asynccontextmanager
async def old_server() -> AsyncIterator[str]:
    """A server of the original protocol: no subscribe; an invite right after welcome."""

    async def handle(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        hello = json.loads((await ws.receive()).data)
        await ws.send_json({"type": "welcome", "user": hello["user"], "online": ["bob"]})
        await ws.send_json({"type": "invite", "call": "c1", "to": hello["user"], "from": "bob"})
        assert json.loads((await ws.receive()).data)["type"] == "subscribe"
        await ws.send_json(
            {"type": "error", "code": "bad-message", "message": 'unknown message type "subscribe"'}
        )
        async for _ in ws:
            pass
        return ws

    async with fake_server(handle) as url:
        yield url


async def test_contacts_on_a_server_without_subscriptions() -> None:
    events = Events()
    async with old_server() as url:
        client = JsonSignalingClient(url, "carol", contacts=["bob"])
        try:
            await client.start(events)
            (registered,) = await events.until(1, Registered)
            assert registered.online == ("bob",)  # welcome's list stands
            (invited,) = await events.until(1, Invited)  # not lost while waiting
            assert invited == Invited(call="c1", caller="bob")
            assert events.seen.index(registered) < events.seen.index(invited)
        finally:
            await client.close()
