"""The real device path: PortAudio through a virtual PulseAudio sound card.

A tone played into the virtual microphone (the null sink's monitor) goes
through ``--audio-in default`` and a real call, and is found in the other
side's recording. Without PortAudio the softphone says so once and the call
works with the fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.analysis import dominant_frequency, read_wav
from tests.harness import Headless, Server, connected_call
from tests.pulse import pulse_env, tone_wav, without_portaudio_prefix

pytestmark = [pytest.mark.e2e, pytest.mark.audio]


async def test_microphone_tone_reaches_the_other_side(
    server: Server, tmp_path: Path, pulse: dict[str, str]
) -> None:
    recording = tmp_path / "bob.wav"
    alice = await Headless.start(
        tmp_path, "alice", server.url, "--audio-in", "default", "--audio-out", "null", env=pulse
    )
    bob = await Headless.start(
        tmp_path, "bob", server.url, "--audio-in", "silence", "--audio-out", f"file:{recording}"
    )
    player: subprocess.Popen[bytes] | None = None
    try:
        await alice.wait_for("registered")
        await bob.wait_for("registered")
        await connected_call(alice, bob, "bob")
        assert alice.find("notice") is None, alice.events
        wav = tone_wav(tmp_path / "mic.wav", 523, 7.0, rate=48000)
        player = subprocess.Popen(["paplay", "--device=vsink", str(wav)], env=pulse)
        await asyncio.to_thread(player.wait, 60)  # the whole tone went into the microphone
        await bob.audio_flows()  # and what was captured last reached bob
        await alice.send(cmd="hangup")
        await bob.wait_for("call-state", state="ended")
    finally:
        if player is not None:
            with contextlib.suppress(ProcessLookupError):
                player.kill()
            player.wait(5)
        await alice.quit()
        await bob.quit()
    samples, rate = read_wav(recording)
    # The virtual card needs a moment before a new stream plays: keep the loud part.
    block = rate // 50
    loud = [
        i
        for i in range(0, samples.size - block, block)
        if np.abs(samples[i : i + block]).max() > 0.05
    ]
    assert loud, "the microphone tone never arrived"
    heard = samples[loud[0] : loud[-1] + block]
    assert heard.size / rate >= 2.0, f"only {heard.size / rate:.2f} s of tone arrived"
    assert abs(dominant_frequency(heard, rate) - 523) <= 5


async def test_without_portaudio_a_notice_and_a_working_call(
    server: Server, tmp_path: Path
) -> None:
    alice = await Headless.start(
        tmp_path,
        "alice",
        server.url,
        "--audio-in",
        "default",
        "--audio-out",
        "default",
        prefix=without_portaudio_prefix(),
        env=pulse_env(tmp_path / "no-sound"),
    )
    try:
        await alice.wait_for("registered")
        await alice.send(cmd="call", to="echo")
        await alice.wait_for("connection-state", 30, state="connected")
        notices = [e["message"] for e in alice.events if e["event"] == "notice"]
        assert len(notices) == 2, notices
        assert all("PortAudio library not found" in n for n in notices)
        assert any("--audio-in" in n for n in notices) and any("--audio-out" in n for n in notices)
        await alice.audio_flows()
        assert (await alice.stats())["packets_sent"] > 0
        await alice.send(cmd="hangup")
        await alice.wait_for("call-state", state="ended")
    finally:
        assert await alice.quit() == 0
