"""The signaling server at the protocol level, with raw WebSocket clients on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from softphone.signaling.limits import Limits
from softphone.signaling.server import SignalingServer, run_server
from tests.rtc_probe import wait_for

CAND = "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host generation 0"
SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
WAIT = 5.0  # generous: only there so a broken server fails instead of hanging


class Raw:
    """A bare protocol client: send objects, receive objects."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, name: str | None) -> None:
        self.ws = ws
        self.name = name
        self.presence: list[dict[str, Any]] | None = None

    async def send(self, **fields: Any) -> None:
        await self.ws.send_str(json.dumps(fields))

    async def recv(self) -> dict[str, Any]:
        msg = await self.ws.receive(timeout=WAIT)
        assert msg.type is aiohttp.WSMsgType.TEXT, msg
        obj = json.loads(msg.data)
        assert isinstance(obj, dict)
        return obj

    async def expect(self, **fields: Any) -> dict[str, Any]:
        obj = await self.recv()
        while self.presence is not None and obj["type"] == "presence":
            self.presence.append(obj)  # set aside, for tests where presence may interleave
            obj = await self.recv()
        assert obj == fields
        return obj

    async def error(self, code: str, call: str | None = None) -> dict[str, Any]:
        obj = await self.recv()
        assert obj["type"] == "error", obj
        assert obj["code"] == code, obj
        assert obj.get("call") == call, obj
        assert isinstance(obj["message"], str) and obj["message"]
        return obj

    async def sync(self, registered: bool = True) -> None:
        """Prove the connection is open and nothing else was queued before this point."""
        await self.send(type="hangup", call="sync-probe")
        if registered:
            await self.error("unknown-call", "sync-probe")
        else:
            await self.error("not-registered", "sync-probe")


Connect = Callable[..., Awaitable[Raw]]


@pytest.fixture
async def server() -> AsyncIterator[SignalingServer]:
    srv = SignalingServer()
    await srv.start("127.0.0.1", 0)
    yield srv
    await srv.stop()


async def _connector(
    srv: SignalingServer, session: aiohttp.ClientSession
) -> Callable[..., Awaitable[Raw]]:
    async def connect(name: str | None = None, **hello: Any) -> Raw:
        ws = await session.ws_connect(srv.url)
        raw = Raw(ws, name)
        if name is not None:
            await raw.send(type="hello", user=name, **hello)
            welcome = await raw.recv()
            assert welcome["type"] == "welcome", welcome
        return raw

    return connect


@contextlib.asynccontextmanager
async def serving(srv: SignalingServer) -> AsyncIterator[Connect]:
    """``srv`` started on loopback, with a connector to it; stopped afterwards."""
    await srv.start("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as session:
            yield await _connector(srv, session)
    finally:
        await srv.stop()


@pytest.fixture
async def connect(server: SignalingServer) -> AsyncIterator[Connect]:
    async with aiohttp.ClientSession() as session:
        yield await _connector(server, session)


async def in_call(connect: Connect, call: str = "call-ab") -> tuple[Raw, Raw]:
    """alice and bob, registered, with an accepted call between them."""
    alice = await connect("alice")
    bob = await connect("bob")
    await alice.expect(type="presence", user="bob", online=True)
    await alice.send(type="invite", call=call, to="bob")
    await bob.expect(type="invite", call=call, to="bob", **{"from": "alice"})
    await bob.send(type="accept", call=call)
    await alice.expect(type="accept", call=call, **{"from": "bob"})
    return alice, bob


async def assert_call_works(alice: Raw, bob: Raw, call: str = "call-ab") -> None:
    description = {"type": "offer", "sdp": SDP}
    await alice.send(type="sdp", call=call, description=description)
    await bob.expect(type="sdp", call=call, description=description, **{"from": "alice"})
    candidate = {"candidate": CAND, "sdpMid": "0", "sdpMLineIndex": 0}
    await bob.send(type="ice", call=call, candidate=candidate)
    await alice.expect(type="ice", call=call, candidate=candidate, **{"from": "bob"})


# --- session -----------------------------------------------------------------------


async def test_welcome_lists_the_others_and_presence_announces_joins(
    server: SignalingServer, connect: Connect
) -> None:
    alice = await connect()
    await alice.send(type="hello", user="alice")
    await alice.expect(type="welcome", user="alice", online=[])
    bob = await connect()
    await bob.send(type="hello", user="bob")
    await bob.expect(type="welcome", user="bob", online=["alice"])
    await alice.expect(type="presence", user="bob", online=True)
    carol = await connect()
    await carol.send(type="hello", user="carol")
    await carol.expect(type="welcome", user="carol", online=["alice", "bob"])
    await alice.expect(type="presence", user="carol", online=True)
    await bob.expect(type="presence", user="carol", online=True)
    assert server.online == ["alice", "bob", "carol"]


async def test_presence_announces_leaves(connect: Connect) -> None:
    alice = await connect("alice")
    bob = await connect("bob")
    await alice.expect(type="presence", user="bob", online=True)
    await bob.ws.close()
    await alice.expect(type="presence", user="bob", online=False)
    # The name is free again.
    await connect("bob")
    await alice.expect(type="presence", user="bob", online=True)


async def test_welcome_carries_configured_regions() -> None:
    regions = [{"name": "eu-west", "ice_servers": [{"urls": ["stun:127.0.0.1:3478"]}]}]
    srv = SignalingServer(regions=regions)
    await srv.start("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as session:
            alice = Raw(await session.ws_connect(srv.url), "alice")
            await alice.send(type="hello", user="alice")
            await alice.expect(type="welcome", user="alice", online=[], regions=regions)
    finally:
        await srv.stop()


async def test_first_message_must_be_hello(connect: Connect) -> None:
    raw = await connect()
    await raw.send(type="invite", call="c1", to="bob")
    await raw.error("not-registered", "c1")
    await raw.send(type="hello", user="alice")
    await raw.expect(type="welcome", user="alice", online=[])


async def test_second_hello_is_refused(connect: Connect) -> None:
    alice = await connect("alice")
    await alice.send(type="hello", user="alice2")
    err = await alice.error("bad-message")
    assert "already registered" in err["message"]
    await alice.sync()


@pytest.mark.parametrize("given", [None, "wrong", ""])
async def test_token_required(given: str | None, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="softphone.signaling")
    srv = SignalingServer(token="sesame-42")
    await srv.start("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as session:
            raw = Raw(await session.ws_connect(srv.url), None)
            hello: dict[str, Any] = {"type": "hello", "user": "alice"}
            if given is not None:
                hello["token"] = given
            await raw.send(**hello)
            err = await raw.error("unauthorized")
            assert "sesame" not in err["message"]
            assert srv.online == []
            # Still open: the right token now works.
            await raw.send(type="hello", user="alice", token="sesame-42")
            await raw.expect(type="welcome", user="alice", online=[])
    finally:
        await srv.stop()
    assert "sesame" not in caplog.text


# --- calls --------------------------------------------------------------------------


async def test_full_call_is_relayed_with_from(connect: Connect) -> None:
    alice = await connect("alice")
    bob = await connect("bob")
    await alice.expect(type="presence", user="bob", online=True)
    await alice.send(type="invite", call="c1", to="bob")
    await bob.expect(type="invite", call="c1", to="bob", **{"from": "alice"})
    await bob.send(type="ringing", call="c1")
    await alice.expect(type="ringing", call="c1", **{"from": "bob"})
    await bob.send(type="accept", call="c1")
    await alice.expect(type="accept", call="c1", **{"from": "bob"})
    await assert_call_works(alice, bob, "c1")
    answer = {"type": "answer", "sdp": SDP}
    await bob.send(type="sdp", call="c1", description=answer)
    await alice.expect(type="sdp", call="c1", description=answer, **{"from": "bob"})
    await alice.send(type="ice", call="c1", candidate=None)
    await bob.expect(type="ice", call="c1", candidate=None, **{"from": "alice"})
    await bob.send(type="hangup", call="c1", reason="bye")
    await alice.expect(type="hangup", call="c1", reason="bye", **{"from": "bob"})
    # The call is gone for both.
    await alice.send(type="sdp", call="c1", description=answer)
    await alice.error("unknown-call", "c1")
    await bob.sync()


async def test_relay_overrides_a_forged_from_and_keeps_extra_fields(connect: Connect) -> None:
    alice, bob = await in_call(connect)
    await alice.send(type="ringing", call="call-ab", video=True, **{"from": "mallory"})
    await bob.expect(type="ringing", call="call-ab", video=True, **{"from": "alice"})


async def test_decline_with_busy_ends_the_call(connect: Connect) -> None:
    alice = await connect("alice")
    bob = await connect("bob")
    await alice.expect(type="presence", user="bob", online=True)
    await alice.send(type="invite", call="c2", to="bob")
    await bob.recv()
    await bob.send(type="decline", call="c2", reason="busy")
    await alice.expect(type="decline", call="c2", reason="busy", **{"from": "bob"})
    await bob.send(type="accept", call="c2")
    await bob.error("unknown-call", "c2")


async def test_invite_to_offline_user_is_unavailable(connect: Connect) -> None:
    alice = await connect("alice")
    await alice.send(type="invite", call="c3", to="carol")
    err = await alice.error("unavailable", "c3")
    assert "carol" in err["message"]
    # No call was created.
    await alice.send(type="hangup", call="c3")
    await alice.error("unknown-call", "c3")


async def test_third_party_gets_unknown_call(connect: Connect) -> None:
    alice, bob = await in_call(connect)
    mallory = await connect("mallory")
    await alice.expect(type="presence", user="mallory", online=True)
    await bob.expect(type="presence", user="mallory", online=True)
    await mallory.send(type="sdp", call="call-ab", description={"type": "offer", "sdp": SDP})
    await mallory.error("unknown-call", "call-ab")
    await assert_call_works(alice, bob)


async def test_reusing_a_call_id_of_another_pair_is_refused(connect: Connect) -> None:
    alice, bob = await in_call(connect)
    carol = await connect("carol")
    await alice.recv()
    await bob.recv()
    await carol.send(type="invite", call="call-ab", to="alice")
    err = await carol.error("bad-message", "call-ab")
    assert "already in use" in err["message"]
    await assert_call_works(alice, bob)


async def test_either_party_may_resume_a_call(connect: Connect) -> None:
    """After a reconnect a party re-announces the call (``resume``); the other side may too."""
    alice, bob = await in_call(connect)
    await bob.send(type="invite", call="call-ab", to="alice", resume=True)
    await alice.expect(type="invite", call="call-ab", to="alice", resume=True, **{"from": "bob"})
    await alice.send(type="invite", call="call-ab", to="bob", resume=True)
    await bob.expect(type="invite", call="call-ab", to="bob", resume=True, **{"from": "alice"})
    await assert_call_works(alice, bob)


async def test_resume_must_be_a_boolean(connect: Connect) -> None:
    alice, bob = await in_call(connect)
    await alice.send(type="invite", call="call-ab", to="bob", resume="yes")
    err = await alice.error("bad-message", "call-ab")
    assert '"resume"' in err["message"]
    await assert_call_works(alice, bob)


async def test_disconnect_hangs_up_with_gone(connect: Connect) -> None:
    alice, bob = await in_call(connect)
    await bob.ws.close()
    await alice.expect(type="hangup", call="call-ab", reason="gone")
    await alice.expect(type="presence", user="bob", online=False)
    await alice.send(type="ringing", call="call-ab")
    await alice.error("unknown-call", "call-ab")


async def test_server_relays_sdp_opaquely(connect: Connect) -> None:
    """Only the shape is checked: SDP content errors are the receiving client's job."""
    alice, bob = await in_call(connect)
    garbage = {"type": "offer", "sdp": "this is not SDP at all"}
    await alice.send(type="sdp", call="call-ab", description=garbage)
    await bob.expect(type="sdp", call="call-ab", description=garbage, **{"from": "alice"})


# --- bad input -------------------------------------------------------------------------

BIG = "x" * (70 * 1024)


Payload = str | bytes | dict[str, Any]


def _bad(
    name: str, registered: bool, payload: Payload, code: str, call: str | None, needle: str
) -> Any:
    return pytest.param(registered, payload, code, call, needle, id=name)


BAD_INPUTS = [
    # name, registered first, what is sent, expected code and call, text in the message
    _bad("invalid-json", True, '{"type": "hello",', "bad-message", None, "JSON"),
    _bad("binary", True, b'{"type":"ringing"}', "bad-message", None, "binary"),
    _bad(
        "oversize",
        True,
        {"type": "sdp", "call": "call-ab", "description": {"type": "offer", "sdp": BIG}},
        "too-large",
        None,
        "65536",
    ),
    _bad("unknown-type", True, {"type": "teleport", "call": "x"}, "bad-message", None, "type"),
    _bad("missing-field", True, {"type": "invite", "call": "c9"}, "bad-message", "c9", '"to"'),
    _bad(
        "someone-elses-call",
        True,
        {"type": "hangup", "call": "call-ab"},
        "unknown-call",
        "call-ab",
        "call",
    ),
    _bad("duplicate-name", False, {"type": "hello", "user": "alice"}, "name-taken", None, "alice"),
    _bad("bad-user-name", False, {"type": "hello", "user": "al ice"}, "bad-message", None, "user"),
    _bad(
        "non-string-sdp",
        True,
        {"type": "sdp", "call": "c9", "description": {"type": "offer", "sdp": ["v=0"]}},
        "bad-message",
        "c9",
        "sdp",
    ),
    _bad(
        "malformed-candidate",
        True,
        {"type": "ice", "call": "c9", "candidate": {"candidate": "candidate:x y z"}},
        "bad-message",
        "c9",
        "RFC 8839",
    ),
]


@pytest.mark.parametrize(("registered", "payload", "code", "call", "needle"), BAD_INPUTS)
async def test_bad_input_gets_one_error_and_harms_nobody(
    connect: Connect,
    registered: bool,
    payload: Payload,
    code: str,
    call: str | None,
    needle: str,
) -> None:
    alice, bob = await in_call(connect)
    if registered:
        mallory = await connect("mallory")
        await alice.expect(type="presence", user="mallory", online=True)
        await bob.expect(type="presence", user="mallory", online=True)
    else:
        mallory = await connect()
    if isinstance(payload, bytes):
        await mallory.ws.send_bytes(payload)
    elif isinstance(payload, str):
        await mallory.ws.send_str(payload)
    else:
        await mallory.send(**payload)
    err = await mallory.error(code, call)
    assert needle in err["message"]
    await mallory.sync(registered)  # exactly one error, connection still open
    # The call between alice and bob is untouched, and they saw nothing of it.
    await assert_call_works(alice, bob)


async def test_huge_frame_beyond_the_buffer_limit_only_closes_that_socket(
    server: SignalingServer, connect: Connect
) -> None:
    alice, bob = await in_call(connect)
    mallory = await connect("mallory")
    await alice.recv()
    await bob.recv()
    # Up to 1 MiB: too-large, and the socket stays open.
    await mallory.ws.send_str("x" * (1024 * 1024))
    assert "65536" in (await mallory.error("too-large"))["message"]
    await mallory.sync()
    # Beyond: closed with 1009 and no reply.
    await mallory.ws.send_str("x" * (1024 * 1024 + 1))
    msg = await mallory.ws.receive(timeout=WAIT)
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert mallory.ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
    await alice.expect(type="presence", user="mallory", online=False)
    await bob.expect(type="presence", user="mallory", online=False)
    await assert_call_works(alice, bob)


# --- robustness ------------------------------------------------------------------------


async def test_slow_consumer_does_not_delay_others() -> None:
    # The flooder is not rate-limited: this is about a reader that stops, not a sender.
    limits = Limits(rate=100_000, burst=100_000)
    srv = SignalingServer(max_queue_bytes=512 * 1024, limits=limits)
    await srv.start("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as session:
            connect = await _connector(srv, session)
            alice, bob = await in_call(connect)
            flooder = await connect("flooder")
            slow = await connect("slow")  # never reads from here on
            await flooder.send(type="invite", call="flood", to="slow")
            for raw in (alice, bob, alice, bob):
                await raw.recv()  # presence of flooder and slow
            await flooder.recv()
            offer = {"type": "offer", "sdp": "v=0 " + "a" * 60000}
            # slow may be dropped (a presence) while a probe is on its way: set those aside
            alice.presence, bob.presence = [], []
            # Every probe relay completes (within WAIT) while slow's queue fills: a
            # server that waited on slow's socket would stall them until slow was
            # dropped. How long a relay takes under load is bench_signaling's figure.
            for i in range(600):
                await flooder.send(type="sdp", call="flood", description=offer)
                if i % 20 == 0:
                    await assert_call_works(alice, bob)
                if "slow" not in srv.online:
                    break
            else:
                # The server may still be working through the flood (it shares this
                # loop with the test): wait for it to reach the limit.
                await wait_for(lambda: "slow" not in srv.online, timeout=4 * WAIT)
            for raw in (alice, bob):
                gone = {"type": "presence", "user": "slow", "online": False}
                assert raw.presence in ([], [gone])
                if not raw.presence:
                    raw.presence = None
                    await raw.expect(**gone)
                raw.presence = None
            await assert_call_works(alice, bob)
            print(f"slow client dropped after {i + 1} messages")
            del slow
    finally:
        await srv.stop()


async def test_stop_closes_sockets_with_going_away() -> None:
    srv = SignalingServer()
    await srv.start("127.0.0.1", 0)
    async with aiohttp.ClientSession() as session:
        raw = Raw(await session.ws_connect(srv.url), None)
        await raw.send(type="hello", user="alice")
        await raw.recv()
        idle = await session.ws_connect(srv.url)  # connected, never says hello
        stopping = asyncio.create_task(srv.stop())
        msg = await raw.ws.receive(timeout=WAIT)
        assert msg.type is aiohttp.WSMsgType.CLOSE
        assert msg.data == aiohttp.WSCloseCode.GOING_AWAY
        msg = await idle.receive(timeout=WAIT)
        assert msg.type is aiohttp.WSMsgType.CLOSE
        await asyncio.wait_for(stopping, WAIT)  # the idle socket does not hold stop up


async def test_sdp_and_token_stay_out_of_info_logs(
    connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="softphone.signaling")
    alice, bob = await in_call(connect)
    await assert_call_works(alice, bob)
    await alice.send(type="sdp", call="call-ab", description={"type": "offer", "sdp": 5})
    await alice.error("bad-message", "call-ab")
    assert "joined" in caplog.text
    assert "IN IP4" not in caplog.text


async def test_run_server_serves_until_cancelled() -> None:
    with socket.socket() as probe:  # a free port for run_server, which takes a fixed one
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    task = asyncio.create_task(run_server("127.0.0.1", port, token="tok-1"))
    url = f"ws://127.0.0.1:{port}/ws"
    async with aiohttp.ClientSession() as session:
        async with asyncio.timeout(WAIT):
            while True:
                try:
                    ws = await session.ws_connect(url)
                    break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.02)
        raw = Raw(ws, "alice")
        await raw.send(type="hello", user="alice", token="tok-1")
        await raw.expect(type="welcome", user="alice", online=[])
        task.cancel()
        msg = await ws.receive(timeout=WAIT)
        assert msg.type is aiohttp.WSMsgType.CLOSE
        assert msg.data == aiohttp.WSCloseCode.GOING_AWAY
    with pytest.raises(asyncio.CancelledError):
        await task
