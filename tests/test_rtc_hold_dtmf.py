"""Hold and DTMF at the PeerConnection level: two in-process peers, one DTLS session.

A hold is a re-offer with another direction: ``hold`` fires on both sides,
nothing is heard either way, the DTLS transport and the ICE path stay, and a
peer that answers with an unexpected direction does not break the call.
DTMF works with a peer that offers only ``telephone-event/8000``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from softphone.descriptions import Description
from softphone.rtc.configuration import Configuration
from softphone.rtc.errors import InvalidStateError
from tests.rtc_probe import TwoPeers, wait_for


def record_holds(call: TwoPeers) -> dict[str, list[tuple[bool, bool]]]:
    holds: dict[str, list[tuple[bool, bool]]] = {"caller": [], "callee": []}
    for side, pc in call.sides():
        pc.on("hold", lambda local, remote, s=side: holds[s].append((local, remote)))
    return holds


async def silent(call: TwoPeers, side: str, seconds: float = 0.6) -> int:
    """Frames ``side`` heard in ``seconds`` after the ones in flight drained."""
    await asyncio.sleep(0.2)
    before = len(call.heard[side].arrivals)
    await asyncio.sleep(seconds)
    return len(call.heard[side].arrivals) - before


async def test_hold_and_resume_keep_the_dtls_session(calls: list[TwoPeers]) -> None:
    call = TwoPeers.with_configuration(Configuration())
    calls.append(call)
    holds = record_holds(call)
    await call.connect()
    dtls, ufrag = call.caller.dtls_transport, call.caller.ice_generation
    call.caller.hold(True)
    await wait_for(
        lambda: holds["callee"] == [(False, True)] and holds["caller"] == [(True, False)]
    )
    assert call.caller.direction == "inactive"
    assert call.caller.currentDirection == call.callee.currentDirection == "inactive"
    assert await silent(call, "callee") == 0 and await silent(call, "caller") == 0
    call.caller.hold(False)
    await wait_for(
        lambda: holds["callee"][-1] == (False, False) and holds["caller"][-1] == (False, False)
    )
    for recorder in call.heard.values():
        await recorder.wait_frames(10)
    assert call.caller.dtls_transport is dtls and dtls.state == "connected"
    assert call.caller.ice_generation == ufrag  # a re-offer, no ICE restart
    assert call.state_names("caller") == ["connecting", "connected"]
    assert not call.signaling.errors


async def test_a_held_call_is_no_media_loss(calls: list[TwoPeers]) -> None:
    """(1.2) While held (inactive both ways) no packets are expected: the fast loss
    detector (media_watch) reads the hold direction and stays quiet for > 2 s."""
    call = TwoPeers.with_configuration(Configuration())
    calls.append(call)
    holds = record_holds(call)
    lost: list[str] = []
    for side, pc in call.sides():
        pc.on("medialoss", lambda detail, s=side: lost.append(s))
    await call.connect()
    await call.heard["caller"].wait_frames(10)
    call.caller.hold(True)
    await wait_for(lambda: holds["callee"] == [(False, True)])
    assert not call.caller._expects_media() and not call.callee._expects_media()
    await asyncio.sleep(2.5)  # well past the detector's 0.15 s probe: the silence judged
    assert lost == [] and call.state_names("caller") == ["connecting", "connected"]
    call.caller.hold(False)
    await wait_for(lambda: holds["callee"][-1] == (False, False))
    for recorder in call.heard.values():
        await recorder.wait_frames(10)
    assert call.caller._expects_media() and call.callee._expects_media()
    assert lost == []


async def test_both_may_hold_and_a_hold_sound_offers_sendonly(calls: list[TwoPeers]) -> None:
    call = TwoPeers.with_configuration(Configuration())
    calls.append(call)
    holds = record_holds(call)
    await call.connect()
    call.caller.hold(True, sound=True)
    await wait_for(lambda: holds["callee"] == [(False, True)])
    assert call.caller.currentDirection == "sendonly"
    assert call.callee.currentDirection == "recvonly"
    await call.heard["callee"].wait_frames(10)  # the hold sound reaches the held party
    call.callee.hold(True)
    await wait_for(lambda: holds["callee"][-1] == (True, True))
    assert call.callee.currentDirection == "inactive"
    assert await silent(call, "callee") == 0
    call.caller.hold(False)
    await wait_for(lambda: holds["caller"][-1] == (False, True))
    assert not call.signaling.errors


async def test_an_unexpected_answer_direction_does_not_break_the_call(
    calls: list[TwoPeers],
) -> None:
    call = TwoPeers.with_configuration(Configuration())
    calls.append(call)
    holds = record_holds(call)
    await call.connect()
    deliver = call.signaling._deliver
    swap: dict[str, str] = {}

    async def mangled(side: str, description: Description) -> None:
        if side == "caller" and description.type == "answer":
            sdp = description.sdp
            for old, new in swap.items():
                sdp = sdp.replace(f"a={old}\r\n", f"a={new}\r\n")
            description = Description("answer", sdp)
        await deliver(side, description)

    call.signaling._deliver = mangled  # type: ignore[method-assign]
    swap.update(inactive="sendrecv")  # the peer "answers" our hold with sendrecv
    call.caller.hold(True)
    await wait_for(lambda: holds["caller"] == [(True, False)])
    assert call.caller.currentDirection == "inactive"  # we still send nothing
    assert await silent(call, "callee") == 0
    swap.clear()
    swap.update(sendrecv="inactive")  # and answers the resume with inactive
    call.caller.hold(False)
    await wait_for(lambda: holds["caller"][-1] == (False, False))
    assert call.caller.currentDirection == "inactive"
    assert call.caller.connectionState == "connected"
    swap.clear()
    # the peer's own next offer (a restart) sets things right again
    call.callee.restartIce()
    await wait_for(lambda: call.caller.currentDirection == "sendrecv", 15)
    await call.heard["callee"].wait_frames(10)
    await call.heard["caller"].wait_frames(10)
    errors: list[Any] = list(call.signaling.errors)
    assert errors == []


def without_telephone_event_48000(sdp: str) -> str:
    """The offer of a peer that has only ``telephone-event/8000`` (PT 126 stays)."""
    lines = [
        line for line in sdp.split("\r\n") if not line.startswith(("a=rtpmap:101 ", "a=fmtp:101 "))
    ]
    out = []
    for line in lines:
        if line.startswith("m=audio "):
            line = " ".join(part for part in line.split(" ") if part != "101")
        out.append(line)
    return "\r\n".join(out)


async def test_dtmf_with_a_peer_offering_only_telephone_event_8000(
    calls: list[TwoPeers],
) -> None:
    call = TwoPeers.with_configuration(Configuration())
    calls.append(call)
    deliver = call.signaling._deliver

    async def only_8000(side: str, description: Description) -> None:
        if description.type == "offer":
            description = Description("offer", without_telephone_event_48000(description.sdp))
        await deliver(side, description)

    call.signaling._deliver = only_8000  # type: ignore[method-assign]
    got: list[tuple[str, int]] = []
    call.callee.on("dtmf", lambda digit, ms: got.append((digit, ms)))
    await call.connect()
    answer = call.callee.localDescription
    assert answer is not None
    assert "telephone-event/8000" in answer.sdp and "telephone-event/48000" not in answer.sdp
    call.caller.insertDTMF("7#", 80)
    await wait_for(lambda: len(got) == 2, 5)
    assert got == [("7", 80), ("#", 80)]


async def test_dtmf_needs_sending_audio(calls: list[TwoPeers]) -> None:
    call = TwoPeers.with_configuration(Configuration())
    calls.append(call)
    holds = record_holds(call)
    await call.connect()
    with pytest.raises(ValueError, match="'x'"):
        call.caller.insertDTMF("1x")
    call.caller.hold(True)
    await wait_for(lambda: holds["caller"] == [(True, False)])
    with pytest.raises(InvalidStateError, match="on hold"):
        call.caller.insertDTMF("1")


async def test_a_hold_during_an_ice_restart_is_queued_for_the_next_offer(
    calls: list[TwoPeers],
) -> None:
    call = TwoPeers.with_configuration(Configuration())
    calls.append(call)
    holds = record_holds(call)
    await call.connect()
    first = call.caller.ice_generation
    call.signaling.delay = 0.2  # the restart's answer is on its way while we hold
    call.caller.restartIce()
    await wait_for(lambda: call.caller.signalingState == "have-local-offer")
    offers = call.negotiationneeded["caller"]
    call.caller.hold(True)
    assert holds["caller"] == []  # not yet: the pending offer does not carry it
    await wait_for(lambda: holds["caller"] == [(True, False)], 15)
    await wait_for(lambda: holds["callee"] == [(False, True)], 15)
    assert call.negotiationneeded["caller"] == offers + 1  # one more offer, after the restart
    await wait_for(lambda: any(phase == "done" for phase, _ in call.events["caller"]), 15)
    assert call.caller.ice_generation != first
    assert call.caller.currentDirection == "inactive"
    assert await silent(call, "callee") == 0
    assert not call.signaling.errors
