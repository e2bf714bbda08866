"""setConfiguration, restartIce, negotiationneeded and make-before-break region switches.

Two in-process PeerConnections call each other through real coturn regions on
127.0.0.2 / 127.0.0.3 with ``ice_transport_policy = "relay"``, so every path
crosses a region's TURN server.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCSessionDescription,
)

from softphone.descriptions import Candidate, Description
from softphone.rtc.configuration import Configuration, IceServer
from softphone.rtc.errors import InvalidAccessError, InvalidModificationError, RTCSyntaxError
from softphone.rtc.peer import PeerConnection
from tests.coturn import PASSWORD, USER, TurnRegion, in_loopback_namespace, start_regions
from tests.gaps import assert_gap_within
from tests.rtc_internals_probe import dtls_srtp_sessions
from tests.rtc_probe import LOOPBACK, QUIET_FRAMES, FrameRecorder, ToneTrack, wait_for
from tests.rtc_probe import TwoPeers as Call


@pytest.fixture(scope="module")
def regions() -> Iterator[list[TurnRegion]]:
    started = start_regions("127.0.0.2", "127.0.0.3", base_port=51000)
    yield started
    for region in started:
        region.stop()


async def switch(call: Call, side: str, region: TurnRegion) -> float:
    """Switch one side to ``region``; returns ms until both use a pair through it."""
    pc = call.caller if side == "caller" else call.callee
    other = call.callee if side == "caller" else call.caller
    pc.setConfiguration(region.configuration("relay"))
    start = time.monotonic()
    pc.restartIce()

    def on_region() -> bool:
        mine, theirs = pc.selected_pair(), other.selected_pair()
        return (
            mine is not None
            and theirs is not None
            and mine.local.address == region.address
            and theirs.remote.address == region.address
        )

    await wait_for(on_region, 10)
    return (time.monotonic() - start) * 1000


# --- setConfiguration -------------------------------------------------------------------------


async def connected(calls: list[Call], config: Configuration, **kwargs: Any) -> Call:
    """A two-peer call on ``config``, connected and hearing each other; closed after the test."""
    call = Call.with_configuration(config, **kwargs)
    calls.append(call)
    await call.connect()
    return call


async def test_set_configuration_replaces_and_rejects(regions: list[TurnRegion]) -> None:
    a, b = regions
    pc = PeerConnection(a.configuration("relay"), host_addresses=LOOPBACK)
    try:
        pc.setConfiguration(b.configuration("relay"))
        assert pc.getConfiguration().ice_servers == (b.ice_server(),)  # replaced, not merged
        before = pc.getConfiguration()
        bad = IceServer(urls=("turn:",), username="u", credential="p")
        bad_url = Configuration(ice_servers=(bad,))
        with pytest.raises(RTCSyntaxError):
            pc.setConfiguration(bad_url)
        with pytest.raises(InvalidAccessError):
            pc.setConfiguration(Configuration(ice_servers=(IceServer(urls=(a.url,)),)))
        with pytest.raises(InvalidModificationError):
            pc.setConfiguration(Configuration(bundle_policy="balanced"))
        assert pc.getConfiguration() is before  # nothing changed on error
    finally:
        await pc.close()


async def test_new_configuration_is_used_by_the_next_gathering_only(
    calls: list[Call], regions: list[TurnRegion]
) -> None:
    a, b = regions
    call = await connected(calls, a.configuration("relay"))
    call.caller.setConfiguration(b.configuration("relay"))
    await call.settled_after()  # audio went on: the moment for an immediate effect passed
    pair = call.caller.selected_pair()
    assert pair is not None and pair.local.address == a.address  # no immediate effect
    assert call.negotiationneeded == {"caller": 0, "callee": 0} and not call.events["caller"]
    await switch(call, "caller", b)


# --- region switch, make-before-break -------------------------------------------------------


@pytest.mark.parametrize("side", ["caller", "callee"])
async def test_region_switch_without_gap_or_loss(
    calls: list[Call], regions: list[TurnRegion], side: str
) -> None:
    a, b = regions
    call = await connected(calls, a.configuration("relay"))
    dtls = {s: pc.dtls_transport for s, pc in call.sides()}
    srtp = {s: dtls_srtp_sessions(pc.dtls_transport) for s, pc in call.sides()}
    quiet = await call.quiet_gaps()
    start = time.monotonic()
    await switch(call, side, b)
    await wait_for(lambda: "done" in call.phases(side), 10)
    end = await call.settled_after()
    pc = call.caller if side == "caller" else call.callee
    pair = pc.selected_pair()
    assert pair is not None and pair.local.type == "relay" and pair.local.address == b.address
    assert pair.local.url == b.url
    for s, other in call.sides():
        assert other.dtls_transport is dtls[s]
        assert dtls_srtp_sessions(other.dtls_transport) == srtp[s]
    call.assert_smooth(start, end, quiet)
    assert await call.packets_lost() == 0
    assert call.phases(side)[:2] == ["begun", "gathered"]
    assert not call.signaling.errors


async def test_three_switches_in_a_row(calls: list[Call], regions: list[TurnRegion]) -> None:
    a, b = regions
    call = await connected(calls, a.configuration("relay"))
    dtls = call.caller.dtls_transport
    quiet = await call.quiet_gaps()
    start = time.monotonic()
    for done, region in enumerate((b, a, b), 1):
        await switch(call, "caller", region)
        await wait_for(lambda done=done: call.phases("caller").count("done") == done, 10)
        end = await call.settled_after()
    assert call.caller.dtls_transport is dtls
    call.assert_smooth(start, end, quiet)
    assert await call.packets_lost() == 0


# --- negotiationneeded, queued restarts, glare ---------------------------------------------


async def test_negotiationneeded_fires_once_per_restart(
    calls: list[Call], regions: list[TurnRegion]
) -> None:
    call = await connected(calls, regions[0].configuration("relay"))
    before = call.caller.ice_generation
    call.caller.restartIce()
    call.caller.restartIce()  # same pending restart: no second event
    await wait_for(lambda: call.phases("caller").count("done") == 1, 10)
    assert call.caller.ice_generation != before
    await call.settled_after()  # a second event would have fired by now
    assert call.negotiationneeded == {"caller": 1, "callee": 0}
    call.caller.restartIce()
    await wait_for(lambda: call.negotiationneeded["caller"] == 2, 5)
    await wait_for(lambda: call.phases("caller").count("done") == 2, 10)
    await call.settled_after()
    assert call.negotiationneeded == {"caller": 2, "callee": 0}


async def test_restart_requested_during_outstanding_offer_happens_after_it(
    calls: list[Call], regions: list[TurnRegion]
) -> None:
    call = await connected(calls, regions[0].configuration("relay"))
    first = call.caller.ice_generation
    offer = await call.caller.createOffer()  # a plain renegotiation, no restart
    await call.caller.setLocalDescription(offer)
    call.caller.restartIce()
    await call.settled_after()  # an event not held back would have fired by now
    assert call.negotiationneeded["caller"] == 0  # queued until stable
    await call.callee.setRemoteDescription(offer)
    await call.callee.setLocalDescription()
    assert call.callee.localDescription is not None
    await call.caller.setRemoteDescription(call.callee.localDescription)
    assert call.caller.ice_generation == first  # that negotiation did not restart
    await wait_for(lambda: call.negotiationneeded["caller"] == 1, 5)
    await wait_for(lambda: call.caller.ice_generation != first, 10)


async def test_rollback_keeps_the_restart_request(
    calls: list[Call], regions: list[TurnRegion]
) -> None:
    call = await connected(calls, regions[0].configuration("relay"))
    first = call.caller.ice_generation
    call.caller.on("negotiationneeded", lambda: None)
    # Take negotiation away from the helper for this check.
    call.signaling.peers = {}
    call.caller.restartIce()
    offer = await call.caller.createOffer()
    assert first is not None and f"a=ice-ufrag:{first}" not in offer.sdp
    await call.caller.setLocalDescription(offer)
    before = call.negotiationneeded["caller"]
    await call.caller.setLocalDescription(Description(type="rollback", sdp=""))
    assert call.caller.signalingState == "stable"
    await wait_for(lambda: call.negotiationneeded["caller"] == before + 1, 5)
    again = await call.caller.createOffer()
    assert f"a=ice-ufrag:{first}" not in again.sdp  # still a restart
    assert call.caller.ice_generation == first  # media never left the old generation
    await call.heard["callee"].wait_frames(5)


async def test_trickled_restart_ignores_a_stale_end_of_candidates(
    calls: list[Call], regions: list[TurnRegion]
) -> None:
    """What the web client sends: a restart offer without candidates, then trickle.

    An unscoped end-of-candidates (``"candidate": null``) left over from an
    earlier, rolled-back offer reaches the new generation before any of its
    candidates; it must not end it. The browser-style scoped end
    (empty candidate with the generation's ufrag) does.
    """
    call = await connected(calls, regions[0].configuration("relay"))
    call.signaling.peers = {}  # negotiate by hand, as a trickling browser would
    call.caller.on("negotiationneeded", lambda: None)
    first = call.callee.ice_generation
    call.caller.restartIce()
    offer = await call.caller.createOffer()
    await call.caller.setLocalDescription(offer)
    lines = offer.sdp.split("\r\n")
    cands = [line[2:] for line in lines if line.startswith("a=candidate:")]
    ufrag = next(line.split(":", 1)[1] for line in lines if line.startswith("a=ice-ufrag:"))
    stripped = "\r\n".join(
        line for line in lines if not line.startswith(("a=candidate:", "a=end-of-candidates"))
    )
    await call.callee.setRemoteDescription(Description(type="offer", sdp=stripped))
    await call.callee.setLocalDescription()
    assert call.callee.localDescription is not None
    await call.caller.setRemoteDescription(call.callee.localDescription)
    await call.callee.addIceCandidate(None)  # stale, from a rolled-back offer
    await call.settled_after()  # a generation ended by it would have failed by now
    assert "failed" not in call.phases("callee")
    for cand in cands:
        await call.callee.addIceCandidate(
            Candidate(candidate=cand, sdp_mid="0", sdp_mline_index=0, username_fragment=ufrag)
        )
    await call.callee.addIceCandidate(Candidate(candidate="", username_fragment=ufrag))
    await wait_for(lambda: "done" in call.phases("callee") and "done" in call.phases("caller"), 10)
    assert call.callee.ice_generation != first
    assert "failed" not in call.phases("callee") + call.phases("caller")


async def test_glare_both_restart_and_converge(
    calls: list[Call], regions: list[TurnRegion]
) -> None:
    call = await connected(calls, regions[0].configuration("relay"))
    gens = {s: pc.ice_generation for s, pc in call.sides()}
    quiet = await call.quiet_gaps()
    call.signaling.delay = 0.05  # the two offers cross on the signaling path
    start = time.monotonic()
    call.caller.restartIce()
    call.callee.restartIce()
    await wait_for(lambda: all(pc.ice_generation != gens[s] for s, pc in call.sides()), 10)
    await wait_for(lambda: all("done" in call.phases(s) for s, _ in call.sides()), 10)
    await wait_for(lambda: call.caller.signalingState == call.callee.signalingState == "stable", 10)
    end = await call.settled_after()  # no restart left pending: it would have begun by now
    assert call.signaling.ignored_offers["caller"] == 1  # the impolite side ignored one
    assert not call.signaling.errors
    call.assert_smooth(start, end, quiet)
    assert call.negotiationneeded == {"caller": 1, "callee": 1}


# --- failures -------------------------------------------------------------------------------


def relay_ports(sdp: str, address: str) -> list[int]:
    """Ports of the relay candidates on ``address`` in an SDP."""
    ports = []
    for line in sdp.splitlines():
        fields = line.split()
        if line.startswith("a=candidate:") and "relay" in fields and address in fields:
            ports.append(int(fields[fields.index(address) + 1]))
    return ports


def drop_udp_port(address: str, port: int, *, on: bool) -> None:
    """Make a relayed transport address go silent (both directions), or heal it.

    Only ever inside a loopback-only namespace: the rules must not touch the host.
    """
    assert in_loopback_namespace(), "iptables rules only inside unshare --net (scripts/run-tests)"
    action = "-I" if on else "-D"
    for match in (["-d", address, "--dport"], ["-s", address, "--sport"]):
        subprocess.run(
            ["iptables", action, "INPUT", "-p", "udp", *match, str(port), "-j", "DROP"],
            check=True,
            capture_output=True,
        )


async def test_failed_restart_is_retried_until_it_succeeds(
    calls: list[Call], regions: list[TurnRegion]
) -> None:
    """The first restart's new relay goes silent; the request stands and attempt 2 succeeds."""
    a, _ = regions
    call = await connected(calls, a.configuration("relay"), restart_timeout=2.5)
    first = call.caller.ice_generation
    blocked: list[int] = []

    def block_first_offer(state: str) -> None:
        # Runs before the restart offer leaves: its relay is silent before any check.
        description = call.caller.localDescription
        if state == "have-local-offer" and not blocked and description is not None:
            for port in relay_ports(description.sdp, a.address):
                drop_udp_port(a.address, port, on=True)
                blocked.append(port)

    def heal(phase: str, detail: dict[str, Any]) -> None:
        if phase == "failed" and detail.get("attempt") == 1:
            for port in blocked:
                drop_udp_port(a.address, port, on=False)

    call.caller.on("signalingstatechange", block_first_offer)
    call.caller.on("icerestart", heal)
    start = time.monotonic()
    try:
        call.caller.restartIce()
        await wait_for(lambda: "done" in call.phases("caller"), 15)
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            for port in blocked:
                drop_udp_port(a.address, port, on=False)
    assert blocked, "the restart offer had no relay candidate to block"
    caller = call.events["caller"]
    failed = [d for p, d in caller if p == "failed"]
    assert len(failed) == 1
    assert failed[0]["attempt"] == 1 and failed[0]["will_retry"] is True
    assert failed[0]["kept_old_path"] is True
    assert [d["attempt"] for p, d in caller if p == "begun"] == [1, 2]
    done = next(d for p, d in caller if p == "done")
    assert done["attempt"] == 2
    assert call.caller.ice_generation not in (first, failed[0]["ufrag"])
    assert call.negotiationneeded["caller"] == 2
    # The old path carried the call throughout.
    end = time.monotonic()
    quiet = await call.quiet_gaps_as_long_as(start, end)  # also: a further attempt would be out
    call.assert_smooth(start, end, quiet)
    assert call.negotiationneeded["caller"] == 2  # satisfied: no further attempt
    assert not call.signaling.errors


async def test_unreachable_region_keeps_the_old_path(
    calls: list[Call], regions: list[TurnRegion]
) -> None:
    a, _ = regions
    call = await connected(calls, a.configuration("relay"))
    dead = Configuration(
        ice_servers=(
            IceServer(urls=("turn:127.0.0.9:3478",), username="zz-user", credential="zz-secret"),
        ),
        ice_transport_policy="relay",
    )
    call.caller.setConfiguration(dead)
    start = time.monotonic()
    call.caller.restartIce()
    await wait_for(lambda: "failed" in call.phases("caller"), 15)
    detail = dict(call.events["caller"])["failed"]
    assert "no candidates" in str(detail["reason"]) and "turn:127.0.0.9" in str(detail["reason"])
    assert detail["kept_old_path"] is True
    assert call.phases("caller").count("failed") == 1
    # Never retried: the same configuration cannot gather anything.
    assert detail["attempt"] == 1 and detail["will_retry"] is False
    gathered = dict(call.events["caller"])["gathered"]
    assert gathered["failures"] and gathered["failures"][0]["url"].startswith("turn:127.0.0.9")
    pair = call.caller.selected_pair()
    assert pair is not None and pair.local.address == a.address
    assert call.caller.connectionState == "connected"
    # Audio keeps flowing on the old path: no frame missing, no unusual gap.
    end = await call.settled_after(10)
    call.assert_smooth(start, end, await call.quiet_gaps_as_long_as(start, end))
    assert "zz-user" not in str(call.events) and "zz-secret" not in str(call.events)


async def test_peer_without_ice_restart_keeps_old_path(regions: list[TurnRegion]) -> None:
    """Plain aiortc 1.16 answers a restart with its old credentials; the call stays up."""
    a, _ = regions
    ours = PeerConnection(a.configuration("relay"), host_addresses=LOOPBACK, restart_timeout=3)
    theirs = RTCPeerConnection(
        RTCConfiguration(
            iceServers=[RTCIceServer(urls=[a.url], username=USER, credential=PASSWORD)],
            iceTransportPolicy=RTCIceTransportPolicy.RELAY,
        )
    )
    heard = FrameRecorder()
    events: list[tuple[str, dict[str, Any]]] = []
    ours.on("track", heard.start)
    ours.on("icerestart", lambda phase, detail: events.append((phase, detail)))
    ours.addTrack(ToneTrack())
    theirs.addTrack(ToneTrack(660))
    try:
        await ours.setLocalDescription()
        assert ours.localDescription is not None
        await theirs.setRemoteDescription(RTCSessionDescription(**vars(ours.localDescription)))
        await theirs.setLocalDescription(await theirs.createAnswer())
        answer = theirs.localDescription
        await ours.setRemoteDescription(Description(type="answer", sdp=answer.sdp))
        await wait_for(lambda: ours.connectionState == "connected", 15)
        await heard.wait_frames(10)
        quiet = await heard.quiet_gap_ms(QUIET_FRAMES)
        start = time.monotonic()
        await ours.setLocalDescription(await ours.createOffer(iceRestart=True))
        await theirs.setRemoteDescription(RTCSessionDescription(**vars(ours.localDescription)))
        await theirs.setLocalDescription(await theirs.createAnswer())
        await ours.setRemoteDescription(Description(type="answer", sdp=theirs.localDescription.sdp))
        await wait_for(lambda: any(p == "failed" for p, _ in events), 10)
        detail = next(d for p, d in events if p == "failed")
        assert detail["kept_old_path"] is True
        await heard.wait_frames(20)
        end = time.monotonic()
        assert heard.frames_missing(start, end) == 0
        assert_gap_within(heard.max_gap_ms(start, end), quiet, "ours")
        assert ours.connectionState == "connected" and ours.signalingState == "stable"
    finally:
        heard.stop()
        await ours.close()
        await theirs.close()


@pytest.fixture
def region_c() -> Iterator[TurnRegion]:
    (region,) = start_regions("127.0.0.4", base_port=52000)
    yield region
    region.stop()


@pytest.mark.parametrize("outage", ["kill", "silent"])
async def test_dead_region_detected_and_recovered_through_fallback(
    calls: list[Call], regions: list[TurnRegion], region_c: TurnRegion, outage: str
) -> None:
    fallback = regions[1]
    call = Call.with_configuration(region_c.configuration("relay"))
    calls.append(call)
    for _, pc in call.sides():
        # What the session manager does: on disconnected, configure the fallback region.
        pc.on(
            "connectionstatechange",
            lambda state, pc=pc: (
                state == "disconnected" and pc.setConfiguration(fallback.configuration("relay"))
            ),
        )
    await call.connect()
    assert region_c.process is not None
    killed = time.monotonic()
    if outage == "kill":
        region_c.kill()
    else:
        region_c.process.send_signal(19)  # SIGSTOP: the server goes silent, no ICMP
    try:

        def disconnected() -> bool:
            return any(s == "disconnected" for t, s in call.states["caller"] if t > killed)

        await wait_for(disconnected, 5)
        detected = time.monotonic() - killed

        def back() -> bool:
            pair = call.caller.selected_pair()
            return pair is not None and pair.local.address == fallback.address

        await wait_for(back, 5 - detected)
        await call.heard["caller"].wait_frames(5, timeout=5 - (time.monotonic() - killed))
        await call.heard["callee"].wait_frames(5, timeout=5 - (time.monotonic() - killed))
        assert time.monotonic() - killed < 5
        assert call.caller.connectionState == "connected"
    finally:
        if region_c.process is not None:
            region_c.process.send_signal(18)  # SIGCONT so it can be killed cleanly
