"""The fast loss detector (softphone/rtc/media_watch.py) on a scripted transport (1.2).

Missed packets alone never declare a loss: jitter, a stall, a peer on hold
must not fail a call over. Only silence while packets are expected, confirmed
by an unanswered consent check (or the peer's restart offer), does.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, cast

from softphone.rtc.emitter import Emitter
from softphone.rtc.ice import IceTransport
from softphone.rtc.media_watch import MediaWatch
from softphone.rtc.states import ConnectionStates


@dataclass
class ScriptedTransport:
    """What the watch reads of an IceTransport: packet arrivals and consent checks."""

    path_alive: bool = True
    active: object | None = "gen"
    rx_packets: int = 0
    last_rx: float = 0.0
    rtt_ms: float | None = 1.0
    checks: int = 0

    def packet(self) -> None:
        self.rx_packets += 1
        self.last_rx = time.monotonic()

    async def consent_check(self) -> float | None:
        self.checks += 1
        if self.path_alive:
            await asyncio.sleep(0.001)
            return 1.0
        await asyncio.sleep(30)  # a silent path: no answer, no error
        return None


@dataclass
class Closed:
    closed: bool = False


@dataclass
class Watched:
    transport: ScriptedTransport
    watch: MediaWatch
    lost: list[dict[str, Any]] = field(default_factory=list)
    expects: list[bool] = field(default_factory=lambda: [True])


def watched(transport: ScriptedTransport) -> Watched:
    emitter = Emitter(frozenset({"medialoss"}))
    states = Closed()
    result: Watched
    watch = MediaWatch(
        cast(IceTransport, transport),
        cast(ConnectionStates, states),
        emitter,
        on_lost=lambda: None,
        healthy=lambda: True,
        expects_media=lambda: result.expects[0],
        busy=lambda: False,
        probe_after=0.2,
        probe_wait=0.3,
    )
    result = Watched(transport, watch)
    emitter.on("medialoss", result.lost.append)
    return result


async def send(transport: ScriptedTransport, seconds: float, every: float = 0.02) -> None:
    """Packets every ``every`` seconds for ``seconds``."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        transport.packet()
        await asyncio.sleep(every)


async def test_jitter_does_not_even_send_a_check() -> None:
    w = watched(ScriptedTransport())
    w.watch.start()
    for _ in range(5):
        await send(w.transport, 0.2)
        await asyncio.sleep(0.12)  # a 120 ms hole: 6 packets late
    assert w.transport.checks == 0 and w.lost == []


async def test_a_stall_on_a_live_path_is_no_loss() -> None:
    w = watched(ScriptedTransport(path_alive=True))
    w.watch.start()
    await send(w.transport, 0.2)
    await asyncio.sleep(1.2)  # the peer's packets stop, its path answers
    assert w.transport.checks >= 1 and w.lost == []


async def test_a_peer_on_hold_is_no_loss_even_on_a_dead_path() -> None:
    w = watched(ScriptedTransport(path_alive=False))
    w.expects[0] = False  # the peer's direction is inactive / recvonly: nothing expected
    w.watch.start()
    await send(w.transport, 0.2)
    await asyncio.sleep(1.0)
    w.watch.restart_offered()
    assert w.transport.checks == 0 and w.lost == []


async def test_silence_and_an_unanswered_check_are_a_loss() -> None:
    w = watched(ScriptedTransport(path_alive=False))
    w.watch.start()
    await send(w.transport, 0.2)
    start = time.monotonic()
    while not w.lost and time.monotonic() - start < 5:
        await asyncio.sleep(0.02)
    (lost,) = w.lost
    assert lost["confirmed_by"] == "consent"
    assert lost["silent_ms"] >= 200 + 300 - 50 and lost["packets_missed"] >= 20, lost


async def test_the_peers_restart_offer_into_the_silence_is_a_loss() -> None:
    w = watched(ScriptedTransport(path_alive=False))
    await send(w.transport, 0.1)
    w.watch.restart_offered()  # packets just arrived: not silent, no loss
    assert w.lost == []
    await asyncio.sleep(0.35)
    w.watch.restart_offered()
    assert [lost["confirmed_by"] for lost in w.lost] == ["peer-restart"]


async def test_the_negotiated_direction_says_whether_packets_are_expected() -> None:
    """A peer that only receives (recvonly, like one on hold) is expected to send nothing."""
    from softphone.rtc.configuration import Configuration
    from softphone.rtc.peer import PeerConnection
    from tests.rtc_probe import Signaling, ToneTrack, wait_for

    sender = PeerConnection(Configuration(), host_addresses=["127.0.0.1"])
    listener = PeerConnection(Configuration(), host_addresses=["127.0.0.1"])
    sender.addTrack(ToneTrack(440))  # the listener adds none: its side is recvonly
    try:
        await Signaling(sender, listener).start()
        await wait_for(
            lambda: sender.connectionState == listener.connectionState == "connected", 15
        )
        assert sender._expects_media() is False
        assert listener._expects_media() is True
    finally:
        await sender.close()
        await listener.close()
