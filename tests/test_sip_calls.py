"""The softphone on SIP over WebSocket against real Kamailio, rtpengine and baresip (issue 14).

Everything runs on loopback, started by the tests (tests/sip.py); Kamailio
runs docs/kamailio.cfg, the README's example, with digest authentication.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.analysis import dominant_frequency, read_wav
from tests.harness import Headless
from tests.sip import LOOPBACK, PASSWORDS, Baresip, SipStack, remove, sip_softphone, start_stack

pytestmark = pytest.mark.e2e


@pytest.fixture
def sha256_stack() -> Iterator[SipStack]:
    started = start_stack(algorithm="SHA-256")
    yield started
    remove(started)


async def softphone(
    stack: SipStack, tmp_path: Path, name: str, audio_in: str = "silence", audio_out: str = "null"
) -> Headless:
    """A headless softphone in SIP mode at ``stack``'s Kamailio, logging at INFO."""
    return await sip_softphone(tmp_path, name, stack.kamailio, "--audio-in", audio_in,
                               "--audio-out", audio_out, "--log-level", "INFO")  # fmt: skip


async def _registers(stack: SipStack, tmp_path: Path) -> None:
    alice = await softphone(stack, tmp_path, "alice")
    try:
        registered = await alice.wait_for("registered")
        assert registered["user"] == "alice"
        await alice.wait_for("signaling", state="connected")
    finally:
        assert await alice.quit() == 0
    assert "unregistered at" in alice.stderr
    assert f"answering the 401 challenge to REGISTER ({stack.kamailio.algorithm})" in alice.stderr
    assert PASSWORDS["alice"] not in alice.stderr


async def test_registers_with_md5_digest_and_unregisters_on_quit(
    sip_stack: SipStack, tmp_path: Path
) -> None:
    await _registers(sip_stack, tmp_path)


async def test_registers_with_sha256_digest(sha256_stack: SipStack, tmp_path: Path) -> None:
    await _registers(sha256_stack, tmp_path)


async def test_a_wrong_password_is_a_clear_error_without_the_password(
    sip_stack: SipStack, tmp_path: Path
) -> None:
    wrong = "not-the-password-123"
    alice = await sip_softphone(tmp_path, "alice", sip_stack.kamailio, "--audio-out", "null",
                                password=wrong)  # fmt: skip
    error = await alice.wait_for("error")
    assert await alice.quit() == 1
    message = error["message"]
    assert sip_stack.kamailio.ws_url in message
    assert "403" in message and "sip_password" in message
    assert wrong not in message and wrong not in alice.stderr
    assert all(wrong not in json.dumps(event) for event in alice.events)
    await asyncio.sleep(0)


def assert_tone(path: Path, hz: float, min_seconds: float = 2.0) -> None:
    samples, rate = read_wav(path)
    seconds = len(samples) / rate
    assert seconds >= min_seconds, f"{path.name}: only {seconds:.2f} s recorded"
    steady = samples[rate // 2 :]  # the jitter buffer and codec settle in the first half second
    found = dominant_frequency(steady, rate)
    assert abs(found - hz) <= 5, f"{path.name}: dominant frequency {found:.1f} Hz, expected {hz}"


async def test_softphone_calls_baresip_and_hears_its_tone(
    sip_stack: SipStack, tmp_path: Path
) -> None:
    bob = sip_stack.baresip("bob", tone_hz=440)
    recording = tmp_path / "alice.wav"
    alice = await softphone(sip_stack, tmp_path, "alice", "tone:660", f"file:{recording}")
    try:
        await alice.wait_for("registered")
        await alice.send(cmd="call", to="bob")
        active = await alice.wait_for("call-state", state="active")
        await alice.wait_for("connection-state", 20, state="connected")
        await alice.audio_flows(150)  # 3 s of bob's tone
        await alice.send(cmd="hangup")
        await alice.wait_for("call-state", call=active["call"], state="ended")
    finally:
        assert await alice.quit() == 0
    assert "answering the 407 challenge to INVITE (MD5)" in alice.stderr
    await _wait_log(bob, "session closed")  # our BYE reached baresip
    assert_tone(recording, 440)
    heard = bob.decoded_recordings()
    assert heard, f"baresip recorded nothing: {bob.log_text()[-2000:]}"
    assert_tone(heard[-1], 660)


async def test_baresip_calls_the_softphone_hears_its_tone_and_hangs_up(
    sip_stack: SipStack, tmp_path: Path
) -> None:
    bob = sip_stack.baresip("bob", tone_hz=440)
    recording = tmp_path / "alice.wav"
    alice = await softphone(sip_stack, tmp_path, "alice", "tone:660", f"file:{recording}")
    try:
        await alice.wait_for("registered")
        bob.command("dial", f"sip:alice@{LOOPBACK}")
        incoming = await alice.wait_for("incoming")
        assert incoming["from"] == "bob"
        await alice.send(cmd="answer")
        await alice.wait_for("connection-state", 20, state="connected")
        await alice.audio_flows(150)
        bob.command("hangup")
        ended = await alice.wait_for("call-state", call=incoming["call"], state="ended")
        assert ended.get("reason") == "hangup"
    finally:
        assert await alice.quit() == 0
    assert_tone(recording, 440)
    assert_tone(bob.decoded_recordings()[-1], 660)


async def test_declined_busy_and_cancelled_both_ways(sip_stack: SipStack, tmp_path: Path) -> None:
    bob = sip_stack.baresip("bob", answermode="manual")
    alice = await softphone(sip_stack, tmp_path, "alice")
    try:
        await alice.wait_for("registered")
        # The softphone declines baresip's call: baresip is told 603 Decline.
        bob.command("dial", f"sip:alice@{LOOPBACK}")
        first = await alice.wait_for("incoming")
        await alice.send(cmd="decline")
        await alice.wait_for("call-state", call=first["call"], state="ended")
        await _wait_log(bob, "603 Decline")
        # baresip cancels its call while the softphone rings.
        mark = alice.mark()
        bob.command("dial", f"sip:alice@{LOOPBACK}")
        second = await alice.wait_for("incoming", since=mark)
        await alice.wait_for("call-state", since=mark, state="incoming")
        bob.command("hangup")
        cancelled = await alice.wait_for("call-state", call=second["call"], state="ended")
        assert cancelled.get("reason") == "cancelled"
        # The softphone calls baresip, which rings (180), then cancels: CANCEL, 487.
        mark = alice.mark()
        await alice.send(cmd="call", to="bob")
        ringing = await alice.wait_for("call-state", since=mark, state="ringing")
        await alice.send(cmd="hangup")
        await alice.wait_for("call-state", call=ringing["call"], state="ended")
        await _wait_log(bob, "Connection reset by peer")  # how baresip 1.0 logs a CANCEL
        # baresip rejects the softphone's call: busy.
        mark = alice.mark()
        await alice.send(cmd="call", to="bob")
        await alice.wait_for("call-state", since=mark, state="ringing")
        await asyncio.sleep(0.2)
        bob.command("hangup")
        refused = await alice.wait_for("call-state", since=mark, state="ended")
        assert refused.get("reason") in ("busy", "declined"), refused
        # Nobody registered as carol: unavailable.
        mark = alice.mark()
        await alice.send(cmd="call", to=f"sip:carol@{LOOPBACK}")
        gone = await alice.wait_for("call-state", since=mark, state="ended")
        assert gone.get("reason") == "unavailable"
    finally:
        assert await alice.quit() == 0


async def _wait_log(phone: Baresip, text: str, timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while text.lower() not in phone.log_text().lower():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"baresip never logged {text!r}: {phone.log_text()[-2000:]}")
        await asyncio.sleep(0.05)


async def _restart_keeps_audio(who: Headless, listener: Headless) -> str:
    """``who`` restarts ICE (a re-INVITE); ``listener`` still receives.

    Returns the longest audio gap in a 1 s window around the restart, and in
    a quiet 1 s window just before it (the baseline), as text for the log.
    """
    await listener.stats()  # opens the window the next stats closes
    await asyncio.sleep(1.0)
    quiet = float((await listener.stats())["audio_max_gap_since_last_stats_ms"])
    mark = who.mark()
    await who.send(cmd="restart-ice")
    await who.wait_for("ice-restart", 20, since=mark, phase="done")
    await asyncio.sleep(1.0)  # audio after the restart, inside the window (no stats meanwhile)
    gap = float((await listener.stats())["audio_max_gap_since_last_stats_ms"])
    await listener.audio_flows(50)
    return f"{gap:.0f} ms (quiet {quiet:.0f} ms)"


async def test_ice_restart_by_reinvite_through_rtpengine_keeps_audio(
    sip_stack: SipStack, tmp_path: Path
) -> None:
    sip_stack.baresip("bob", tone_hz=440)
    recording = tmp_path / "alice.wav"
    alice = await softphone(sip_stack, tmp_path, "alice", "tone:660", f"file:{recording}")
    try:
        await alice.wait_for("registered")
        await alice.send(cmd="call", to="bob")
        await alice.wait_for("connection-state", 20, state="connected")
        await alice.audio_flows(100)
        mark = alice.mark()
        gap = await _restart_keeps_audio(alice, alice)
        assert alice.find("offer-sent", since=mark) and alice.find("answer-received", since=mark)
        print(f"re-INVITE ICE restart against baresip: longest audio gap {gap}")
    finally:
        assert await alice.quit() == 0
    assert_tone(recording, 440)


async def test_two_softphones_on_sip_call_each_other_and_restart_ice_from_each_side(
    sip_stack: SipStack, tmp_path: Path
) -> None:
    alice = await softphone(sip_stack, tmp_path, "alice", "tone:440")
    carol = await sip_softphone(tmp_path, "carol", sip_stack.kamailio, "--audio-in", "tone:660",
                                "--audio-out", "null", extra_toml="max_calls = 1\n")  # fmt: skip
    try:
        await alice.wait_for("registered")
        await carol.wait_for("registered")
        await alice.send(cmd="call", to="carol")  # first declined: 603 both ways
        first = await carol.wait_for("incoming")
        await carol.send(cmd="decline")
        declined = await alice.wait_for("call-state", state="ended")
        assert declined.get("reason") == "declined"
        mark = alice.mark()
        await alice.send(cmd="call", to=f"sip:carol@{LOOPBACK}")
        incoming = await carol.wait_for("incoming", since=carol.events.index(first) + 1)
        assert incoming["from"] == "alice"
        await carol.send(cmd="answer")
        for party in (alice, carol):
            await party.wait_for("connection-state", 20, state="connected")
            await party.audio_flows(50)
        gaps = [await _restart_keeps_audio(alice, carol), await _restart_keeps_audio(carol, alice)]
        print(f"re-INVITE ICE restarts softphone<->softphone: longest gaps {gaps}")
        # With max_calls = 1, a third party calling during the call is told 486 Busy Here.
        dave = sip_stack.baresip("dave")
        dave.command("dial", f"sip:carol@{LOOPBACK}")
        await _wait_log(dave, "486 Busy Here")
        assert (await carol.wait_for("missed"))["reason"] == "busy"
        await carol.send(cmd="hangup")
        ended = await alice.wait_for("call-state", since=mark, state="ended")
        assert ended.get("reason") == "hangup"
    finally:
        assert await alice.quit() == 0
        assert await carol.quit() == 0
