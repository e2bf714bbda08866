"""Choosing sound devices: ``softphone devices``, devices by name or index, switching mid-call,
and a device that disappears mid-call (its PulseAudio null sink unloaded).

Every test gets its own PulseAudio server (the ``pulse`` fixture), so
unloading its only sink disturbs nobody else. PortAudio reaches PulseAudio
through ALSA, so the devices PortAudio lists are ALSA's ``pulse`` and
``default``; both play into the null sink.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import Headless, Server
from tests.rtc_probe import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.audio]


def _softphone(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "softphone", *args],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_devices_lists_what_portaudio_offers(pulse: dict[str, str]) -> None:
    table = _softphone(pulse, "devices")
    assert table.returncode == 0, table.stderr
    assert "pulse (ALSA)" in table.stdout and "--audio-in NAME|INDEX" in table.stdout
    listed = _softphone(pulse, "devices", "--json")
    devices = [json.loads(line) for line in listed.stdout.splitlines()]
    names = {d["name"] for d in devices}
    assert {"pulse", "default"} <= names
    assert sum(d["default_output"] for d in devices) == 1
    assert all(d["inputs"] > 0 and d["outputs"] > 0 for d in devices if d["name"] == "pulse")


def test_an_unknown_device_is_refused_at_start_listing_the_devices(
    pulse: dict[str, str], tmp_path: Path
) -> None:
    done = _softphone(
        pulse, "--headless", "--server", "ws://127.0.0.1:9/ws", "--audio-out", "no-such-speaker"
    )
    assert done.returncode == 2
    assert "--audio-out" in done.stderr and "'no-such-speaker'" in done.stderr
    assert "0 'pulse'" in done.stderr, done.stderr
    by_index = _softphone(
        pulse, "--headless", "--server", "ws://127.0.0.1:9/ws", "--audio-in", "99"
    )
    assert by_index.returncode == 2 and "no input device '99'" in by_index.stderr


async def _keeps_sending(alice: Headless, packets: int = 25) -> None:
    """Return once ``packets`` more packets were sent than now: the source still feeds the call."""
    target = int((await alice.stats())["packets_sent"]) + packets

    async def sent() -> bool:
        return int((await alice.stats())["packets_sent"]) >= target

    await wait_for(sent, 10, interval=0.1)


async def _echo_call(alice: Headless) -> None:
    await alice.wait_for("registered")
    await alice.send(cmd="call", to="echo")
    await alice.wait_for("connection-state", 30, state="connected")
    await alice.audio_flows()


async def test_switching_microphone_and_speaker_mid_call_renegotiates_nothing(
    server: Server, tmp_path: Path, pulse: dict[str, str]
) -> None:
    alice = await Headless.start(
        tmp_path, "alice", server.url, "--audio-in", "1", "--audio-out", "default", env=pulse
    )
    try:
        await _echo_call(alice)
        mark = alice.mark()
        await alice.send(cmd="device", kind="output", name="pulse")
        changed = await alice.wait_for("audio-device", since=mark, kind="output")
        assert changed["reason"] == "switched" and changed["device"] == "speaker: pulse"
        await alice.send(cmd="device", kind="input", name="0")
        changed = await alice.wait_for("audio-device", since=mark, kind="input")
        assert changed["device"] == "microphone: pulse" and changed["call"]
        await _keeps_sending(alice)
        await alice.audio_flows()
        renegotiated = [
            e["event"]
            for e in alice.events[mark:]
            if e["event"] in ("offer-sent", "negotiationneeded", "ice-restart", "signaling-state")
        ]
        assert renegotiated == []
        assert alice.find("error", since=mark) is None, alice.events[mark:]
        # A bad name is refused with the list, and the call goes on.
        refused_at = alice.mark()
        await alice.send(cmd="device", kind="output", name="nope")
        error = await alice.wait_for("error", since=refused_at)
        assert error["code"] == "bad-audio" and "'pulse'" in error["message"]
        await alice.audio_flows()
    finally:
        await alice.quit()


def _unload_null_sink(env: dict[str, str]) -> None:
    modules = subprocess.run(
        ["pactl", "list", "short", "modules"], env=env, capture_output=True, text=True, check=True
    ).stdout
    index = next(line.split()[0] for line in modules.splitlines() if "module-null-sink" in line)
    subprocess.run(["pactl", "unload-module", index], env=env, check=True, timeout=10)


async def test_a_device_that_disappears_mid_call_falls_back_with_one_notice(
    server: Server, tmp_path: Path, pulse: dict[str, str]
) -> None:
    alice = await Headless.start(
        tmp_path, "alice", server.url, "--audio-in", "default", "--audio-out", "default", env=pulse
    )
    try:
        await _echo_call(alice)
        assert alice.find("notice") is None, alice.events
        mark = alice.mark()
        _unload_null_sink(pulse)  # the only sink, and with it its monitor, the microphone
        lost_in = await alice.wait_for("audio-device", since=mark, kind="input", reason="lost")
        lost_out = await alice.wait_for("audio-device", since=mark, kind="output", reason="lost")
        assert lost_in["device"].startswith("silence") and lost_out["device"].startswith("null")
        await alice.audio_flows()  # the call goes on
        await _keeps_sending(alice)
        notices = [e["message"] for e in alice.events[mark:] if e["event"] == "notice"]
        assert len(notices) == 2, notices
        assert any("microphone" in n and "sending silence" in n for n in notices)
        assert any("speaker" in n and "discarding" in n for n in notices)
        assert alice.find("call-state", since=mark, state="ended") is None
    finally:
        await alice.quit()
