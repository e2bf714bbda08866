"""Fails loudly when aiortc/aioice change what softphone/rtc/internals.py relies on.

Every private name used there is checked here for existence and shape, so an
upgrade shows exactly which assumption broke instead of a call dying mid-way.
"""

from __future__ import annotations

import asyncio
import inspect

import aioice
import aiortc
from aioice import Connection, stun
from aioice.ice import CandidatePair, StunProtocol
from aiortc import RTCCertificate, RTCDtlsTransport, RTCRtpReceiver, RTCRtpSender
from aiortc.rtcdtlstransport import RTCDtlsTransport as DtlsModuleClass

from softphone.rtc import internals
from softphone.rtc.configuration import Configuration
from softphone.rtc.gathering import gather
from softphone.rtc.ice import IceTransport
from tests import rtc_internals_probe as probe
from tests.rtc_probe import wait_for


def test_pinned_versions() -> None:
    assert aiortc.__version__ == internals.AIORTC_VERSION == "1.16.0"
    assert aioice.__version__ == internals.AIOICE_VERSION == "0.13.0"
    assert probe.versions_match()


async def test_aioice_connection_private_attributes() -> None:
    conn = Connection(ice_controlling=True)
    for name, kind in [
        ("_local_candidates", list),
        ("_protocols", list),
        ("_local_candidates_start", bool),
        ("_local_candidates_end", bool),
        ("_nominated", dict),
        ("_check_list", list),
        ("_remote_candidates", list),
    ]:
        assert isinstance(getattr(conn, name), kind), name
    for method in ("data_received", "check_incoming", "build_request", "_find_pair", "close"):
        assert callable(getattr(conn, method)), method
    params = list(inspect.signature(conn.check_incoming).parameters)
    assert params == ["message", "addr", "protocol"]
    assert list(inspect.signature(conn.data_received).parameters) == ["data", "component"]
    assert list(inspect.signature(conn.build_request).parameters) == ["pair", "nominate"]
    await conn.close()


async def test_aioice_protocol_and_transaction_shape() -> None:
    conn = Connection(ice_controlling=True)
    protocol = StunProtocol(conn)
    assert isinstance(protocol.transactions, dict)
    assert "retransmissions" in inspect.signature(protocol.request).parameters
    request = stun.Message(message_method=stun.Method.BINDING, message_class=stun.Class.REQUEST)
    transaction = stun.Transaction(request, ("127.0.0.1", 9), protocol)
    assert transaction._Transaction__request is request  # type: ignore[attr-defined]
    assert transaction._Transaction__addr == ("127.0.0.1", 9)  # type: ignore[attr-defined]
    assert CandidatePair.State.IN_PROGRESS.name == "IN_PROGRESS"
    pair = CandidatePair(protocol, aioice.Candidate("f", 1, "udp", 1, "127.0.0.1", 9, "host"))
    for name in ("protocol", "state", "remote_candidate", "task"):
        assert hasattr(pair, name), name
    assert isinstance(CandidatePair.remote_addr, property)
    assert isinstance(CandidatePair.local_candidate, property)
    await conn.close()


async def test_aiortc_dtls_and_rtp_private_attributes() -> None:
    ice = IceTransport()
    dtls = RTCDtlsTransport(ice, [RTCCertificate.generateCertificate()])  # type: ignore[arg-type]
    assert DtlsModuleClass is RTCDtlsTransport
    assert internals.dtls_role(dtls) == "auto"
    internals.set_dtls_role(dtls, "client")
    assert internals.dtls_role(dtls) == "client"
    assert probe.dtls_srtp_sessions(dtls) == (None, None)
    sender = RTCRtpSender("audio", dtls)
    assert isinstance(internals.sender_ssrc(sender), int)
    assert isinstance(internals.sender_track_id(sender), str)
    internals.set_sender_stream_id(sender, "stream")
    assert sender._stream_id == "stream"
    receiver = RTCRtpReceiver("audio", dtls)
    internals.set_receiver_rtcp_ssrc(receiver, 1234)
    assert receiver._RTCRtpReceiver__rtcp_ssrc == 1234  # type: ignore[attr-defined]
    track = internals.set_receiver_track(receiver, "audio", "t")
    assert receiver.track is track
    # What RTCDtlsTransport calls on its ICE transport, provided by IceTransport.
    source = inspect.getsource(DtlsModuleClass)
    for name in ("transport._recv()", "transport._send(data)", "transport.role"):
        assert name in source, name
    for name in internals.DTLS_ICE_TRANSPORT_METHODS:
        assert hasattr(ice, name), name
    await ice.close()


def test_aiortc_sdp_and_codec_helpers_exist() -> None:
    from aiortc.codecs import CODECS, HEADER_EXTENSIONS
    from aiortc.rtcicetransport import candidate_from_aioice, candidate_to_aioice
    from aiortc.rtcpeerconnection import (
        and_direction,
        find_common_codecs,
        find_common_header_extensions,
        reverse_direction,
    )

    assert CODECS["audio"] and HEADER_EXTENSIONS["audio"]
    assert callable(candidate_from_aioice) and callable(candidate_to_aioice)
    assert callable(find_common_codecs) and callable(find_common_header_extensions)
    assert and_direction("sendrecv", reverse_direction("sendonly")) == "recvonly"


def test_describe_transport_fills_ice_and_dtls_lines() -> None:
    """aiortc's add_transport_description reads only what our view of a generation holds."""
    from aiortc import RTCDtlsFingerprint
    from aiortc import sdp as aiosdp

    fingerprint = RTCDtlsFingerprint(algorithm="sha-256", value="AB:CD")
    candidate = aioice.Candidate("f", 1, "udp", 2130706431, "127.0.0.1", 5000, "host")
    media = aiosdp.MediaDescription(kind="audio", port=9, profile="UDP/TLS/RTP/SAVPF", fmt=[])
    internals.describe_transport(
        media,
        ufrag="uf",
        pwd="pw",
        candidates=[candidate],
        fingerprints=[fingerprint],
        dtls_role="server",
    )
    assert media.ice is not None and media.dtls is not None
    assert (media.ice.usernameFragment, media.ice.password) == ("uf", "pw")
    assert [(c.ip, c.port) for c in media.ice_candidates] == [("127.0.0.1", 5000)]
    assert media.ice_candidates_complete
    assert (media.host, media.port) == ("127.0.0.1", 5000)
    assert media.dtls.fingerprints == [fingerprint] and media.dtls.role == "server"
    empty = aiosdp.MediaDescription(kind="audio", port=9, profile="UDP/TLS/RTP/SAVPF", fmt=[])
    internals.describe_transport(
        empty, ufrag="uf", pwd="pw", candidates=[], fingerprints=[fingerprint], dtls_role="auto"
    )
    assert (empty.host, empty.port) == ("0.0.0.0", 9) and not empty.ice_candidates


def test_aioice_gathering_helpers_keep_their_signature() -> None:
    from aioice.ice import relayed_candidate, server_reflexive_candidate

    assert list(inspect.signature(relayed_candidate).parameters) == [
        "component",
        "hide_related_address",
        "protocol_factory",
        "turn_server",
        "turn_username",
        "turn_password",
        "turn_ssl",
        "turn_transport",
    ]
    assert list(inspect.signature(server_reflexive_candidate).parameters) == [
        "protocol",
        "stun_server",
    ]


async def test_aioice_check_start_and_nomination_shape() -> None:
    """What install_check_gate and nomination_request rely on."""
    conn = Connection(ice_controlling=True)
    assert inspect.iscoroutinefunction(conn.check_start)
    assert list(inspect.signature(conn.check_start).parameters) == ["pair"]
    assert list(inspect.signature(conn.check_state).parameters) == ["pair", "state"]
    conn.remote_username, conn.remote_password = "abcd", "x" * 22
    protocol = StunProtocol(conn)
    protocol.local_candidate = aioice.Candidate("g", 1, "udp", 1, "127.0.0.1", 8, "host")
    pair = CandidatePair(protocol, aioice.Candidate("f", 1, "udp", 1, "127.0.0.1", 9, "host"))
    assert "USE-CANDIDATE" in internals.nomination_request(conn, pair).attributes
    assert "USE-CANDIDATE" not in internals.consent_request(conn, pair).attributes
    await conn.close()


async def _gathered_pair(
    hold: float,
) -> tuple[Connection, Connection, internals.CheckGate]:
    """Two loopback connections; the controlled one holds its checks behind a gate."""
    offerer = Connection(ice_controlling=True, components=1, use_ipv6=False)
    answerer = Connection(ice_controlling=False, components=1, use_ipv6=False)
    for conn in (offerer, answerer):
        await gather(conn, Configuration(), ["127.0.0.1"])
    for conn, peer in ((offerer, answerer), (answerer, offerer)):
        conn.remote_username, conn.remote_password = peer.local_username, peer.local_password
        for candidate in peer.local_candidates:
            await conn.add_remote_candidate(candidate)
        await conn.add_remote_candidate(None)
    gate = internals.install_check_gate(answerer, hold)
    return offerer, answerer, gate


async def test_check_gate_holds_until_the_peer_checks() -> None:
    offerer, answerer, gate = await _gathered_pair(hold=30.0)
    try:
        answering = asyncio.ensure_future(answerer.connect())
        # Every pair's check started (a held pair is In-Progress while it waits)...
        await wait_for(
            lambda: all(p.state.name == "IN_PROGRESS" for p in probe.check_list(answerer))
        )
        # ...yet no check left the answerer: the offerer has not seen any request yet.
        assert not gate.opened.is_set()
        assert all(not p.transactions for p in probe.connection_protocols(answerer))
        await asyncio.wait_for(asyncio.gather(offerer.connect(), answering), 10)
        assert gate.opened.is_set()
        assert internals.nominated_pair(answerer) is not None
    finally:
        await offerer.close()
        await answerer.close()


async def test_check_gate_lets_checks_go_after_its_hold() -> None:
    offerer, answerer, gate = await _gathered_pair(hold=0.2)
    try:
        answering = asyncio.ensure_future(answerer.connect())

        # The hold is over: the answerer checks although the offerer never did.
        def checked() -> bool:
            sent = any(p.transactions for p in probe.connection_protocols(answerer))
            return sent or any(p.state.name == "SUCCEEDED" for p in probe.check_list(answerer))

        await wait_for(checked)
        assert not gate.opened.is_set()
        await asyncio.wait_for(asyncio.gather(offerer.connect(), answering), 10)
    finally:
        await offerer.close()
        await answerer.close()
