"""Hold/resume and DTMF between two real softphones (issue 13).

Bob records what he receives; alice sends a 440 Hz tone. While alice holds
the call, no audio reaches bob (his frame count stands still) nor alice, and
after resume the tone is back; the DTLS session is the same throughout, a
region switch made while on hold keeps the hold, and DTMF digits arrive in
order both ways as RFC 4733 telephone-events.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.analysis import dominant_frequency, read_wav
from tests.harness import Headless, Server, connected_call, parties

pytestmark = pytest.mark.e2e

TONE = ("--audio-in", "tone:440", "--audio-out", "null")


async def frames_received(party: Headless) -> int:
    return int((await party.stats())["audio_frames_received"])


async def assert_silent_for(party: Headless, seconds: float) -> None:
    """No audio frame reaches ``party`` for ``seconds`` (a few in flight at the start pass)."""
    await asyncio.sleep(0.3)
    before = await frames_received(party)
    await asyncio.sleep(seconds)
    after = await frames_received(party)
    assert after - before <= 2, f"{party.name} received {after - before} frames while held"


async def test_hold_stops_audio_both_ways_and_resume_brings_it_back(
    server: Server, tmp_path: Path
) -> None:
    recording = tmp_path / "bob.wav"
    args = {"alice": TONE, "bob": ("--audio-in", "tone:660", "--audio-out", f"file:{recording}")}
    async with parties(tmp_path, server.url, **args) as (alice, bob):
        call_id = await connected_call(alice, bob, "bob")
        await bob.audio_flows(50)
        first_ufrag_events = len(bob.events)
        mark_a, mark_b = alice.mark(), bob.mark()
        await alice.send(cmd="hold", on=True)
        held = await alice.wait_for("hold", since=mark_a, on=True)
        assert held == {**held, "call": call_id, "by": "local"}
        await bob.wait_for("hold", since=mark_b, on=True, by="remote")
        await assert_silent_for(bob, 1.5)
        await assert_silent_for(alice, 0.5)
        held_frames = await frames_received(bob)

        mark_a, mark_b = alice.mark(), bob.mark()
        await alice.send(cmd="hold", on=False)
        await alice.wait_for("hold", since=mark_a, on=False, by="local")
        await bob.wait_for("hold", since=mark_b, on=False, by="remote")
        await bob.audio_flows(100)
        await alice.audio_flows(25)
        assert await frames_received(bob) >= held_frames + 100
        # one DTLS session: no second handshake, no failure on the way
        for party in (alice, bob):
            assert party.find("error", since=0) is None, party.events
            states = [e["state"] for e in party.events if e["event"] == "connection-state"]
            assert states.count("connected") == 1, states
        assert first_ufrag_events > 0
        await alice.send(cmd="hangup")
        await bob.wait_for("call-state", state="ended")
    samples, rate = read_wav(recording)
    tail = samples[-rate:]
    assert abs(dominant_frequency(tail, rate) - 440) <= 5


async def test_a_hold_sound_reaches_the_held_party(server: Server, tmp_path: Path) -> None:
    """``hold_sound = "tone:600"``: the hold offers sendonly and bob hears 600 Hz, not 440."""
    recording = tmp_path / "bob.wav"
    config = tmp_path / "alice.toml"
    config.write_text('hold_sound = "tone:600"\n')
    alice = await Headless.start(
        tmp_path, "alice", server.url, *TONE, env={"SOFTPHONE_CONFIG": str(config)}
    )
    bob = await Headless.start(
        tmp_path, "bob", server.url, "--audio-in", "silence", "--audio-out", f"file:{recording}"
    )
    try:
        await alice.wait_for("registered")
        await bob.wait_for("registered")
        await connected_call(alice, bob, "bob")
        await bob.audio_flows(25)
        await alice.send(cmd="hold", on=True)
        await alice.wait_for("hold", on=True, by="local")
        await bob.wait_for("hold", on=True, by="remote")
        held_from = await frames_received(bob)
        await bob.audio_flows(100)  # the hold sound flows: sendonly
        await alice.send(cmd="hangup")
        await bob.wait_for("call-state", state="ended")
    finally:
        await alice.quit()
        await bob.quit()
    samples, rate = read_wav(recording)
    held = samples[held_from * 960 + rate // 2 :]
    assert len(held) > rate, len(held)
    assert abs(dominant_frequency(held, rate) - 600) <= 5


async def test_hold_survives_a_region_switch_made_while_held(
    server: Server, tmp_path: Path
) -> None:
    config = tmp_path / "regions.toml"
    config.write_text(
        '[[regions]]\nname = "one"\nice_servers = []\n[[regions]]\nname = "two"\nice_servers = []\n'
    )
    env = {"SOFTPHONE_CONFIG": str(config)}
    alice = await Headless.start(tmp_path, "alice", server.url, *TONE, env=env)
    bob = await Headless.start(
        tmp_path, "bob", server.url, "--audio-in", "tone:660", "--audio-out", "null"
    )
    try:
        await alice.wait_for("registered")
        await bob.wait_for("registered")
        await connected_call(alice, bob, "bob")
        await bob.audio_flows(25)
        await alice.send(cmd="hold", on=True)
        await alice.wait_for("hold", on=True, by="local")
        await bob.wait_for("hold", on=True, by="remote")
        mark_a, mark_b = alice.mark(), bob.mark()
        await alice.send(cmd="region", name="two")
        await alice.wait_for("ice-restart", since=mark_a, phase="done", timeout=30)
        # the restart offer kept the hold: nothing resumed, no audio
        assert alice.find("hold", since=mark_a) is None
        assert bob.find("hold", since=mark_b) is None
        await assert_silent_for(bob, 1.0)
        await alice.send(cmd="hold", on=False)
        await bob.wait_for("hold", since=mark_b, on=False, by="remote")
        await bob.audio_flows(50)
        states = [e["state"] for e in alice.events if e["event"] == "connection-state"]
        assert states.count("connected") == 1, states
    finally:
        await alice.quit()
        await bob.quit()


async def test_dtmf_digits_arrive_in_order_both_ways(server: Server, tmp_path: Path) -> None:
    silent = ("--audio-in", "silence", "--audio-out", "null")
    async with parties(tmp_path, server.url, alice=silent, bob=silent) as (alice, bob):
        call_id = await connected_call(alice, bob, "bob")
        await bob.audio_flows(10)
        mark = bob.mark()
        await alice.send(cmd="dtmf", digits="123#*0ABCD", duration_ms=100)
        await bob.wait_for("dtmf", since=mark, digit="D")
        got = [e for e in bob.events[mark:] if e["event"] == "dtmf"]
        assert [e["digit"] for e in got] == list("123#*0ABCD")
        assert all(e["call"] == call_id and e["duration_ms"] == 100 for e in got), got
        await alice.wait_for("dtmf-sent", digit="D")
        sent = [e["digit"] for e in alice.events if e["event"] == "dtmf-sent"]
        assert sent == list("123#*0ABCD")

        mark = alice.mark()
        await bob.send(cmd="dtmf", digits="98", duration_ms=200)
        await alice.wait_for("dtmf", since=mark, digit="8")
        got = [(e["digit"], e["duration_ms"]) for e in alice.events[mark:] if e["event"] == "dtmf"]
        assert got == [("9", 200), ("8", 200)]


async def test_hold_and_dtmf_refused_clearly(server: Server, tmp_path: Path) -> None:
    silent = ("--audio-in", "silence", "--audio-out", "null")
    async with parties(tmp_path, server.url, alice=silent, bob=silent) as (alice, bob):
        for command in ({"cmd": "hold", "on": True}, {"cmd": "dtmf", "digits": "1"}):
            mark = alice.mark()
            await alice.send(**command)
            error = await alice.wait_for("error", since=mark)
            assert error["code"] == "no-call", error
        await connected_call(alice, bob, "bob")
        mark = alice.mark()
        await alice.send(cmd="dtmf", digits="12x#?")
        error = await alice.wait_for("error", since=mark)
        assert error["code"] == "bad-command"
        assert "'?'" in error["message"] and "'x'" in error["message"], error
        mark = alice.mark()
        await alice.send(cmd="dtmf", digits="1", duration_ms=5)
        error = await alice.wait_for("error", since=mark)
        assert "duration_ms" in error["message"], error
        mark = alice.mark()
        await alice.send(cmd="hold", on="yes")
        error = await alice.wait_for("error", since=mark)
        assert '"on"' in error["message"], error
        await alice.send(cmd="hold", on=True)
        await alice.wait_for("hold", on=True, by="local")
        mark = alice.mark()
        await alice.send(cmd="dtmf", digits="1")
        error = await alice.wait_for("error", since=mark)
        assert error["code"] == "dtmf-unavailable" and "hold" in error["message"], error
