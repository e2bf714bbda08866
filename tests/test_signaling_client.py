"""The JSON signaling client against the real server on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from softphone.descriptions import Candidate, Description
from softphone.signaling.adapter import (
    Accepted,
    ConnectionChanged,
    Declined,
    HungUp,
    Invited,
    Presence,
    Registered,
    RemoteCandidate,
    RemoteDescription,
    Ringing,
    SignalingError,
    SignalingEvent,
    SignalingUnavailable,
)
from softphone.signaling.client import JsonSignalingClient, SignalingRefused
from softphone.signaling.server import SignalingServer

WAIT = 5.0
CAND = "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host generation 0"


class Recorder:
    """A listener that keeps every event and lets a test wait for one."""

    def __init__(self) -> None:
        self.events: list[SignalingEvent] = []
        self.seen: list[SignalingEvent] = []  # never consumed
        self._changed = asyncio.Event()

    def __call__(self, event: SignalingEvent) -> None:
        self.seen.append(event)
        self.events.append(event)
        self._changed.set()

    async def wait_for(self, pred: Callable[[SignalingEvent], bool]) -> SignalingEvent:
        """The first event (seen or to come) that matches ``pred``; consumes up to it."""
        async with asyncio.timeout(WAIT):
            while True:
                for i, event in enumerate(self.events):
                    if pred(event):
                        del self.events[: i + 1]
                        return event
                self._changed.clear()
                await self._changed.wait()

    async def next(self, kind: type[Any]) -> Any:
        return await self.wait_for(lambda e: isinstance(e, kind))


def reconnecting(event: SignalingEvent) -> bool:
    return isinstance(event, ConnectionChanged) and event.state == "reconnecting"


async def retried_twice(rec: Recorder) -> None:
    """Two more reconnect attempts seen: proof that the moment for one has passed."""
    for _ in range(2):
        await rec.wait_for(reconnecting)


@pytest.fixture
async def server() -> AsyncIterator[SignalingServer]:
    srv = SignalingServer()
    await srv.start("127.0.0.1", 0)
    yield srv
    await srv.stop()


@pytest.fixture
async def clients() -> AsyncIterator[list[JsonSignalingClient]]:
    made: list[JsonSignalingClient] = []
    yield made
    for client in made:
        await client.close()


async def started(
    made: list[JsonSignalingClient], url: str, user: str, **kwargs: Any
) -> tuple[JsonSignalingClient, Recorder]:
    client = JsonSignalingClient(url, user, **kwargs)
    made.append(client)
    rec = Recorder()
    await client.start(rec)
    return client, rec


async def test_start_registers(server: SignalingServer, clients: list[JsonSignalingClient]) -> None:
    _alice, rec = await started(clients, server.url, "alice")
    assert rec.events == [
        ConnectionChanged("connecting"),
        ConnectionChanged("connected"),
        Registered(user="alice", online=()),
    ]
    _bob, rec_b = await started(clients, server.url, "bob")
    assert rec_b.events[-1] == Registered(user="bob", online=("alice",))
    assert await rec.next(Presence) == Presence("bob", True)


async def test_full_call_between_two_clients(
    server: SignalingServer, clients: list[JsonSignalingClient]
) -> None:
    alice, ra = await started(clients, server.url, "alice")
    bob, rb = await started(clients, server.url, "bob")
    await alice.invite("c1", "bob")
    assert await rb.next(Invited) == Invited(call="c1", caller="alice")
    await bob.ringing("c1")
    assert await ra.next(Ringing) == Ringing("c1")
    await bob.accept("c1")
    assert await ra.next(Accepted) == Accepted("c1")
    offer = Description("offer", "v=0\r\n")
    await alice.send_description("c1", offer)
    assert await rb.next(RemoteDescription) == RemoteDescription("c1", offer)
    cand = Candidate("a=" + CAND, sdp_mid="0", sdp_mline_index=0, username_fragment="uf")
    await bob.send_candidate("c1", cand)
    got = await ra.next(RemoteCandidate)
    assert got == RemoteCandidate("c1", Candidate(CAND, "0", 0, "uf"))
    await bob.send_candidate("c1", None)
    assert await ra.next(RemoteCandidate) == RemoteCandidate("c1", None)
    await alice.hangup("c1", "bye")
    assert await rb.next(HungUp) == HungUp("c1", "bye")
    await alice.invite("c2", "bob")
    await rb.next(Invited)
    await bob.decline("c2", "busy")
    assert await ra.next(Declined) == Declined("c2", "busy")
    await alice.invite("c3", "nobody")
    assert await ra.next(SignalingError) == SignalingError(
        "unavailable", 'invite: user "nobody" is not online', "c3"
    )


async def test_refused_when_name_taken(
    server: SignalingServer, clients: list[JsonSignalingClient]
) -> None:
    await started(clients, server.url, "alice")
    second = JsonSignalingClient(server.url, "alice")
    with pytest.raises(SignalingRefused) as info:
        await second.start(Recorder())
    assert info.value.code == "name-taken"
    await second.close()


async def test_refused_without_the_right_token(clients: list[JsonSignalingClient]) -> None:
    srv = SignalingServer(token="open-sesame")
    await srv.start("127.0.0.1", 0)
    try:
        bad = JsonSignalingClient(srv.url, "alice", "nope")
        with pytest.raises(SignalingRefused) as info:
            await bad.start(Recorder())
        assert info.value.code == "unauthorized"
        assert "open-sesame" not in str(info.value)
        await bad.close()
        await started(clients, srv.url, "alice", token="open-sesame")
    finally:
        await srv.stop()


async def test_unavailable_when_server_unreachable() -> None:
    srv = SignalingServer()
    await srv.start("127.0.0.1", 0)
    url = srv.url
    await srv.stop()
    client = JsonSignalingClient(url, "alice", start_timeout=0.5, backoff_initial=0.05)
    with pytest.raises(SignalingUnavailable):
        await client.start(Recorder())
    await client.close()


async def test_reconnects_and_reregisters_after_server_restart(
    server: SignalingServer, clients: list[JsonSignalingClient]
) -> None:
    port = server.port
    alice, rec = await started(clients, server.url, "alice", backoff_initial=0.05, backoff_max=0.3)
    rec.events.clear()
    await server.stop()
    lost = await rec.next(ConnectionChanged)
    assert lost.state == "reconnecting"
    assert lost.detail == "server is shutting down"
    assert lost.retry_in is not None and 0 < lost.retry_in <= 0.3
    with pytest.raises(SignalingUnavailable):
        await alice.invite("c1", "bob")
    again = SignalingServer()
    await again.start("127.0.0.1", port)
    try:
        await rec.wait_for(lambda e: e == ConnectionChanged("connected"))
        assert rec.events[0] == Registered(user="alice", online=())
        assert again.online == ["alice"]
        await alice.invite("c1", "bob")  # sends work again
        assert await rec.next(SignalingError) == SignalingError(
            "unavailable", 'invite: user "bob" is not online', "c1"
        )
    finally:
        await alice.close()
        await again.stop()


async def test_keeps_retrying_while_the_server_still_has_the_name(
    server: SignalingServer, clients: list[JsonSignalingClient]
) -> None:
    port = server.port
    _alice, rec = await started(clients, server.url, "alice", backoff_initial=0.4, backoff_max=0.4)
    await server.stop()
    again = SignalingServer()
    await again.start("127.0.0.1", port)
    async with aiohttp.ClientSession() as session:
        ghost = await session.ws_connect(again.url)  # the "old" alice
        await ghost.send_str(json.dumps({"type": "hello", "user": "alice"}))
        assert json.loads((await ghost.receive(timeout=WAIT)).data)["type"] == "welcome"
        await rec.wait_for(
            lambda e: isinstance(e, ConnectionChanged) and "still has our name" in e.detail
        )
        await ghost.close()
        await rec.wait_for(lambda e: e == ConnectionChanged("connected"))
        assert isinstance(rec.events[0], Registered)
    await again.stop()


async def test_close_stops_everything(
    server: SignalingServer, clients: list[JsonSignalingClient]
) -> None:
    alice, rec = await started(clients, server.url, "alice", backoff_initial=0.05)
    _bob, rb = await started(clients, server.url, "bob", backoff_initial=0.05)
    await rec.next(Presence)
    await alice.close()
    assert await rb.next(Presence) == Presence("alice", False)
    rec.events.clear()
    await server.stop()  # would make a live client reconnect
    await retried_twice(rb)  # bob, live and as quick, did: alice would have by now
    assert rec.events == []
    with pytest.raises(SignalingUnavailable):
        await alice.ringing("c1")


async def test_close_while_reconnecting(server: SignalingServer) -> None:
    alice = JsonSignalingClient(server.url, "alice", backoff_initial=0.05, backoff_max=0.1)
    witness = JsonSignalingClient(server.url, "bob", backoff_initial=0.05, backoff_max=0.1)
    rec, seen = Recorder(), Recorder()
    await alice.start(rec)
    await witness.start(seen)
    try:
        await server.stop()
        await rec.wait_for(reconnecting)
        await alice.close()
        rec.events.clear()
        seen.events.clear()
        await retried_twice(seen)  # the witness kept trying: alice would have by now
        assert rec.events == []
    finally:
        await witness.close()


async def test_no_reconnect_means_closed(
    server: SignalingServer, clients: list[JsonSignalingClient]
) -> None:
    _alice, rec = await started(clients, server.url, "alice", reconnect=False)
    rec.events.clear()
    await server.stop()
    assert await rec.next(ConnectionChanged) == ConnectionChanged(
        "closed", "server is shutting down"
    )


async def test_listener_errors_are_logged_not_fatal(
    server: SignalingServer,
    clients: list[JsonSignalingClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[SignalingEvent] = []

    def flaky(event: SignalingEvent) -> None:
        seen.append(event)
        raise RuntimeError("listener bug")

    alice = JsonSignalingClient(server.url, "alice")
    clients.append(alice)
    await alice.start(flaky)
    _bob, _ = await started(clients, server.url, "bob")
    await _bob.invite("c1", "alice")
    async with asyncio.timeout(WAIT):
        while not any(isinstance(e, Invited) for e in seen):
            await asyncio.sleep(0.01)
    assert "listener bug" in caplog.text


# --- a misbehaving server -----------------------------------------------------------


@contextlib.asynccontextmanager
async def fake_server(
    handle: Callable[[web.Request], Awaitable[web.WebSocketResponse]],
) -> AsyncIterator[str]:
    """A scripted server at ``/ws`` on loopback (``handle`` plays it); yields its URL."""
    app = web.Application()
    app.router.add_get("/ws", handle)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"ws://127.0.0.1:{runner.addresses[0][1]}/ws"
    finally:
        await runner.cleanup()


@pytest.fixture
async def garbage_server() -> AsyncIterator[str]:
    """A server that welcomes, then sends broken frames and one good presence."""

    async def handle(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        hello = json.loads((await ws.receive()).data)
        await ws.send_str(json.dumps({"type": "welcome", "user": hello["user"], "online": []}))
        await ws.send_str("{broken")
        await ws.send_str(json.dumps({"type": "invite", "call": "c1", "to": "alice"}))
        await ws.send_bytes(b"\x00")
        await ws.send_str(json.dumps({"type": "presence", "user": "bob", "online": True}))
        async for _ in ws:
            pass
        return ws

    async with fake_server(handle) as url:
        yield url


async def test_malformed_server_frames_become_error_events(
    garbage_server: str, clients: list[JsonSignalingClient], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="softphone.signaling")
    _alice, rec = await started(clients, garbage_server, "alice")
    await rec.wait_for(lambda e: e == Presence("bob", True))
    # Everything before the presence: registration, then one error a broken frame.
    errors = [e for e in rec.seen if isinstance(e, SignalingError)]
    assert [e.code for e in errors] == ["bad-message"] * 3
    assert "not valid JSON" in errors[0].message
    assert '"from"' in errors[1].message
    assert "binary" in errors[2].message
    assert "malformed frame from server" in caplog.text
