"""Two calls to one headless softphone, as real processes: --auto-answer, call ids, switch."""

from __future__ import annotations

from pathlib import Path

from tests.harness import Server, parties
from tests.rtc_probe import wait_for

QUIET = ("--audio-in", "tone:440", "--audio-out", "null")


async def test_two_calls_to_one_headless_softphone(server: Server, tmp_path: Path) -> None:
    async with parties(
        tmp_path, server.url, alice=(*QUIET, "--auto-answer"), bob=QUIET, carol=QUIET
    ) as (alice, bob, carol):
        await bob.send(cmd="call", to="alice")
        first = (await alice.wait_for("incoming"))["call"]
        await alice.wait_for("call-state", call=first, state="active")  # answered by itself
        await bob.wait_for("connection-state", 30, state="connected")

        mark = alice.mark()
        await carol.send(cmd="call", to="alice")
        second = (await alice.wait_for("incoming", since=mark))["call"]
        held = await alice.wait_for("active-call", since=mark)
        assert held["call"] == second and held["held"] == [first]
        await carol.wait_for("connection-state", 30, state="connected")

        mark = alice.mark()
        await alice.send(cmd="switch", call=first)
        back = await alice.wait_for("active-call", since=mark)
        assert back["call"] == first and back["held"] == [second]

        mark = alice.mark()
        await alice.send(cmd="stats", call=second)
        assert (await alice.wait_for("stats", since=mark))["call"] == second
        await alice.send(cmd="hangup", call="c0ffee")
        error = await alice.wait_for("error", since=mark)
        assert error["code"] == "unknown-call" and '"c0ffee"' in error["message"]

        mark_b = bob.mark()
        await alice.send(cmd="hangup", call=second)  # the held call ends; bob's goes on
        await carol.wait_for("call-state", state="ended")
        await bob.audio_flows(25)
        assert bob.find("call-state", since=mark_b, state="ended") is None

        await alice.send(cmd="dnd", on=True)
        await alice.wait_for("dnd", on=True)
        mark, mark_c = alice.mark(), carol.mark()
        await carol.send(cmd="call", to="alice")
        missed = await alice.wait_for("missed", since=mark)
        assert missed["from"] == "carol" and missed["reason"] == "busy"
        ended = await carol.wait_for("call-state", since=mark_c, state="ended", reason="busy")
        assert ended["call"] == missed["call"]
        await alice.send(cmd="hangup")
        await bob.wait_for("call-state", since=mark_b, state="ended")


async def test_a_device_switch_moves_the_active_call_and_the_held_one_on_resume(
    server: Server, tmp_path: Path
) -> None:
    async with parties(
        tmp_path, server.url, alice=(*QUIET, "--auto-answer"), bob=QUIET, carol=QUIET
    ) as (alice, bob, carol):
        await bob.send(cmd="call", to="alice")
        first = (await alice.wait_for("incoming"))["call"]
        await bob.wait_for("connection-state", 30, state="connected")
        mark = alice.mark()
        await carol.send(cmd="call", to="alice")
        second = (await alice.wait_for("incoming", since=mark))["call"]
        await carol.wait_for("connection-state", 30, state="connected")

        mark = alice.mark()
        await alice.send(cmd="device", kind="input", name="tone:880")
        moved = await alice.wait_for("audio-device", since=mark)
        assert moved["call"] == second and moved["device"] == "tone 880 Hz"
        await alice.send(cmd="stats", call=first)
        await alice.wait_for("stats", since=mark, call=first)
        changed = [e for e in alice.events[mark:] if e["event"] == "audio-device"]
        assert [e["call"] for e in changed] == [second]  # the held call kept its tone

        mark = alice.mark()
        await alice.send(cmd="switch", call=first)
        followed = await alice.wait_for("audio-device", since=mark)
        assert followed["call"] == first and followed["device"] == "tone 880 Hz"
        assert alice.find("error", since=mark) is None
        await bob.audio_flows(25)


async def test_answering_a_second_call_really_holds_the_first(
    server: Server, tmp_path: Path
) -> None:
    """(1.2) The call table's hold is the real one: the first call's peer gets ``hold``
    (by remote) and stops hearing the tone; ``switch`` back resumes it, and ``hold``
    with a ``call`` resumes the other one by switching to it."""
    from tests.test_e2e_hold_dtmf import assert_silent_for, frames_received

    async with parties(
        tmp_path, server.url, alice=(*QUIET, "--auto-answer"), bob=QUIET, carol=QUIET
    ) as (alice, bob, carol):
        await bob.send(cmd="call", to="alice")
        first = (await alice.wait_for("incoming"))["call"]
        await bob.wait_for("connection-state", 30, state="connected")
        await bob.audio_flows(25)

        mark, mark_b = alice.mark(), bob.mark()
        await carol.send(cmd="call", to="alice")  # answered at once: bob's call is held
        second = (await alice.wait_for("incoming", since=mark))["call"]
        await alice.wait_for("active-call", since=mark, call=second, held=[first])
        await bob.wait_for("hold", 15, since=mark_b, call=first, on=True, by="remote")
        await alice.wait_for("hold", since=mark, call=first, on=True, by="local")
        await assert_silent_for(bob, 1.0)
        await carol.audio_flows(25)
        mark_c = carol.mark()
        await alice.send(cmd="dtmf", digits="7", call=second)
        await carol.wait_for("dtmf", since=mark_c, digit="7")

        mark, mark_b, mark_c = alice.mark(), bob.mark(), carol.mark()
        await alice.send(cmd="switch")  # back to bob: carol is held, bob resumed
        await alice.wait_for("active-call", since=mark, call=first, held=[second])
        await bob.wait_for("hold", 15, since=mark_b, on=False, by="remote")
        await carol.wait_for("hold", 15, since=mark_c, on=True, by="remote")
        heard = await frames_received(bob)

        async def bob_hears_again() -> bool:
            # Decoded frames, not packets: they come back through the jitter
            # buffer, a few packets behind under load.
            return await frames_received(bob) >= heard + 50

        await wait_for(bob_hears_again, 30, interval=0.05)

        mark = alice.mark()
        await alice.send(cmd="hold", on=True, call="c0ffee")
        error = await alice.wait_for("error", since=mark)
        assert error["code"] == "unknown-call" and '"c0ffee"' in error["message"], error
        mark, mark_c = alice.mark(), carol.mark()
        await alice.send(cmd="hold", on=False, call=second)  # resume carol: a switch to her
        await alice.wait_for("active-call", since=mark, call=second, held=[first])
        await carol.wait_for("hold", 15, since=mark_c, on=False, by="remote")
        # (1.2) Each call's peer-connection events say whose they are.
        connected = {
            e["call"]
            for e in alice.events
            if e["event"] == "connection-state" and e["state"] == "connected"
        }
        assert connected == {first, second}, connected
        for party in (alice, bob, carol):
            assert party.find("media-lost", since=0) is None, party.events
        await alice.send(cmd="hangup", call=first)
        await alice.send(cmd="hangup", call=second)
        await bob.wait_for("call-state", state="ended")
        await carol.wait_for("call-state", state="ended")
