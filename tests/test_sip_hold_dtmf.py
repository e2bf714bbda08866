"""Hold/resume and DTMF on SIP calls, through real Kamailio + rtpengine (issue 14).

A hold is a re-INVITE with the direction (``a=inactive``, or ``sendonly``
with a hold sound), resume a re-INVITE with ``sendrecv``; baresip's own
``hold``/``resume`` re-INVITE with ``sendonly`` is a hold by the far end.
DTMF is RFC 4733 telephone-event as rtpengine passes it to baresip
(``telephone-event/8000`` beside opus), both ways, with the exact sequence.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from tests.harness import Headless
from tests.sip import LOOPBACK, Baresip, SipStack, sip_softphone
from tests.test_e2e_hold_dtmf import assert_silent_for
from tests.test_sip_calls import _wait_log, assert_tone, softphone

pytestmark = pytest.mark.e2e


def _log(phone: Baresip) -> str:
    """baresip's log without its once-a-tick bitrate lines."""
    lines = [line for line in phone.log_text().splitlines() if "bit/s)" not in line]
    return "\n".join(line for line in lines if line.strip())[-4000:]


def _recorded_bytes(phone: Baresip) -> int:
    """How much audio baresip has decoded so far (its ``*-dec.wav`` grows per packet)."""
    return sum(path.stat().st_size for path in phone.decoded_recordings())


def _rx_bitrate(phone: Baresip) -> int:
    """The receive bitrate of baresip's latest status line ``audio=TX/RX (bit/s)``.

    baresip 1.0 stops writing its decode recording after an ``inactive``
    update, so what it receives is read from the status line it prints.
    """
    found = re.findall(r"audio=\s*(\d+)/(\d+) \(bit/s\)", phone.log_text())
    return int(found[-1][1]) if found else 0


async def _baresip_rx(phone: Baresip, receiving: bool, timeout: float = 10) -> None:
    """Wait until baresip receives the softphone's audio (or, ``receiving`` False, nothing)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while (_rx_bitrate(phone) > 16000) != receiving:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"baresip rx {_rx_bitrate(phone)} bit/s: {_log(phone)}")
        await asyncio.sleep(0.1)


async def _baresip_hears(phone: Baresip, seconds: float = 1.0) -> None:
    before = _recorded_bytes(phone)
    deadline = asyncio.get_running_loop().time() + 10
    while _recorded_bytes(phone) - before < 8000 * seconds:  # >= 8 kHz 8-bit, any codec
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"baresip hears nothing: {_log(phone)}")
        await asyncio.sleep(0.1)


async def _call_baresip(stack: SipStack, tmp_path: Path) -> tuple[Headless, Baresip, Path]:
    bob = stack.baresip("bob", tone_hz=440)
    recording = tmp_path / "alice.wav"
    alice = await softphone(stack, tmp_path, "alice", "tone:660", f"file:{recording}")
    await alice.wait_for("registered")
    await alice.send(cmd="call", to="bob")
    await alice.wait_for("connection-state", 20, state="connected")
    await alice.audio_flows(50)
    await _baresip_hears(bob)
    return alice, bob, recording


async def test_hold_and_resume_against_baresip_both_ways(
    sip_stack: SipStack, tmp_path: Path
) -> None:
    alice, bob, recording = await _call_baresip(sip_stack, tmp_path)
    try:
        # The softphone holds: a re-INVITE with a=inactive; nothing flows either way.
        mark = alice.mark()
        await alice.send(cmd="hold", on=True)
        await alice.wait_for("hold", since=mark, on=True, by="local")
        assert alice.find("offer-sent", since=mark) and alice.find("answer-received", since=mark)
        await _baresip_rx(bob, receiving=False)
        await asyncio.sleep(1.0)
        assert _rx_bitrate(bob) <= 16000, _log(bob)
        await assert_silent_for(alice, 1.0)
        mark = alice.mark()
        await alice.send(cmd="hold", on=False)
        await alice.wait_for("hold", since=mark, on=False, by="local")
        await _baresip_rx(bob, receiving=True)
        await alice.audio_flows(50)
        # baresip holds (its re-INVITE says a=sendonly): a hold by the far end.
        mark = alice.mark()
        bob.command("hold")
        await alice.wait_for("hold", 10, since=mark, on=True, by="remote")
        await assert_silent_for(alice, 1.0)
        mark = alice.mark()
        bob.command("resume")
        await alice.wait_for("hold", 10, since=mark, on=False, by="remote")
        await alice.audio_flows(50)
        await _baresip_rx(bob, receiving=True)
        assert alice.find("error", since=0) is None, alice.events
        states = [e["state"] for e in alice.events if e["event"] == "connection-state"]
        assert states.count("connected") == 1, states  # one DTLS session throughout
        await alice.send(cmd="hangup")
        await _wait_log(bob, "session closed")
    finally:
        assert await alice.quit() == 0
    assert_tone(recording, 440)
    assert_tone(bob.decoded_recordings()[-1], 660, min_seconds=0.8)  # what it heard before hold


async def test_two_softphones_on_sip_hold_each_other(sip_stack: SipStack, tmp_path: Path) -> None:
    alice = await softphone(sip_stack, tmp_path, "alice", "tone:440")
    carol = await sip_softphone(tmp_path, "carol", sip_stack.kamailio, "--audio-in", "tone:660",
                                "--audio-out", "null")  # fmt: skip
    try:
        await alice.wait_for("registered")
        await carol.wait_for("registered")
        await alice.send(cmd="call", to="carol")
        await carol.wait_for("incoming")
        await carol.send(cmd="answer")
        for party in (alice, carol):
            await party.wait_for("connection-state", 20, state="connected")
            await party.audio_flows(50)
        for holder, held in ((alice, carol), (carol, alice)):
            marks = holder.mark(), held.mark()
            await holder.send(cmd="hold", on=True)
            await holder.wait_for("hold", since=marks[0], on=True, by="local")
            await held.wait_for("hold", since=marks[1], on=True, by="remote")
            await assert_silent_for(held, 1.0)
            await assert_silent_for(holder, 0.5)
            marks = holder.mark(), held.mark()
            await holder.send(cmd="hold", on=False)
            await holder.wait_for("hold", since=marks[0], on=False, by="local")
            await held.wait_for("hold", since=marks[1], on=False, by="remote")
            await held.audio_flows(50)
            await holder.audio_flows(25)
        for party in (alice, carol):
            assert party.find("error", since=0) is None, party.events
        await alice.send(cmd="hangup")
        await carol.wait_for("call-state", state="ended")
    finally:
        assert await alice.quit() == 0
        assert await carol.quit() == 0


DIGITS = "159*0#37"


async def test_dtmf_both_ways_with_baresip_exact_sequence(
    sip_stack: SipStack, tmp_path: Path
) -> None:
    alice, bob, _recording = await _call_baresip(sip_stack, tmp_path)
    try:
        # The softphone sends: baresip logs every digit it receives, in order.
        mark = alice.mark()
        await alice.send(cmd="dtmf", digits=DIGITS, duration_ms=120)
        await alice.wait_for("dtmf-sent", 30, since=mark, digit=DIGITS[-1])
        try:
            await _wait_log(bob, f"received event: '{DIGITS[-1]}' (end=1)")
        except AssertionError:
            raise AssertionError(f"{alice.events[mark:]}\n{_log(bob)}") from None
        received = re.findall(r"received event: '(.)' \(end=1\)", bob.log_text())
        assert "".join(received) == DIGITS, _log(bob)
        # baresip sends (ctrl_tcp sndcode): the softphone's dtmf events, exact and in order.
        mark = alice.mark()
        bob.command("sndcode", "2468")
        await alice.wait_for("dtmf", 20, since=mark, digit="8")
        await asyncio.sleep(0.3)  # a stray duplicate would come now
        digits = "".join(e["digit"] for e in alice.events[mark:] if e["event"] == "dtmf")
        assert digits == "2468", alice.events[mark:]
        await alice.send(cmd="hangup")
    finally:
        assert await alice.quit() == 0
    print(f"baresip DTMF on {LOOPBACK}: sent {DIGITS}, received {digits}")
