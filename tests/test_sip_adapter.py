"""The SIP adapter against a scripted WebSocket peer (a hostile or exacting "server").

Kamailio behaves; these tests make the far end do what Kamailio would not:
short registration expiries, malformed SIP in the middle of a call, a
re-INVITE crossing ours (glare, RFC 3261 section 14.1).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import WSMsgType, web
from sipmessage import AuthChallenge, Request, Response

from softphone.descriptions import Description
from softphone.signaling.adapter import (
    Accepted,
    ConnectionChanged,
    Declined,
    HungUp,
    Invited,
    Registered,
    RemoteDescription,
    RemoteDtmf,
    Ringing,
    SignalingError,
    SignalingEvent,
)
from softphone.signaling.sip import message as m
from softphone.signaling.sip.adapter import SipConfig, SipSignaling
from softphone.signaling.sip.digest import digest_response

PASSWORD = "fake-server-password"
SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


class FakeServer:
    """A WebSocket that speaks ``sip``: what the client sends is queued, the test replies."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[Request | Response] = asyncio.Queue()
        self.raw: list[bytes] = []
        self.ws: web.WebSocketResponse | None = None
        self.url = ""
        self.grant = 600
        self.algorithm = "SHA-256"
        self.auto_register = True
        self.keepalives: list[Request] = []  # the OPTIONS answered automatically
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"ws://127.0.0.1:{port}/"

    async def stop(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ws.close(), 1)
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=("sip",))
        await ws.prepare(request)
        self.ws = ws
        async for frame in ws:
            if frame.type != WSMsgType.TEXT:
                continue
            data = frame.data.encode()
            self.raw.append(data)
            message = m.parse(data)
            if self.auto_register and isinstance(message, Request):
                if message.method == "REGISTER":
                    await self._register(message)
                    continue
                if message.method == "OPTIONS":
                    self.keepalives.append(message)
                    await self.send(bytes(m.reply_to(message, 200, "OK", to_tag="s2")))
                    continue
            await self.received.put(message)
        return ws

    async def _register(self, request: Request) -> None:
        header = request.headers.get("Authorization")
        if header is None:
            reply = m.reply_to(request, 401, "Unauthorized", to_tag="s1")
            reply.headers.set(
                "WWW-Authenticate",
                f'Digest realm="fake", nonce="n{len(self.raw)}", qop="auth", '
                f"algorithm={self.algorithm}",
            )
        else:
            params = AuthChallenge.parse(header).parameters
            expected = digest_response(
                algorithm=params["algorithm"],
                username=params["username"],
                realm="fake",
                password=PASSWORD,
                method="REGISTER",
                uri=params["uri"],
                nonce=params["nonce"],
                qop=params.get("qop"),
                nc=params["nc"],
                cnonce=params["cnonce"],
            )
            if params["response"] != expected:
                reply = m.reply_to(request, 403, "Forbidden", to_tag="s1")
            else:
                reply = m.reply_to(request, 200, "OK", to_tag="s1")
                expires = request.headers.get("Expires", "0")
                granted = self.grant if expires != "0" else 0
                reply.headers.set("Contact", f"{request.headers['Contact']};expires={granted}")
                await self.received.put(request)
        m.with_body(reply, b"", None)
        await self.send(bytes(reply))

    async def send(self, data: bytes) -> None:
        assert self.ws is not None
        await self.ws.send_str(data.decode())

    async def next(self, method_or_code: str | int, timeout: float = 5) -> Any:
        """The next message the client sent that is this request method or response code."""
        while True:
            message = await asyncio.wait_for(self.received.get(), timeout)
            if isinstance(message, Request) and message.method == method_or_code:
                return message
            if isinstance(message, Response) and message.code == method_or_code:
                return message


@pytest.fixture
async def server() -> AsyncIterator[FakeServer]:
    fake = FakeServer()
    await fake.start()
    yield fake
    await fake.stop()


async def _client(server: FakeServer, events: list[SignalingEvent]) -> SipSignaling:
    client = SipSignaling(SipConfig(uri="sip:alice@fake.test", ws=server.url, password=PASSWORD))
    await client.start(events.append)
    return client


def _invite(to_tag: str | None = None, cseq: int = 1, call_id: str = "call-1") -> bytes:
    to = "<sip:alice@fake.test>" + (f";tag={to_tag}" if to_tag else "")
    body = SDP.encode()
    return (
        f"INVITE sip:alice@x.invalid;transport=ws SIP/2.0\r\n"
        f"Via: SIP/2.0/WS proxy.invalid;branch=z9hG4bK{cseq}{call_id}\r\n"
        f"From: <sip:bob@fake.test>;tag=bobtag\r\nTo: {to}\r\nCall-ID: {call_id}\r\n"
        f"CSeq: {cseq} INVITE\r\nContact: <sip:bob@127.0.0.1:5070>\r\nMax-Forwards: 70\r\n"
        f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _established_incoming_call(
    server: FakeServer, client: SipSignaling, events: list[SignalingEvent]
) -> tuple[str, str]:
    """bob calls alice and alice answers; returns (the session's call id, alice's tag)."""
    await server.send(_invite())
    await server.next(100)
    invited = await _event(events, Invited)
    await client.accept(invited.call)
    await _event(events, RemoteDescription)
    await client.send_description(invited.call, Description("answer", SDP))
    ok = await server.next(200)
    return invited.call, ok.to_address.parameters["tag"]


async def _event(events: list[SignalingEvent], kind: type[Any], timeout: float = 5) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        for event in events:
            if isinstance(event, kind):
                events.remove(event)
                return event
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no {kind.__name__} in {events}")
        await asyncio.sleep(0.01)


async def test_registers_with_sha256_refreshes_before_expiry_and_unregisters(
    server: FakeServer,
) -> None:
    server.grant = 2
    events: list[SignalingEvent] = []
    client = await _client(server, events)
    first = await server.next("REGISTER")
    refresh = await server.next("REGISTER", timeout=5)  # well before the 2 s binding lapses
    assert refresh.call_id == first.call_id and refresh.cseq.sequence > first.cseq.sequence
    await client.close()
    removal = await server.next("REGISTER")
    while removal.headers["Expires"] != "0":  # refreshes sent meanwhile come first
        removal = await server.next("REGISTER")
    assert all(PASSWORD.encode() not in raw for raw in server.raw)


async def test_malformed_sip_mid_call_is_answered_400_logged_and_the_call_goes_on(
    server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[SignalingEvent] = []
    client = await _client(server, events)
    call, tag = await _established_incoming_call(server, client, events)
    caplog.set_level(logging.WARNING, "softphone.signaling.sip")
    broken = _invite(to_tag=tag, cseq=2).replace(b"CSeq: 2 INVITE", b"CSeq: 2 BYE")
    server.auto_register = False
    await server.send(broken)
    await server.send(b"\x00\x01 not SIP at all")
    bad = await server.next(400)
    assert bad.call_id == "call-1" and "CSeq method BYE" in bad.phrase
    assert "malformed SIP message" in caplog.text
    assert not [e for e in events if isinstance(e, HungUp | SignalingError)]
    bye = _invite(to_tag=tag, cseq=3).replace(b"INVITE sip:", b"BYE sip:")
    bye = bye.replace(b"CSeq: 3 INVITE", b"CSeq: 3 BYE")
    await server.send(bye)
    await server.next(200)
    assert (await _event(events, HungUp)).call == call
    await client.close()


async def test_glare_is_answered_491_and_our_reinvite_is_retried(server: FakeServer) -> None:
    events: list[SignalingEvent] = []
    client = await _client(server, events)
    call, tag = await _established_incoming_call(server, client, events)
    await client.send_description(call, Description("offer", SDP))  # our ICE restart
    ours = await server.next("INVITE")
    await server.send(_invite(to_tag=tag, cseq=2))  # theirs crosses it
    assert (await server.next(491)).cseq.sequence == 2
    pending = m.reply_to(ours, 491, "Request Pending", to_tag="bobtag")
    m.with_body(pending, b"", None)
    await server.send(bytes(pending))
    await server.next("ACK")
    retry = await server.next("INVITE", timeout=5)  # after 0-2 s: we do not own the Call-ID
    assert retry.cseq.sequence > ours.cseq.sequence
    ok = m.reply_to(retry, 200, "OK", to_tag="bobtag")
    ok.headers.set("Contact", "<sip:bob@127.0.0.1:5070>")
    m.with_body(ok, SDP.encode(), "application/sdp")
    await server.send(bytes(ok))
    answer = await _event(events, RemoteDescription)
    assert answer.description.type == "answer"
    await server.next("ACK")
    await client.close()


def _info(tag: str, cseq: int, body: bytes, content_type: str = "application/dtmf-relay") -> bytes:
    """An in-dialog INFO from bob (RFC 6086) with ``body``."""
    request = _invite(to_tag=tag, cseq=cseq).split(b"\r\n\r\n", 1)[0]
    request = request.replace(b"INVITE sip:", b"INFO sip:").replace(b" INVITE\r\n", b" INFO\r\n")
    request = request.replace(b"application/sdp", content_type.encode())
    request = request.replace(
        f"Content-Length: {len(SDP)}".encode(), f"Content-Length: {len(body)}".encode()
    )
    return request + b"\r\n\r\n" + body


async def test_info_dtmf_relay_becomes_a_digit_and_a_bad_one_is_400(server: FakeServer) -> None:
    events: list[SignalingEvent] = []
    client = await _client(server, events)
    call, tag = await _established_incoming_call(server, client, events)
    for cseq, (body, digit, duration) in enumerate(
        [(b"Signal=5\r\nDuration=160\r\n", "5", 160), (b"Signal=#\r\n", "#", 250),
         (b"signal = 10\nduration = 80", "*", 80)], start=2,
    ):  # fmt: skip
        await server.send(_info(tag, cseq, body))
        assert (await server.next(200)).cseq.sequence == cseq
        assert await _event(events, RemoteDtmf) == RemoteDtmf(call, digit, duration)
    for cseq, body in enumerate([b"Signal=X\r\n", b"Signal=1\r\nDuration=-4", b"Duration=1"], 5):
        await server.send(_info(tag, cseq, body))
        refused = await server.next(400)
        assert refused.cseq.sequence == cseq and "dtmf-relay" in refused.phrase
    await server.send(_info(tag, 8, b"<xml/>", "application/media_control+xml"))
    assert (await server.next(200)).cseq.sequence == 8  # another INFO package: 200, ignored
    await asyncio.sleep(0.1)
    assert not [e for e in events if isinstance(e, RemoteDtmf | HungUp | SignalingError)]
    await client.close()


async def test_a_hold_reinvite_from_the_far_end_is_a_remote_offer_answered_in_the_200(
    server: FakeServer,
) -> None:
    events: list[SignalingEvent] = []
    client = await _client(server, events)
    call, tag = await _established_incoming_call(server, client, events)
    hold_sdp = SDP + "m=audio 9 RTP/AVP 0\r\na=sendonly\r\n"
    reinvite = _invite(to_tag=tag, cseq=2).replace(SDP.encode(), hold_sdp.encode())
    reinvite = reinvite.replace(
        f"Content-Length: {len(SDP)}".encode(), f"Content-Length: {len(hold_sdp)}".encode()
    )
    await server.send(reinvite)
    offer = await _event(events, RemoteDescription)
    assert offer.call == call and "a=sendonly" in offer.description.sdp
    await client.send_description(call, Description("answer", SDP + "a=recvonly\r\n"))
    ok = await server.next(200)
    assert ok.cseq.sequence == 2 and b"a=recvonly" in ok.body
    await client.close()


async def test_keepalive_options_go_to_the_registrar_at_the_configured_interval(
    server: FakeServer,
) -> None:
    events: list[SignalingEvent] = []
    config = SipConfig(uri="sip:alice@fake.test", ws=server.url, password=PASSWORD, keepalive_s=0.2)
    client = SipSignaling(config)
    await client.start(events.append)
    deadline = asyncio.get_running_loop().time() + 5
    while len(server.keepalives) < 3 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    sent = server.keepalives[:3]
    assert len(sent) == 3, "fewer than 3 keepalive OPTIONS in 5 s at a 0.2 s interval"
    assert {str(r.uri) for r in sent} == {"sip:fake.test"}  # the registrar, not a user
    assert len({r.call_id for r in sent}) == 3  # each a new transaction
    await client.close()
    assert not [e for e in events if isinstance(e, SignalingError)]


async def test_a_late_offer_invite_gets_our_offer_in_the_200_and_the_answer_in_the_ack(
    server: FakeServer,
) -> None:
    events: list[SignalingEvent] = []
    client = await _client(server, events)
    late = _invite().split(b"Content-Type:", 1)[0] + b"Content-Length: 0\r\n\r\n"
    await server.send(late)
    await server.next(100)
    invited = await _event(events, Invited)
    await client.accept(invited.call)
    assert client.answer_carries_offer(invited.call)
    await asyncio.sleep(0.05)
    assert not [e for e in events if isinstance(e, RemoteDescription)]  # nothing to answer
    await client.send_description(invited.call, Description("offer", SDP))
    ok = await server.next(200)
    assert ok.body == SDP.encode() and ok.cseq.method == "INVITE"
    assert not client.answer_carries_offer(invited.call)
    tag = ok.to_address.parameters["tag"]
    ack = _info(tag, 1, SDP.encode(), "application/sdp").replace(b"INFO", b"ACK")
    await server.send(ack)
    answer = await _event(events, RemoteDescription)
    assert answer.call == invited.call and answer.description.type == "answer"
    await server.send(ack)  # a retransmitted ACK is not a second answer
    await asyncio.sleep(0.1)
    assert not [e for e in events if isinstance(e, RemoteDescription | SignalingError)]
    await client.close()


async def test_dialing_completes_a_bare_name_with_the_domain(server: FakeServer) -> None:
    client = SipSignaling(SipConfig(uri="sip:alice@fake.test", ws=server.url))
    assert str(client.target("bob")) == "sip:bob@fake.test"
    assert str(client.target("sip:carol@other.test")) == "sip:carol@other.test"
    assert str(client.target("dave@third.test")) == "sip:dave@third.test"
    assert client.callee_problem("bad name<") is not None


async def test_a_dropped_websocket_reconnects_and_registers_again(server: FakeServer) -> None:
    events: list[SignalingEvent] = []
    client = await _client(server, events)
    first = await server.next("REGISTER")
    assert server.ws is not None
    await server.ws.close()
    again = await server.next("REGISTER", timeout=10)
    assert again.call_id != first.call_id  # a new registration on the new connection
    await _event(events, Registered)  # the start's
    await _event(events, Registered)  # the reconnect's
    states = [e.state for e in events if isinstance(e, ConnectionChanged)]
    assert "reconnecting" in states and states[-1] == "connected"
    await client.close()


def _challenge(request: Request, code: int, header: str) -> bytes:
    reply = m.reply_to(request, code, "Unauthorized", to_tag="px")
    reply.headers.set(header, 'Digest realm="fake", nonce="inv1", qop="auth", algorithm=MD5')
    m.with_body(reply, b"", None)
    return bytes(reply)


async def test_an_outgoing_invite_answers_401_and_183_is_ringing(server: FakeServer) -> None:
    events: list[SignalingEvent] = []
    client = await _client(server, events)
    await client.invite("c1", "bob")
    await client.send_description("c1", Description("offer", SDP))
    first = await server.next("INVITE")
    assert str(first.uri) == "sip:bob@fake.test" and first.body == SDP.encode()
    await server.send(_challenge(first, 401, "WWW-Authenticate"))
    await server.next("ACK")
    second = await server.next("INVITE")
    assert second.cseq.sequence == first.cseq.sequence + 1
    assert 'username="alice"' in second.headers["Authorization"]
    progress = m.reply_to(second, 183, "Session Progress", to_tag="bobtag")
    m.with_body(progress, b"", None)
    await server.send(bytes(progress))
    assert (await _event(events, Ringing)).call == "c1"
    ok = m.reply_to(second, 200, "OK", to_tag="bobtag")
    ok.headers.set("Contact", "<sip:bob@127.0.0.1:5070>")
    m.with_body(ok, SDP.encode(), "application/sdp")
    await server.send(bytes(ok))
    ack = await server.next("ACK")
    assert str(ack.uri) == "sip:bob@127.0.0.1:5070" and ack.cseq.sequence == second.cseq.sequence
    assert (await _event(events, Accepted)).call == "c1"
    assert (await _event(events, RemoteDescription)).description.type == "answer"
    await client.hangup("c1")
    bye = await server.next("BYE")
    assert bye.to_address.parameters["tag"] == "bobtag"
    await client.close()


async def _dialing(
    server: FakeServer, call: str, to: str
) -> tuple[SipSignaling, list[SignalingEvent]]:
    """A registered client that has sent its INVITE for ``call`` to ``to``."""
    events: list[SignalingEvent] = []
    client = await _client(server, events)
    await client.invite(call, to)
    await client.send_description(call, Description("offer", SDP))
    return client, events


async def test_a_183_with_sdp_is_early_media_and_the_200_does_not_answer_twice(
    server: FakeServer,
) -> None:
    client, events = await _dialing(server, "c1", "bob")
    invite = await server.next("INVITE")  # no challenge this time
    progress = m.reply_to(invite, 183, "Session Progress", to_tag="bobtag")
    m.with_body(progress, SDP.encode(), "application/sdp")
    await server.send(bytes(progress))
    assert (await _event(events, Ringing)).call == "c1"
    early = await _event(events, RemoteDescription)  # before the 200: media while ringing
    assert early.description.type == "answer" and early.description.sdp == SDP
    ok = m.reply_to(invite, 200, "OK", to_tag="bobtag")
    ok.headers.set("Contact", "<sip:bob@127.0.0.1:5070>")
    m.with_body(ok, SDP.encode(), "application/sdp")
    await server.send(bytes(ok))
    await server.next("ACK")
    assert (await _event(events, Accepted)).call == "c1"
    await asyncio.sleep(0.1)
    assert not [e for e in events if isinstance(e, RemoteDescription)]  # applied once
    await client.close()


async def test_a_refused_invite_challenge_ends_the_call_naming_the_server(
    server: FakeServer,
) -> None:
    client, events = await _dialing(server, "c2", "sip:bob@fake.test")
    for _ in range(2):  # the retry with credentials is challenged again: they were refused
        invite = await server.next("INVITE")
        await server.send(_challenge(invite, 407, "Proxy-Authenticate"))
    error = await _event(events, SignalingError)
    assert server.url in error.message and "407" in error.message
    assert PASSWORD not in error.message
    assert (await _event(events, Declined)).reason == "unauthorized"
    await client.close()
