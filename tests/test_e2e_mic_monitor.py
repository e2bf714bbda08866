"""Headless and a real (PulseAudio) microphone: the input is monitored only when asked,
a call takes the device over with one capture stream, never two, and quit releases it."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from tests.harness import Headless, Server, connected_call
from tests.rtc_probe import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.audio]


def capture_streams(env: dict[str, str]) -> int:
    """How many clients record from the PulseAudio server now (its source outputs)."""
    done = subprocess.run(
        ["pactl", "list", "short", "source-outputs"],
        env=env,
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    return len(done.stdout.splitlines())


async def streams(env: dict[str, str]) -> int:
    return await asyncio.to_thread(capture_streams, env)


async def test_monitor_then_call_then_quit_keeps_one_capture_stream(
    server: Server, tmp_path: Path, pulse: dict[str, str]
) -> None:
    alice = await Headless.start(
        tmp_path, "alice", server.url, "--audio-in", "default", "--audio-out", "null", env=pulse
    )
    bob = await Headless.start(
        tmp_path, "bob", server.url, "--audio-in", "silence", "--audio-out", "null"
    )
    try:
        await alice.wait_for("registered")
        await bob.wait_for("registered")
        assert await streams(pulse) == 0  # headless does not monitor unless asked
        await alice.send(cmd="monitor", on=True)
        await wait_for(lambda: streams(pulse), 10)
        assert await streams(pulse) == 1
        await connected_call(alice, bob, "bob")
        assert await streams(pulse) == 1  # the call's own, the monitor released
        await alice.send(cmd="hangup")
        await bob.wait_for("call-state", state="ended")
        await alice.wait_for("call-state", state="ended")
        # the monitor is back after the call (the call's stream closed first: never two)
        await wait_for(lambda: asyncio.to_thread(lambda: capture_streams(pulse) == 1), 10)
        assert alice.find("notice") is None, alice.events
        assert alice.find("error") is None, alice.events
    finally:
        assert await alice.quit() == 0
        await bob.quit()
    await wait_for(lambda: asyncio.to_thread(lambda: capture_streams(pulse) == 0), 10)
