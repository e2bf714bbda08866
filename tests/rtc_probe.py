"""In-process call helpers for tests and the bench: a tone track, a frame recorder, signaling.

They measure what a listener would notice during an ICE restart: the longest
gap between received audio frames, and RTP packets lost. They use only the
rtc layer (not softphone.media), so an rtc failure cannot hide behind a media one.
"""

from __future__ import annotations

import asyncio
import fractions
import inspect
import itertools
import math
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame

from softphone.descriptions import Candidate, Description
from softphone.rtc.peer import PeerConnection
from tests.gaps import assert_gap_within

SAMPLE_RATE = 48000
FRAME_SAMPLES = 960  # 20 ms
QUIET_FRAMES = 50  # a window at rest, to compare a switch's window with (1 s)
SETTLE_FRAMES = 25  # frames heard after a switch before its window closes


class ToneTrack(MediaStreamTrack):
    """A sine tone paced in real time, 20 ms s16 mono frames."""

    kind = "audio"

    def __init__(self, hz: float = 440.0) -> None:
        super().__init__()
        self._hz = hz
        self._pts = 0
        self._start: float | None = None

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        wait = self._start + self._pts / SAMPLE_RATE - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        t = (np.arange(FRAME_SAMPLES) + self._pts) / SAMPLE_RATE
        samples = (0.3 * 32767 * np.sin(2 * math.pi * self._hz * t)).astype(np.int16)
        frame = AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, SAMPLE_RATE)
        self._pts += FRAME_SAMPLES
        return frame


@dataclass
class FrameRecorder:
    """Consumes a received track; records arrival times to find gaps."""

    arrivals: list[float] = field(default_factory=list)
    timestamps: list[int] = field(default_factory=list)  # RTP timestamps (the frames' pts)
    task: asyncio.Future[None] | None = None

    def start(self, track: MediaStreamTrack) -> None:
        self.task = asyncio.ensure_future(self._run(track))

    async def _run(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                self.arrivals.append(time.monotonic())
                self.timestamps.append(int(frame.pts or 0))
        except (MediaStreamError, asyncio.CancelledError):
            return

    def _within(self, since: float | None, until: float | None) -> list[int]:
        return [
            i
            for i, t in enumerate(self.arrivals)
            if (since is None or t >= since) and (until is None or t <= until)
        ]

    def max_gap_ms(self, since: float | None = None, until: float | None = None) -> float:
        """Longest interval between consecutive frames within [since, until]."""
        times = [self.arrivals[i] for i in self._within(since, until)]
        if len(times) < 2:
            return float("inf")
        return max(b - a for a, b in itertools.pairwise(times)) * 1000

    def frames_missing(self, since: float | None = None, until: float | None = None) -> int:
        """Frames the sender sent but this side never got, within [since, until].

        Consecutive frames are 960 RTP timestamp units apart (20 ms at 48 kHz);
        a larger step is a frame lost on the way or dropped by the receiver.
        """
        stamps = [self.timestamps[i] for i in self._within(since, until)]
        return sum(
            max(0, ((b - a) % 2**32) // FRAME_SAMPLES - 1) for a, b in itertools.pairwise(stamps)
        )

    async def quiet_gap_ms(self, frames: int) -> float:
        """The longest gap over the next ``frames`` frames (call it while nothing happens)."""
        start = time.monotonic()
        await self.wait_frames(frames)
        return self.max_gap_ms(start, time.monotonic())

    async def wait_frames(self, count: int, timeout: float = 10.0) -> None:
        target = len(self.arrivals) + count
        try:
            await wait_for(lambda: len(self.arrivals) >= target, timeout)
        except TimeoutError:
            raise TimeoutError(f"only {len(self.arrivals)} of {target} frames arrived") from None

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()


class Signaling:
    """Perfect negotiation between two in-process PeerConnections (caller impolite).

    Mirrors what the session manager does over WebSocket: on negotiationneeded
    send an offer; on an offer, the impolite side ignores it during a
    collision, the polite side rolls back and answers. ``delay`` simulates the
    signaling path.
    """

    def __init__(self, caller: PeerConnection, callee: PeerConnection, delay: float = 0.0) -> None:
        self.peers = {"caller": caller, "callee": callee}
        self.delay = delay
        self.making_offer = {"caller": False, "callee": False}
        self.ignored_offers = {"caller": 0, "callee": 0}
        self.negotiations = 0
        self.errors: list[BaseException] = []
        self._tasks: set[asyncio.Future[None]] = set()
        for side, pc in self.peers.items():
            pc.on("negotiationneeded", lambda side=side: self._spawn(self._negotiate(side)))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def other(self, side: str) -> str:
        return "callee" if side == "caller" else "caller"

    async def _negotiate(self, side: str) -> None:
        pc = self.peers[side]
        try:
            self.making_offer[side] = True
            await pc.setLocalDescription()
            offer = pc.localDescription
        except BaseException as exc:
            self.errors.append(exc)
            return
        finally:
            self.making_offer[side] = False
        assert offer is not None
        await self._deliver(self.other(side), offer)

    async def _deliver(self, side: str, description: Description) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        pc = self.peers[side]
        polite = side == "callee"
        try:
            if description.type == "offer":
                collision = self.making_offer[side] or pc.signalingState != "stable"
                if collision and not polite:
                    self.ignored_offers[side] += 1
                    return
                await pc.setRemoteDescription(description)  # implicit rollback when polite
                await pc.setLocalDescription()
                answer = pc.localDescription
                assert answer is not None
                self._spawn(self._deliver(self.other(side), answer))
            else:
                await pc.setRemoteDescription(description)
                self.negotiations += 1
        except BaseException as exc:
            self.errors.append(exc)

    async def start(self) -> None:
        """The first offer, from the caller."""
        await self._negotiate("caller")

    async def trickle(self, side: str, candidate: Candidate | None) -> None:
        await self.peers[side].addIceCandidate(candidate)


async def wait_for(
    predicate: Callable[[], object], timeout: float = 10.0, interval: float = 0.01
) -> None:
    """Poll ``predicate()`` (awaited if it returns an awaitable, e.g. a stats request)
    until true; raise TimeoutError with a readable message."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)


LOOPBACK = ["127.0.0.1"]


class TwoPeers:
    """Two PeerConnections in a call over in-process signaling, each sending a tone.

    Records what each side hears, its connection states (with times), every
    icerestart event and how often negotiationneeded fired.
    """

    def __init__(self, caller: PeerConnection, callee: PeerConnection) -> None:
        self.caller, self.callee = caller, callee
        self.heard = {"caller": FrameRecorder(), "callee": FrameRecorder()}
        self.events: dict[str, list[tuple[str, dict[str, Any]]]] = {"caller": [], "callee": []}
        self.negotiationneeded = {"caller": 0, "callee": 0}
        self.states: dict[str, list[tuple[float, str]]] = {"caller": [], "callee": []}
        for side, pc in self.sides():
            pc.addTrack(ToneTrack(440 if side == "caller" else 660))
            pc.on("track", self.heard[side].start)
            pc.on("icerestart", lambda phase, detail, s=side: self._event(s, phase, detail))
            pc.on("negotiationneeded", lambda s=side: self._count(s))
            pc.on(
                "connectionstatechange",
                lambda state, s=side: self.states[s].append((time.monotonic(), state)),
            )
        self.signaling = Signaling(self.caller, self.callee)

    @classmethod
    def with_configuration(cls, config: Any, **kwargs: Any) -> TwoPeers:
        """Both sides with the same configuration, host candidates on 127.0.0.1."""
        return cls(
            PeerConnection(config, host_addresses=LOOPBACK, **kwargs),
            PeerConnection(config, host_addresses=LOOPBACK, **kwargs),
        )

    def _event(self, side: str, phase: str, detail: dict[str, Any]) -> None:
        self.events[side].append((phase, detail))

    def _count(self, side: str) -> None:
        self.negotiationneeded[side] += 1

    def sides(self) -> list[tuple[str, PeerConnection]]:
        return [("caller", self.caller), ("callee", self.callee)]

    def state_names(self, side: str) -> list[str]:
        return [state for _, state in self.states[side]]

    async def connect(self) -> None:
        await self.signaling.start()
        await wait_for(
            lambda: self.caller.connectionState == self.callee.connectionState == "connected", 15
        )
        for recorder in self.heard.values():
            await recorder.wait_frames(10)
        assert not self.signaling.errors

    async def quiet_gaps(self, frames: int = QUIET_FRAMES) -> dict[str, float]:
        """The longest gap each side hears over ``frames`` frames with nothing going on.

        The yardstick for :meth:`assert_smooth`: the same call, the same load.
        """
        gaps = await asyncio.gather(*(r.quiet_gap_ms(frames) for r in self.heard.values()))
        return dict(zip(self.heard, gaps, strict=True))

    async def settled_after(self, frames: int = SETTLE_FRAMES) -> float:
        """Wait until both sides heard ``frames`` more frames; returns the time then."""
        for recorder in self.heard.values():
            await recorder.wait_frames(frames)
        return time.monotonic()

    async def quiet_gaps_as_long_as(self, since: float, until: float) -> dict[str, float]:
        """:meth:`quiet_gaps` over a window as long as [since, until] (at least the usual).

        For a window of several seconds (a restart that fails, then is retried),
        measured after it: a longer window meets more of the machine's hiccups.
        """
        frames = round((until - since) * SAMPLE_RATE / FRAME_SAMPLES)
        return await self.quiet_gaps(max(QUIET_FRAMES, frames))

    def assert_smooth(self, since: float, until: float, quiet: dict[str, float]) -> None:
        """Across [since, until] neither side missed a frame nor heard an unusual gap."""
        for side, recorder in self.heard.items():
            assert recorder.frames_missing(since, until) == 0, f"{side} missed frames"
            assert_gap_within(recorder.max_gap_ms(since, until), quiet[side], side)

    async def packets_lost(self) -> int:
        return sum([(await pc.getStats()).packets_lost for _, pc in self.sides()])

    def phases(self, side: str) -> list[str]:
        return [phase for phase, _ in self.events[side]]

    async def close(self) -> None:
        for recorder in self.heard.values():
            recorder.stop()
        await asyncio.gather(self.caller.close(), self.callee.close())
