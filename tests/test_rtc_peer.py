"""PeerConnection calls between two in-process peers over loopback (host and real coturn relay)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from softphone.descriptions import Candidate, Description
from softphone.rtc.configuration import Configuration, IceServer
from softphone.rtc.errors import InvalidStateError
from softphone.rtc.gathering import default_host_addresses
from softphone.rtc.peer import PeerConnection
from tests.coturn import TurnRegion, start_regions
from tests.rtc_probe import LOOPBACK, wait_for
from tests.rtc_probe import TwoPeers as Call


@pytest.fixture(scope="module")
def regions() -> Iterator[list[TurnRegion]]:
    started = start_regions("127.0.0.2", "127.0.0.3", base_port=50000)
    yield started
    for region in started:
        region.stop()


def new_call(calls: list[Call], config: Configuration, **kwargs: object) -> Call:
    call = Call.with_configuration(config, **kwargs)
    calls.append(call)
    return call


async def test_host_call_over_loopback(calls: list[Call]) -> None:
    call = new_call(calls, Configuration())
    await call.connect()
    pair = call.caller.selected_pair()
    assert pair is not None
    assert (pair.local.type, pair.local.address) == ("host", "127.0.0.1")
    assert call.state_names("caller") == ["connecting", "connected"]
    stats = await call.caller.getStats()
    assert stats.packets_sent > 0 and stats.packets_received > 0
    assert stats.rtt_ms is not None and stats.rtt_ms >= 0
    assert stats.selected_pair == pair
    assert call.caller.iceGatheringState == "complete"
    assert call.caller.signalingState == call.callee.signalingState == "stable"


async def test_relay_call_through_coturn(calls: list[Call], regions: list[TurnRegion]) -> None:
    call = new_call(calls, regions[0].configuration("relay"))
    await call.connect()
    for pc in (call.caller, call.callee):
        pair = pc.selected_pair()
        assert pair is not None
        assert pair.local.type == "relay" and pair.local.address == "127.0.0.2"
        assert pair.remote.type == "relay"
        assert pair.local.url == regions[0].url
    # Relay policy: no host candidate is ever offered.
    assert call.caller.localDescription is not None
    assert "typ host" not in call.caller.localDescription.sdp
    stats = await call.callee.getStats()
    assert stats.packets_received > 0 and stats.packets_lost == 0


async def test_region_with_dead_first_turn_server_still_connects(
    calls: list[Call], regions: list[TurnRegion]
) -> None:
    dead = IceServer(urls=("turn:127.0.0.9:3478?transport=udp",), username="u", credential="p")
    config = Configuration(
        ice_servers=(dead, regions[1].ice_server()), ice_transport_policy="relay"
    )
    call = new_call(calls, config)
    await call.connect()
    pair = call.caller.selected_pair()
    assert pair is not None and pair.local.address == "127.0.0.3"


async def test_every_turn_url_is_gathered(calls: list[Call], regions: list[TurnRegion]) -> None:
    config = Configuration(
        ice_servers=(regions[0].ice_server(), regions[1].ice_server()),
        ice_transport_policy="relay",
    )
    call = new_call(calls, config)
    await call.connect()
    offer = call.caller.localDescription
    assert offer is not None
    assert "127.0.0.2" in offer.sdp and "127.0.0.3" in offer.sdp


async def test_default_host_addresses_in_loopback_namespace() -> None:
    addresses = default_host_addresses()
    assert (addresses and "127.0.0.1" not in addresses) or addresses == ["127.0.0.1"]


async def test_garbage_sdp_leaves_connection_unchanged(calls: list[Call]) -> None:
    call = new_call(calls, Configuration())
    pc = call.callee
    for bad in ("", "hello", "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n"):
        with pytest.raises(ValueError, match="invalid SDP"):
            await pc.setRemoteDescription(Description(type="offer", sdp=bad))
        assert pc.signalingState == "stable" and pc.remoteDescription is None
    await call.connect()


async def test_malformed_candidate_is_rejected_clearly(calls: list[Call]) -> None:
    call = new_call(calls, Configuration())
    await call.connect()
    with pytest.raises(ValueError, match="malformed ICE candidate"):
        await call.caller.addIceCandidate(Candidate(candidate="candidate:garbage", sdp_mid="0"))
    # A candidate of an old generation (unknown ufrag) is ignored silently.
    await call.caller.addIceCandidate(
        Candidate(
            candidate="candidate:1 1 udp 2130706431 127.0.0.1 9999 typ host",
            sdp_mid="0",
            username_fragment="zzzz",
        )
    )
    await call.heard["caller"].wait_frames(5)
    assert call.caller.connectionState == "connected"


async def test_trickled_candidates_are_accepted(calls: list[Call]) -> None:
    """A browser trickles: its offer has no candidates, they come one by one."""
    caller = PeerConnection(Configuration(), host_addresses=LOOPBACK)
    callee = PeerConnection(Configuration(), host_addresses=LOOPBACK)
    calls.append(Call(caller, callee))
    offer = await caller.createOffer()
    await caller.setLocalDescription(offer)
    lines = offer.sdp.split("\r\n")
    cands = [line[2:] for line in lines if line.startswith("a=candidate:")]
    stripped = "\r\n".join(
        line for line in lines if not line.startswith(("a=candidate:", "a=end-of-candidates"))
    )
    ufrag = next(line.split(":", 1)[1] for line in lines if line.startswith("a=ice-ufrag:"))
    await callee.setRemoteDescription(Description(type="offer", sdp=stripped))
    await callee.setLocalDescription()
    assert callee.localDescription is not None
    await caller.setRemoteDescription(callee.localDescription)
    for cand in cands:
        await callee.addIceCandidate(
            Candidate(candidate=cand, sdp_mid="0", sdp_mline_index=0, username_fragment=ufrag)
        )
    await callee.addIceCandidate(None)
    await wait_for(lambda: caller.connectionState == callee.connectionState == "connected", 10)


async def test_closed_connection_rejects_calls() -> None:
    pc = PeerConnection(Configuration(), host_addresses=LOOPBACK)
    await pc.close()
    assert pc.connectionState == "closed" and pc.signalingState == "closed"
    with pytest.raises(InvalidStateError):
        await pc.createOffer()
    with pytest.raises(InvalidStateError):
        pc.setConfiguration(Configuration())
    with pytest.raises(InvalidStateError):
        pc.restartIce()
