"""Hold and DTMF between Debian's Chromium (the web client) and a headless softphone (issue 13).

The browser holds the way browsers do, by setting its transceiver's
direction to ``inactive`` and renegotiating; the softphone reports the hold
and both sides stop hearing each other until the browser resumes. The
softphone holds the browser the same way from its side. Chromium's
``RTCDTMFSender.insertDTMF`` digits reach the softphone as ``dtmf`` events,
in order; the softphone's telephone-event packets are accepted by Chromium
as part of the audio stream (same SSRC, no sequence gap: no packet counted
lost) and both descriptions carry ``telephone-event/48000``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser

from tests.browser import WebPhone, launch_chromium
from tests.harness import Headless, Server

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

SOFTPHONE = ("--audio-in", "tone:440", "--audio-out", "null")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Browser]:
    async with launch_chromium(tmp_path_factory.mktemp("chromium")) as chromium:
        yield chromium


@pytest_asyncio.fixture(loop_scope="module")
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    proc = await Server.start(tmp_path)
    yield proc
    await proc.stop()


async def frames(party: Headless) -> int:
    return int((await party.stats())["audio_frames_received"])


async def browser_packets(phone: WebPhone) -> int:
    return int((await phone.stats())["packetsReceived"])


async def assert_nothing_flows(softphone: Headless, phone: WebPhone) -> None:
    """Neither side receives audio for a second (a few packets in flight at first pass)."""
    await asyncio.sleep(0.3)
    soft, web = await frames(softphone), await browser_packets(phone)
    await asyncio.sleep(1.0)
    assert await frames(softphone) - soft <= 2, "the softphone still hears the browser"
    assert await browser_packets(phone) - web <= 2, "the browser still hears the softphone"


async def assert_both_flow(softphone: Headless, phone: WebPhone) -> None:
    web = await browser_packets(phone)
    await softphone.audio_flows(25)
    await phone.wait_until(
        "(n) => window.softphone.stats().then((s) => s.packetsReceived >= n)",
        web + 25,
        what="the browser receives audio again",
    )


async def test_browser_holds_softphone_and_dtmf_goes_both_ways(
    server: Server, browser: Browser, tmp_path: Path
) -> None:
    bob = await Headless.start(tmp_path, "bob", server.url, *SOFTPHONE)
    alice = await WebPhone.open(browser, server.url, "alice")
    try:
        await bob.wait_for("registered")
        await alice.wait_until("() => window.softphone.online.includes('bob')", what="bob online")
        call_id = await alice.call("bob")
        await bob.wait_for("incoming")
        await bob.send(cmd="answer")
        await alice.wait_connected()
        await bob.wait_for("connection-state", state="connected")
        await assert_both_flow(bob, alice)

        # The browser holds by a direction change; the softphone answers inactive.
        mark = bob.mark()
        await alice.js("() => window.softphone.hold(true)")
        held = await bob.wait_for("hold", since=mark, on=True)
        assert held["by"] == "remote" and held["call"] == call_id
        await alice.wait_until(
            "() => window.softphone.pc.getTransceivers()[0].currentDirection === 'inactive'",
            what="the browser's hold negotiated",
        )
        await assert_nothing_flows(bob, alice)
        await alice.js("() => window.softphone.hold(false)")
        await bob.wait_for("hold", since=mark, on=False, by="remote")
        await assert_both_flow(bob, alice)

        # Chromium's RTCDTMFSender -> the softphone's dtmf events, in order.
        mark = bob.mark()
        await alice.js("() => window.softphone.dtmf('1234567890*#ABCD', 100)")
        await bob.wait_for("dtmf", since=mark, digit="D", timeout=30)
        digits = [e["digit"] for e in bob.events[mark:] if e["event"] == "dtmf"]
        assert "".join(digits) == "1234567890*#ABCD"
        assert all(e["duration_ms"] == 100 for e in bob.events[mark:] if e["event"] == "dtmf")

        # The softphone's telephone-events: Chromium negotiated the codec and takes the
        # packets into the stream without a gap (a bad sequence number would count as lost).
        sdp = await alice.js(
            "() => [window.softphone.pc.currentLocalDescription.sdp,"
            " window.softphone.pc.currentRemoteDescription.sdp]"
        )
        assert all("telephone-event/48000" in text for text in sdp), sdp[1]
        assert "telephone-event/8000" not in sdp[1], sdp[1]  # the answer keeps one
        before = await alice.stats()
        mark = bob.mark()
        await bob.send(cmd="dtmf", digits="5#", duration_ms=1000)
        await bob.wait_for("dtmf-sent", since=mark, digit="#", timeout=20)
        await assert_both_flow(bob, alice)
        after = await alice.stats()
        assert after["packetsLost"] == before["packetsLost"], (before, after)
        assert after["packetsReceived"] - before["packetsReceived"] >= 100, (before, after)
        assert [e for e in bob.events if e["event"] == "error"] == []
        assert alice.page_errors == []
    finally:
        await alice.close()
        await bob.quit()


async def test_softphone_holds_the_browser(
    server: Server, browser: Browser, tmp_path: Path
) -> None:
    alice = await Headless.start(tmp_path, "alice", server.url, *SOFTPHONE)
    bob = await WebPhone.open(browser, server.url, "bob")
    try:
        await alice.wait_for("registered")
        await alice.send(cmd="call", to="bob")
        await bob.wait_event("incoming")
        await bob.answer()
        await alice.wait_for("connection-state", state="connected")
        await bob.wait_connected()
        await assert_both_flow(alice, bob)

        mark = await bob.mark()
        await alice.send(cmd="hold", on=True)
        await alice.wait_for("hold", on=True, by="local")
        await bob.wait_event("hold", since=mark, on=True, by="remote")
        await assert_nothing_flows(alice, bob)
        dtls = await bob.js("() => window.softphone.pc.getTransceivers()[0].sender.transport.state")
        assert dtls == "connected"

        await alice.send(cmd="hold", on=False)
        await alice.wait_for("hold", on=False, by="local")
        await bob.wait_event("hold", since=mark, on=False, by="remote")
        await assert_both_flow(alice, bob)
        states = [e["state"] for e in alice.events if e["event"] == "connection-state"]
        assert states.count("connected") == 1, states
        assert [e for e in alice.events if e["event"] == "error"] == []
        assert bob.page_errors == []
    finally:
        await bob.close()
        await alice.quit()
