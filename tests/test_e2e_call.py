"""A real call between real processes: ``softphone serve`` and ``softphone --headless``.

Issue 2, "what must be shown" 1-3: a tone crosses a real Opus/DTLS-SRTP call
on loopback and is found in the other side's recording; the echo user sends
it back; every way a call can end is seen by both sides.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from tests.analysis import dominant_frequency, read_wav
from tests.harness import Headless, Server, connected_call

pytestmark = pytest.mark.e2e


def assert_tone(path: Path, hz: float, min_seconds: float = 2.0) -> None:
    samples, rate = read_wav(path)
    seconds = len(samples) / rate
    assert seconds >= min_seconds, f"{path.name}: only {seconds:.2f} s recorded"
    # Skip the first half second: the jitter buffer and codec settle there.
    steady = samples[rate // 2 :]
    found = dominant_frequency(steady, rate)
    assert abs(found - hz) <= 5, f"{path.name}: dominant frequency {found:.1f} Hz, expected {hz}"


async def test_tone_crosses_a_call_and_both_see_it_end(server: Server, tmp_path: Path) -> None:
    recording = tmp_path / "bob.wav"
    alice = await Headless.start(
        tmp_path, "alice", server.url, "--audio-in", "tone:440", "--audio-out", "null"
    )
    bob = await Headless.start(
        tmp_path, "bob", server.url, "--audio-in", "silence", "--audio-out", f"file:{recording}"
    )
    try:
        await alice.wait_for("registered")
        await bob.wait_for("registered")
        call_id = await connected_call(alice, bob, "bob")
        await alice.wait_for("call-state", call=call_id, state="active")
        pair = await bob.wait_for("selected-pair")
        assert pair["local"]["address"].startswith("127.")
        await bob.audio_flows(150)  # 3 s of audio in the recording
        assert (await bob.stats())["selected_pair"] is not None
        await alice.send(cmd="hangup")
        await alice.wait_for("call-state", call=call_id, state="ended")
        ended = await bob.wait_for("call-state", call=call_id, state="ended")
        assert ended.get("reason") == "hangup"
    finally:
        assert await alice.quit() == 0
        assert await bob.quit() == 0
    assert_tone(recording, 440)


async def test_echo_user_returns_the_callers_audio(server: Server, tmp_path: Path) -> None:
    recording = tmp_path / "alice.wav"
    alice = await Headless.start(
        tmp_path, "alice", server.url, "--audio-in", "tone:660", "--audio-out", f"file:{recording}"
    )
    try:
        registered = await alice.wait_for("registered")
        assert "echo" in registered["online"]
        await alice.send(cmd="call", to="echo")
        await alice.wait_for("connection-state", 30, state="connected")
        await alice.audio_flows(175)  # 3.5 s of the echo in the recording
        await alice.send(cmd="hangup")
        await alice.wait_for("call-state", state="ended")
    finally:
        await alice.quit()
    assert_tone(recording, 660)


async def test_decline_busy_unavailable_and_cancel(server: Server, tmp_path: Path) -> None:
    args = ("--audio-in", "silence", "--audio-out", "null")
    alice = await Headless.start(tmp_path, "alice", server.url, *args)
    # (1.2) bob takes one call at a time: a second caller gets busy (the default is 2).
    one_call = tmp_path / "one-call.toml"
    one_call.write_text("max_calls = 1\n", encoding="utf-8")
    bob = await Headless.start(tmp_path, "bob", server.url, *args, "--config", str(one_call))
    carol = await Headless.start(tmp_path, "carol", server.url, *args)
    try:
        for party in (alice, bob, carol):
            await party.wait_for("registered")

        # declined
        await alice.send(cmd="call", to="bob")
        incoming = await bob.wait_for("incoming")
        assert incoming["from"] == "alice"
        await alice.wait_for("call-state", state="ringing")
        await bob.send(cmd="decline")
        ended = await alice.wait_for("call-state", state="ended", call=incoming["call"])
        assert ended["reason"] == "declined"
        await bob.wait_for("call-state", state="ended", call=incoming["call"])

        # busy: bob is ringing for carol when alice calls
        mark_a, mark_b = alice.mark(), bob.mark()
        await carol.send(cmd="call", to="bob")
        first = await bob.wait_for("incoming", since=mark_b)
        await alice.send(cmd="call", to="bob")
        busy = await alice.wait_for("call-state", since=mark_a, state="ended")
        assert busy["reason"] == "busy"
        assert bob.find("call-state", since=mark_b, state="ended", call=first["call"]) is None

        # hangup before answer: carol gives up while bob's phone rings
        await carol.send(cmd="hangup")
        cancelled = await bob.wait_for(
            "call-state", since=mark_b, state="ended", call=first["call"]
        )
        assert cancelled["reason"] == "hangup"

        # unavailable
        mark_a = alice.mark()
        await alice.send(cmd="call", to="nobody")
        gone = await alice.wait_for("call-state", since=mark_a, state="ended")
        assert gone["reason"] == "unavailable"
    finally:
        for party in (alice, bob, carol):
            assert await party.quit() == 0


async def test_party_killed_mid_call_ends_with_gone(server: Server, tmp_path: Path) -> None:
    args = ("--audio-in", "tone", "--audio-out", "null")
    alice = await Headless.start(tmp_path, "alice", server.url, *args)
    bob = await Headless.start(tmp_path, "bob", server.url, *args)
    try:
        await alice.wait_for("registered")
        await bob.wait_for("registered")
        call_id = await connected_call(alice, bob, "bob")
        bob.kill()
        ended = await alice.wait_for("call-state", timeout=5, call=call_id, state="ended")
        assert ended["reason"] == "gone"
    finally:
        await alice.quit()
        await bob.stop()


async def test_mute_silences_the_microphone_and_unmute_restores_it(
    server: Server, tmp_path: Path
) -> None:
    from tests.analysis import rms

    recording = tmp_path / "bob.wav"
    alice = await Headless.start(
        tmp_path, "alice", server.url, "--audio-in", "tone:440", "--audio-out", "null"
    )
    bob = await Headless.start(
        tmp_path, "bob", server.url, "--audio-in", "silence", "--audio-out", f"file:{recording}"
    )
    try:
        await alice.wait_for("registered")
        await bob.wait_for("registered")
        await connected_call(alice, bob, "bob")
        await asyncio.sleep(1.5)
        await alice.send(cmd="mute", on=True)
        await alice.wait_for("mute", on=True)
        await asyncio.sleep(1.5)
        await alice.send(cmd="mute", on=False)
        await alice.wait_for("mute", on=False)
        await asyncio.sleep(1.5)
        await alice.send(cmd="hangup")
        await bob.wait_for("call-state", state="ended")
    finally:
        await alice.quit()
        await bob.quit()
    samples, rate = read_wav(recording)
    block = rate // 10
    levels = [rms(samples[i : i + block]) for i in range(0, samples.size - block, block)]
    loud = [level > 0.05 for level in levels]
    # loud, then a quiet stretch of at least a second, then loud again
    first_quiet = loud.index(False, loud.index(True))
    back = loud.index(True, first_quiet)
    assert back - first_quiet >= 10, levels
    assert any(loud[back:]), levels


async def test_no_configuration_starts_an_embedded_server_with_echo(tmp_path: Path) -> None:
    """docs/protocol.md section 3: with no config and no --server, calling echo just works."""
    from tests.harness import SOFTPHONE

    proc = await asyncio.create_subprocess_exec(
        *SOFTPHONE, "--headless", "--user", "newcomer", "--audio-in", "tone",
        "--audio-out", "null", "--ice-host", "127.0.0.1",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "SOFTPHONE_CONFIG": str(tmp_path / "absent.toml")},
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    seen: list[dict[str, object]] = []

    async def until(event: str, **fields: object) -> dict[str, object]:
        assert proc.stdout is not None
        while True:
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            assert line, f"process ended; saw {seen}"
            record = json.loads(line)
            seen.append(record)
            if record["event"] == event and all(record.get(k) == v for k, v in fields.items()):
                return record

    registered = await until("registered")
    assert registered["online"] == ["echo"]
    proc.stdin.write(b'{"cmd":"call","to":"echo"}\n')
    await until("connection-state", state="connected")
    proc.stdin.write(b'{"cmd":"quit"}\n')
    await proc.stdin.drain()
    await until("call-state", state="ended")
    assert await asyncio.wait_for(proc.wait(), 20) == 0
